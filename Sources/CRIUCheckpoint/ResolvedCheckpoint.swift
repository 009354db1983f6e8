import CgroupFreezer
import ContainerEngines
import ContainerRuntimes
import FreezerOperations
import HealthProbes
import SystemPackage
import Synchronization

/// The checkpoint, restore and tree check of a target named the way every command names one:
/// resolved by the one resolver (an engine's container only with `direct`), audited, and
/// health-checked after the thaw.
extension Resolver {
    /// Checkpoints `spec` (see `CgroupFreezer.checkpoint`): the tree's root is `options.rootPID`,
    /// else the container's init, else the cgroup's one root process. Writes a `checkpoint`
    /// audit record (and `repair-tree` when processes were moved), then, when the tree runs on
    /// and was not paused before, runs `options.health`.
    public func checkpoint(
        _ spec: TargetSpec, options: CheckpointOptions,
        interrupted: @escaping @Sendable () -> Bool = { false },
        progress: @escaping @Sendable (CheckpointEvent) -> Void = { _ in }
    ) async throws -> CheckpointReport {
        let audited = AuditedSteps(action: .checkpoint, target: spec.description, trail: options.audit, forward: progress)
        let (resolved, root, wasPaused) = try await audited.record { () async throws -> (ResolvedTarget, Int32, Bool) in
            let resolved = try await resolve(spec, for: .checkpoint, direct: options.direct)
            guard case .kernel(let target) = resolved.route else {
                throw CgroupLayout.Error.invalidTarget(spec.description, reason: "CRIU needs its cgroup, which this route does not give")
            }
            audited.resolved(target)
            var options = options
            options.rootPID = options.rootPID ?? resolved.container?.pid
            let wasPaused = try freezer.status(target).state != .thawed
            let root = try await freezer.checkpoint(target, options: options, interrupted: interrupted, progress: audited.progress)
            return (resolved, root, wasPaused)
        }
        var report = CheckpointReport(root: root)
        if options.leaveRunning && !wasPaused, let health = options.health {
            report.health = try await probe(health, target: spec.description, cgroup: resolved.cgroup, pid: root, progress: progress)
        }
        return report
    }

    /// Restores with `options` into the cgroup `spec` names (when given; resolved for
    /// `.checkpoint`), writes a `restore` audit record (and `repair-tree` when processes were
    /// placed), reports a `done` step, then runs `options.health` unless the tree stays paused.
    public func restore(
        into spec: TargetSpec?, direct: Bool = false, options: RestoreOptions,
        progress: @escaping @Sendable (CheckpointEvent) -> Void = { _ in }
    ) async throws -> CheckpointReport {
        let audited = AuditedSteps(action: .restore, target: spec?.description ?? options.imagesDir.string, trail: options.audit, forward: progress)
        let (root, cgroup) = try await audited.record { () async throws -> (Int32, FreezerTarget?) in
            var options = options
            if let spec {
                guard case .kernel(let target) = try await resolve(spec, for: .checkpoint, direct: direct).route else {
                    throw CgroupLayout.Error.invalidTarget(spec.description, reason: "a restore needs a cgroup to place the tree in")
                }
                options.cgroup = target
                audited.resolved(target)
            }
            return (try await freezer.restore(options: options, progress: audited.progress), options.cgroup)
        }
        progress(CheckpointEvent(step: .done, status: .ok, detail: "root PID \(root)"))
        var report = CheckpointReport(root: root)
        if !options.paused, let health = options.health {
            report.health = try await probe(health, target: spec?.description ?? "pid:\(root)", cgroup: cgroup, pid: root, progress: progress)
        }
        return report
    }

    /// The health check after a checkpoint's or restore's thaw, reported as a `health` step.
    private func probe(_ check: HealthCheckOptions, target: String, cgroup: FreezerTarget?, pid: Int32,
                       progress: @Sendable (CheckpointEvent) -> Void) async throws -> HealthReport {
        let result = try await check.probe.waitUntilHealthy(
            policy: check.policy, context: ProbeContext(target: target, cgroup: cgroup?.cgroup.path.string, pid: pid))
        progress(CheckpointEvent(step: .health, status: result.healthy ? .ok : .failed,
                                 detail: "\(result.healthy ? "healthy" : "unhealthy") after \(result.attempts) probe(s): \(result.last?.output ?? "")"))
        return result
    }

