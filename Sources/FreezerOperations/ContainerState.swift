import CgroupFreezer
import ContainerRuntimes

/// What a container's cgroup says, for status, filters and drift. Read-only: a container that
/// stopped meanwhile (its cgroup gone) has no freezer state, which is an answer, not an error.
enum ContainerState {
    /// The container's cgroup, or nil when it has none or it is gone.
    static func cgroup(of container: Container, freezer: CgroupFreezer) -> FreezerTarget? {
        guard let spec = container.cgroup else { return nil }
        // Gone between the listing and now: the container stopped; nil says it has no state.
        return try? freezer.target(for: spec)
    }

    /// The freezer status of the container's cgroup, or nil (see `cgroup(of:freezer:)`).
    static func freezerStatus(of container: Container, freezer: CgroupFreezer) -> FreezerStatus? {
        status(of: cgroup(of: container, freezer: freezer), freezer: freezer)
    }

    /// The status of a cgroup read to report it, or nil when there is none or it is gone (its
    /// processes exited and it was removed): then there is no state to show, and nothing to undo.
    static func status(of target: FreezerTarget?, freezer: CgroupFreezer) -> FreezerStatus? {
        guard let target else { return nil }
        return try? freezer.status(target)
    }

    /// Paused as the cgroup says (frozen, frozen by a parent, or freezing); the engine's word
    /// when there is no cgroup.
    static func isPaused(_ container: Container, freezer: CgroupFreezer) -> Bool {
        guard let state = freezerStatus(of: container, freezer: freezer)?.state else { return container.engineState == .paused }
        return state != .thawed
    }

    /// The container's memory usage against its limit, in percent, over its whole cgroup.
    static func memoryPercent(of container: Container, freezer: CgroupFreezer) -> Double? {
        let cgroup = cgroup(of: container, freezer: freezer)
        // An engine's container listed by its cgroup's name has no PID: any of its processes is in
        // its memory cgroup too.
        guard let pid = container.pid ?? cgroup.flatMap({ freezer.processes(of: $0).first }) else { return nil }
        return ContainerMemory.percent(pid: pid, layout: freezer.layout, container: cgroup?.cgroup)
    }
}
