import CommandSyntax
import FreezectlReports
import CgroupFreezer
import ContainerRuntimes
import FreezerOperations
import SystemPackage
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

/// A TARGET argument, one or many, with every form in its help (from the library's one table).
package func targetArguments(_ lead: String, many: Bool) -> ArgumentSpec {
    ArgumentSpec(value: "target", help: "\(lead): \(TargetSpec.formList).", many: many)
}

/// Parses TARGET arguments; a malformed one is a usage error (exit 2) before anything is done.
package func parseTarget(_ text: String) throws -> TargetSpec {
    do {
        return try TargetSpec(parsing: text)
    } catch {
        throw UsageError(error.withNextStep)
    }
}

/// Where containers are looked for: the runtimes' state directories (and the engines' sockets
/// from the environment). Nothing is read until a container target or selection asks.
package struct SourceOptions: Sendable {
    package static let spec = OptionGroupSpec([
        .option("runtime-root", value: "dir", repeatable: true, "runc/crun state directory to search instead of /run/runc and /run/crun (e.g. /run/docker/runtime-runc/moby). Repeatable. One its group or anyone may write is refused; a state a user could have written names only that user's cgroups."),
    ])

    package var runtimeRoots: [String] = []

    package init(_ line: ParsedLine) { runtimeRoots = line.values("runtime-root") }

    /// The resolver, or exit 1 with the reason (no cgroup mounted, mountinfo unreadable).
    /// `listingAhead`: the command lists every source (`--all`, `--filter`), so the engines are
    /// asked for their containers before the layout is read (ContainerCatalog.listingAhead).
    package func resolverOrExit(_ common: CommonOptions, side: (any EngineSide)?, listingAhead: Bool = false) throws -> Resolver {
        do {
            return try resolver(common, side: side, listingAhead: listingAhead)
        } catch {
            Output.error(error.withNextStep)
            throw ExitCode(ExitStatus.failure)
        }
    }

    /// The resolver over this host's layout and these sources: the kernel-side sources alone in
    /// freezectl (`side` nil), with the engines' clients in freezectl-engines.
    package func resolver(_ common: CommonOptions, side: (any EngineSide)?, listingAhead: Bool = false) throws -> Resolver {
        let roots = runtimeRoots.map { FilePath($0) }
        var catalog = side?.catalog(runtimeRoots: roots, environment: ProcessInfo.processInfo.environment)
            ?? ContainerCatalog(runtimeRoots: roots)
        if listingAhead { catalog = catalog.listingAhead() }
        return Resolver(freezer: try CgroupFreezer(logger: common.makeLogger()), catalog: catalog)
    }
}

/// What pause, unpause and status act on: TARGETs, `--all`, `--filter`, and where containers are found.
package struct TargetArguments: Sendable {
    /// The options (the TARGETs are the command's arguments: `targetArguments`).
    package static let spec = OptionGroupSpec([
        .flag("all", short: "a", "Every running or paused container of every source that is present (\(ContainerSources.names); pod sandboxes left out)."),
        .option("filter", short: "f", value: "key=value", repeatable: true, "Select containers: label=KEY, label=KEY=VALUE, status=running|paused, runtime=\(ContainerSources.names(separator: "|")), name=NAME, id=PREFIX, memory-below=PCT, memory-above=PCT. Repeatable; label filters must all match, others of one key match if any does. Without targets, filters select from all containers."),
        .option("namespace", value: "ns", repeatable: true, "containerd namespace to search (e.g. k8s.io) instead of all but Docker's (moby). Repeatable."),
    ])

    package var targets: [TargetSpec] = []
    package var all = false
    package var filters: [String] = []
    package var namespaces: [String] = []
    package var sources: SourceOptions

    /// The TARGETs and options of `line`, validated (a malformed target or filter: exit 2).
    package init(_ line: ParsedLine) throws {
        targets = try line.arguments.map(parseTarget)
        all = line.flag("all")
        filters = line.values("filter")
        namespaces = line.values("namespace")
        sources = SourceOptions(line)
        _ = try selection()
    }

    /// The selection; a malformed filter is a usage error (exit 2) naming the valid keys.
    package func selection() throws -> TargetSelection {
        do {
            return try TargetSelection(targets: targets, all: all, filter: try ContainerFilter(parsing: filters), namespaces: namespaces)
        } catch {
            throw UsageError(error.withNextStep)
        }
    }

    /// The targets and whether containers are selected, for the choice of executable.
    package var needs: CommandNeeds {
        var needs = CommandNeeds()
        needs.targets = targets
        needs.selects = selectsContainers
        return needs
    }

    /// Whether containers are picked from the sources (an empty result is then fine).
    package var selectsContainers: Bool { all || !filters.isEmpty }

    /// For commands that must act on something.
    package func requireSome() throws {
        if targets.isEmpty && !selectsContainers {
            throw UsageError("Missing expected argument '<target> ...': give targets, --all, or --filter")
        }
    }
}
