import CgroupFreezer
import ContainerRuntimes

/// What the freezer, and the engine or systemd where one keeps its own view, say about one target.
public struct TargetStatus: Sendable {
    /// The target as given (or `source:shortid`).
    public var reference: String
    /// The container, when the target is one.
    public var container: Container?
    /// The freezer status of its cgroup; nil when it has none (a container that is not running).
    public var freezer: FreezerStatus?
    /// A container's memory usage against its limit (or MemTotal), in percent.
    public var memoryPercent: Double?
    /// The resident and swapped bytes of its processes (their Pss and SwapPss), when its
    /// freezer status was read: a deep-paused target shows what it gave back.
    public var resident: UInt64?
    public var swapped: UInt64?
    /// freezectld's idle controller holds it frozen (`shown(idle:)`).
    public var idleFreeze: IdleFreeze?
    /// The engine's or systemd's own view, in its words: Docker's `State`, systemd's `FreezerState`.
    public var engineState: String?
    /// The engine says paused and the cgroup not, or the other way round (containers only).
    public var drift: Bool?
    /// Why the status could not be read.
    public var error: (any FreezectlError)?

    /// Paused as the cgroup says: frozen, frozen by a parent, or freezing; the engine's word
    /// when there is no cgroup.
    public var isPaused: Bool {
        guard let state = freezer?.state else { return container?.engineState == .paused }
        return state != .thawed
    }

    init(reference: String, container: Container? = nil, freezer: FreezerStatus?) {
        self.reference = reference
        self.container = container
        self.freezer = freezer
    }

    /// The status with the resident and swapped memory of the processes its freezer status lists,
    /// and the idle freeze among `idle` that holds its cgroup: read only where a status is shown
    /// (a smaps_rollup read per process), not where a caller only asks whether a target is paused.
    public func shown(idle: [IdleFreeze] = []) -> TargetStatus {
        guard let freezer else { return self }
        var status = self
        (status.resident, status.swapped) = CgroupFreezer.memoryUsage(of: freezer.processes)
        if freezer.state != .thawed, let cgroup = freezer.target.cgroup.identity {
            status.idleFreeze = idle.first { $0.cgroup == cgroup }
        }
        return status
    }
}

extension Resolver {
    /// The status of every item of `selection`, in order, with their memory and idle freezes.
    public func status(_ selection: TargetSelection, idle: [IdleFreeze] = IdleFreeze.read()) async -> [TargetStatus] {
        await resolve(selection, for: .inspect).map { status($0).shown(idle: idle) }
    }

    /// The status of one resolved item.
    public func status(_ item: Resolution) -> TargetStatus {
        guard let resolved = item.resolved else {
            var status = TargetStatus(reference: item.reference, freezer: nil)
            status.error = item.failure
            return status
        }
        if let container = resolved.container {
            // A container's cgroup may be gone (it stopped meanwhile): no freezer state, not an error.
            var status = TargetStatus(reference: item.reference, container: container, freezer: ContainerState.status(of: resolved.cgroup, freezer: freezer))
            status.memoryPercent = ContainerState.memoryPercent(of: container, freezer: freezer)
            if let engineState = container.engineState {
                status.engineState = engineState.rawValue
                if let state = status.freezer?.state { status.drift = (engineState == .paused) != (state != .thawed) }
                else { status.drift = false }
            }
            return status
        }
        var status = TargetStatus(reference: item.reference, freezer: nil)
        do {
            if let cgroup = resolved.cgroup { status = TargetStatus(reference: item.reference, freezer: try freezer.status(cgroup)) }
        } catch {
            status.error = error
        }
        if case .systemd(let unit, _) = resolved.route {
            // systemd's own view, beside the cgroup's. Shown when systemd answers; the cgroup's
            // state is the truth either way.
            status.engineState = try? SystemdManager().freezerState(unit)
        }
        return status
    }

    /// Every cgroup of the v1 freezer and the v2 hierarchy that is frozen or freezing at its own
    /// request (descendants frozen only by such a cgroup are left out); `shown(idle:)` adds
    /// their memory where they are shown.
    public func frozenCgroups() -> [TargetStatus] {
        freezer.frozenCgroups().map { TargetStatus(reference: $0.target.spec.description, freezer: $0) }
    }
}
