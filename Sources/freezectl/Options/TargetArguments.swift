import FreezectlReports
import ArgumentParser
import CgroupFreezer
import ContainerEngines
import ContainerRuntimes
import FreezerOperations
import Foundation
import SystemPackage

/// The help of a TARGET argument: every form, from the library's one table.
func targetHelp(_ lead: String) -> ArgumentHelp {
    ArgumentHelp("\(lead): \(TargetSpec.formList).", valueName: "target")
}

/// Parses TARGET arguments; a malformed one is a usage error (exit 2) before anything is done.
func parseTarget(_ text: String) throws -> TargetSpec {
    do {
        return try TargetSpec(parsing: text)
    } catch {
        throw ValidationError(error.withNextStep)
    }
}

/// Where containers are looked for: the runtimes' state directories (and the engines' sockets
/// from the environment). Nothing is read until a container target or selection asks.
struct SourceOptions: ParsableArguments {
    @Option(name: .customLong("runtime-root"), help: ArgumentHelp(
        "runc/crun state directory to search instead of /run/runc and /run/crun (e.g. /run/docker/runtime-runc/moby). Repeatable.",
        valueName: "dir"))
    var runtimeRoots: [String] = []

    /// The resolver, or exit 1 with the reason (no cgroup mounted, mountinfo unreadable).
    func resolverOrExit(_ common: CommonOptions) throws -> Resolver {
        do {
            return try resolver(common)
        } catch {
            Output.error(error.withNextStep)
            throw ExitCode(ExitStatus.failure)
        }
    }

    /// The resolver over this host's layout and these sources.
    func resolver(_ common: CommonOptions) throws -> Resolver {
        let catalog = ContainerCatalog(runtimeRoots: runtimeRoots.map { FilePath($0) }, environment: ProcessInfo.processInfo.environment)
        return Resolver(freezer: try CgroupFreezer(logger: common.makeLogger()), catalog: catalog)
    }
}

/// What pause, unpause and status act on: TARGETs, `--all`, `--filter`, and where containers are found.
struct TargetArguments: ParsableArguments {
    @Argument(help: targetHelp("Targets"), transform: parseTarget)
    var targets: [TargetSpec] = []

    @Flag(name: [.short, .long], help: "Every running or paused container of every source that is present (runc, crun, Docker, podman, containerd; pod sandboxes left out).")
    var all = false

    @Option(name: [.short, .customLong("filter")], help: ArgumentHelp(
        "Select containers: label=KEY, label=KEY=VALUE, status=running|paused, runtime=runc|crun|docker|podman|containerd, name=NAME, id=PREFIX, memory-below=PCT, memory-above=PCT. Repeatable; label filters must all match, others of one key match if any does. Without targets, filters select from all containers.",
        valueName: "key=value"))
    var filters: [String] = []

    @Option(name: .customLong("namespace"), help: ArgumentHelp(
        "containerd namespace to search (e.g. k8s.io) instead of all but Docker's (moby). Repeatable.",
        valueName: "ns"))
    var namespaces: [String] = []

    @OptionGroup var sources: SourceOptions

    /// The selection; a malformed filter is a usage error (exit 2) naming the valid keys.
    func selection() throws -> TargetSelection {
        do {
            return try TargetSelection(targets: targets, all: all, filter: try ContainerFilter(parsing: filters), namespaces: namespaces)
        } catch {
            throw ValidationError(error.withNextStep)
        }
    }

    func validate() throws { _ = try selection() }

    /// Whether containers are picked from the sources (an empty result is then fine).
    var selectsContainers: Bool { all || !filters.isEmpty }

    /// For commands that must act on something.
    func requireSome() throws {
        if targets.isEmpty && !selectsContainers {
            throw ValidationError("Missing expected argument '<target> ...': give targets, --all, or --filter")
        }
    }
}
