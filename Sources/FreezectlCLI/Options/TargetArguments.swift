import FreezectlReports
import ArgumentParser
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

/// The help of a TARGET argument: every form, from the library's one table.
package func targetHelp(_ lead: String) -> ArgumentHelp {
    ArgumentHelp("\(lead): \(TargetSpec.formList).", valueName: "target")
}

/// Parses TARGET arguments; a malformed one is a usage error (exit 2) before anything is done.
package func parseTarget(_ text: String) throws -> TargetSpec {
    do {
        return try TargetSpec(parsing: text)
    } catch {
        throw ValidationError(error.withNextStep)
    }
}

/// Where containers are looked for: the runtimes' state directories (and the engines' sockets
/// from the environment). Nothing is read until a container target or selection asks.
package struct SourceOptions: ParsableArguments {
    package init() {}

    @Option(name: .customLong("runtime-root"), help: ArgumentHelp(
        "runc/crun state directory to search instead of /run/runc and /run/crun (e.g. /run/docker/runtime-runc/moby). Repeatable. One its group or anyone may write is refused; a state a user could have written names only that user's cgroups.",
        valueName: "dir"))
    package var runtimeRoots: [String] = []

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
package struct TargetArguments: ParsableArguments {
    package init() {}

    @Argument(help: targetHelp("Targets"), transform: parseTarget)
    package var targets: [TargetSpec] = []

    @Flag(name: [.short, .long], help: ArgumentHelp("Every running or paused container of every source that is present (\(ContainerSources.names); pod sandboxes left out)."))
    package var all = false

    @Option(name: [.short, .customLong("filter")], help: ArgumentHelp(
        "Select containers: label=KEY, label=KEY=VALUE, status=running|paused, runtime=\(ContainerSources.names(separator: "|")), name=NAME, id=PREFIX, memory-below=PCT, memory-above=PCT. Repeatable; label filters must all match, others of one key match if any does. Without targets, filters select from all containers.",
        valueName: "key=value"))
    package var filters: [String] = []

    @Option(name: .customLong("namespace"), help: ArgumentHelp(
        "containerd namespace to search (e.g. k8s.io) instead of all but Docker's (moby). Repeatable.",
        valueName: "ns"))
    package var namespaces: [String] = []

    @OptionGroup package var sources: SourceOptions

    /// The selection; a malformed filter is a usage error (exit 2) naming the valid keys.
    package func selection() throws -> TargetSelection {
        do {
            return try TargetSelection(targets: targets, all: all, filter: try ContainerFilter(parsing: filters), namespaces: namespaces)
        } catch {
            throw ValidationError(error.withNextStep)
        }
    }

    package func validate() throws { _ = try selection() }

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
            throw ValidationError("Missing expected argument '<target> ...': give targets, --all, or --filter")
        }
    }
}