    /// The tree check of `checkpoint` on its own: every descendant of `root` (default: the
    /// cgroup's one root process) must be inside the target's cgroup;
    /// with `repair` the strays are moved in, and a `repair-tree` record is written.
    public func verifyTree(_ spec: TargetSpec, root: Int32?, repair: Bool, audit: AuditTrail?) async throws -> TreeCheck {
        let resolved = try await resolve(spec, for: .inspect)
        guard let target = resolved.cgroup else { throw ContainerCatalog.Error.containerNotRunning(spec.description) }
        let root = if let root { root } else { try freezer.treeRoot(of: target) }
        let clock = ContinuousClock()
        let start = clock.now
        let (tree, strays, remaining) = try freezer.verifyTree(root: root, in: target, repair: repair)
        if repair && !strays.isEmpty {
            audit?.record(AuditRecord(action: .repairTree, target: spec.description, cgroup: target.cgroup.path.string,
                                      backend: Backend(target.backend), result: remaining.isEmpty ? .ok : .error,
                                      message: "moved \(strays.map(\.pid)) into the cgroup" + (remaining.isEmpty ? "" : "; still outside: \(remaining.map(\.pid))"),
                                      duration: start.duration(to: clock.now)))
        }
        return TreeCheck(target: target, tree: tree, strays: strays, remaining: remaining, repaired: repair && !strays.isEmpty)
    }
}

/// What `verifyTree` found.
public struct TreeCheck: Sendable {
    /// The cgroup the tree was checked against.
    public var target: FreezerTarget
    /// The tree as read.
    public var tree: ProcessTree
    /// Its members outside the cgroup (moved in, when `repaired`).
    public var strays: [ProcessTree.Member]
    /// Its running members outside the cgroup now: the strays, or after a repair those it could
    /// not bring in.
    public var remaining: [ProcessTree.Member]
    /// Whether strays were moved into the cgroup.
    public var repaired: Bool
}

/// The audit records of a checkpoint or restore: one for the operation, from resolution to the
/// end (whether it succeeds or throws), and one `repair-tree` per step that moved processes.
final class AuditedSteps: Sendable {
    private let action: AuditRecord.Action
    private let target: String
    private let trail: AuditTrail?
    private let forward: @Sendable (CheckpointEvent) -> Void
    private let cgroup = Mutex<FreezerTarget?>(nil)
    private let start = ContinuousClock.now

    init(action: AuditRecord.Action, target: String, trail: AuditTrail?, forward: @escaping @Sendable (CheckpointEvent) -> Void) {
        self.action = action
        self.target = target
        self.trail = trail
        self.forward = forward
    }

    /// The cgroup the records name, once resolved.
    func resolved(_ target: FreezerTarget) {
        cgroup.withLock { $0 = target }
    }

    /// Forwards each step and records those that moved processes.
    var progress: @Sendable (CheckpointEvent) -> Void {
        { [self] event in
            forward(event)
            if let moved = event.moved, !moved.isEmpty, event.status == .ok {
                record(.repairTree, result: .ok, message: event.detail, duration: .zero)
            }
        }
    }

    /// Runs the operation and records it, whether it succeeds or throws.
    func record<T>(_ operation: () async throws -> T) async throws -> T {
        do {
            let value = try await operation()
            record(action, result: .ok, message: nil, duration: start.duration(to: .now))
            return value
        } catch {
            record(action, result: .error, message: error.freezectlMessage, duration: start.duration(to: .now))
            throw error
        }
    }

    private func record(_ action: AuditRecord.Action, result: AuditRecord.Outcome, message: String?, duration: Duration) {
        let target = cgroup.withLock { $0 }
        trail?.record(AuditRecord(action: action, target: self.target, cgroup: target?.cgroup.path.string,
                                  backend: target.map { Backend($0.backend) }, result: result, message: message, duration: duration))
    }
}
