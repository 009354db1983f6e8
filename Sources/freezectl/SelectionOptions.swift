import ContainerEngines
import HealthProbes
import FreezerOperations
import CRIUCheckpoint
import ArgumentParser
import CgroupFreezer
import Foundation
import SystemPackage

/// Which containers to act on besides the named targets.
struct SelectionOptions: ParsableArguments {
    @Flag(name: [.short, .long], help: "Every running or paused container of every source that is present (runc, crun, Docker).")
    var all = false

    @Option(name: [.short, .customLong("filter")], help: ArgumentHelp(
        "Select containers: label=KEY, label=KEY=VALUE, status=running|paused, runtime=runc|crun|docker, name=NAME, id=PREFIX, memory-below=PCT, memory-above=PCT. Repeatable; label filters must all match, others of one key match if any does. Without targets, filters select from all containers.",
        valueName: "key=value"))
    var filters: [String] = []

    @Option(name: .customLong("runtime-root"), help: ArgumentHelp(
        "runc/crun state directory to search instead of /run/runc and /run/crun (e.g. /run/docker/runtime-runc/moby). Repeatable.",
        valueName: "dir"))
    var runtimeRoots: [String] = []

    /// Parses the filters; a malformed one is a usage error (exit 2) naming the valid keys.
    func containerFilter() throws -> ContainerFilter {
        do {
            return try ContainerFilter(parsing: filters)
        } catch {
            throw ValidationError(error.description)
        }
    }

    /// The container sources; nothing is read until a container target or selection asks.
    func catalog() -> ContainerCatalog {
        ContainerCatalog(runtimeRoots: runtimeRoots.map { FilePath($0) }, environment: ProcessInfo.processInfo.environment)
    }

    func validate() throws { _ = try containerFilter() }

    /// Whether the command selects containers by `--all` or filters (an empty result is then fine).
    var selectsContainers: Bool { all || !filters.isEmpty }

    func validate(targets: [TargetSpec]) throws {
        if targets.isEmpty && !selectsContainers {
            throw ValidationError("Missing expected argument '<target> ...': give targets, --all, or --filter")
        }
    }
}

/// Options of batch operations.
struct BatchFlags: ParsableArguments {
    @Flag(name: .long, help: "Write the cgroup of Docker (or engine-owned runc) containers instead of asking the engine. Faster, and works with the daemon down, but the engine's view becomes stale.")
    var direct = false

    /// The most targets worked on at once: each holds a descriptor or a connection.
    static let maximumParallel = 1000

    @Option(name: .long, help: ArgumentHelp("How many targets to work on at once, 1 to 1000. (default: 50)", valueName: "n"))
    var parallel = 50

    @Flag(name: .long, help: "If any target fails, undo what this call changed (thaw what it paused, or refreeze what it unpaused), then exit 1.")
    var atomic = false

    func validate() throws {
        guard (1...Self.maximumParallel).contains(parallel) else {
            throw ValidationError("--parallel must be from 1 to \(Self.maximumParallel), got \(parallel)")
        }
    }
}
