import CgroupFreezer
import ContainerRuntimes

/// How `pause` or `unpause` runs over many targets.
public struct BatchOptions: Sendable {
    /// Freeze (pause) or thaw (unpause).
    public enum Operation: Sendable { case freeze, thaw }

    /// What to do.
    public var operation: Operation
    /// The deadline per target.
    public var timeout: Duration
    /// How many targets are worked on at once (docker's default is 50 too).
    public var parallel: Int
    /// On any failure, undo what this call changed (thaw what it froze, or refreeze what it thawed).
    public var atomic: Bool
    /// Write the cgroup of engine-managed containers instead of asking the engine.
    public var direct: Bool
    /// Where each item's record goes as soon as that item is done (and its rollback or refreeze).
    public var audit: AuditTrail?
    /// The deep pause (docs/deep-pause.md): after a confirmed freeze, push the target's memory out
    /// (`pause --reclaim`); a thaw ignores it.
    public var reclaim = false
    /// Before a thaw, bring the target's swapped memory back (`unpause --prefetch`); a freeze
    /// ignores it.
    public var prefetch = false

    /// Options with the CLI's defaults.
    public init(operation: Operation, timeout: Duration = CgroupFreezer.defaultTimeout, parallel: Int = 50,
                atomic: Bool = false, direct: Bool = false, audit: AuditTrail? = nil) {
        self.operation = operation
        self.timeout = timeout
        self.parallel = parallel
        self.atomic = atomic
        self.direct = direct
        self.audit = audit
    }
}

extension BatchOptions.Operation {
    /// The audit action: `pause` or `unpause`.
    public var action: AuditRecord.Action { self == .freeze ? .pause : .unpause }
    /// What routes are resolved for.
    public var purpose: Purpose { self == .freeze ? .pause : .unpause }
    /// The operation that undoes this one.
    var inverse: Self { self == .freeze ? .thaw : .freeze }
}

extension BatchOptions {
    /// Whether each item's memory is worked on: reclaimed after a freeze, prefetched before a thaw.
    package var advisesMemory: Bool { operation == .freeze ? reclaim : prefetch }
}

/// The outcome of one item of a batch.
public struct BatchResult: Sendable {
    /// How the item ended.
    public enum Outcome: String, Sendable {
        /// Changed, and the kernel confirmed it.
        case ok
        /// Already in the requested state; nothing written.
        case already
        /// Failed; see `error`.
        case error
        /// Changed, then undone because another item of an `--atomic` batch failed.
        case rolledBack = "rolled-back"
    }

    /// The target as given (or `source:shortid`).
    public var reference: String
    /// The container, when the target is one (its engine state as this call left it).
    public var container: Container?
    /// The route it took, when it resolved.
    public var route: Route?
    /// How it ended.
    public var outcome: Outcome
    /// The effective state afterwards, when known.
    public var state: FreezeState?
    /// How long it took.
    public var duration: Duration
    /// Why it failed.
    public var error: (any FreezectlError)?
    /// Things the user should know although it worked (e.g. an engine's view is now stale).
    public var warnings: [String] = []
    /// The health check after the thaw, when one was asked for.
    public var health: HealthReport?
    /// Frozen again because it was unhealthy (`--on-unhealthy refreeze`).
    public var refrozen = false
    /// What the reclaim after the freeze, or the prefetch before the thaw, did (when asked).
    public var memory: MemoryReport?
    /// Who changed (or would have changed) the state; nil when it did not resolve. A unit that
    /// systemd cannot freeze here is written directly: then its cgroup's backend.
    public var backend: Backend?

    /// The cgroup acted on (or read for the state), when there is one.
    public var cgroup: FreezerTarget? { route?.cgroup }

    init(_ item: Resolution) {
        reference = item.reference
        container = item.resolved?.container
        route = item.resolved?.route
        outcome = .error
        duration = .zero
        warnings = item.resolved?.warnings ?? []
        backend = route?.backend
    }

    /// The audit record of this item's operation (`message`: instead of the error's, e.g. why it was a rollback).
    public func auditRecord(action: AuditRecord.Action, message: String? = nil) -> AuditRecord {
        AuditRecord(action: action, target: reference, cgroup: cgroup?.cgroup.path.string, backend: backend,
                    result: outcome == .error ? .error : outcome == .already ? .already : .ok,
                    message: message ?? error?.message, duration: duration)
    }
}

extension BatchResult {
    /// The item again, for a rollback or refreeze along the same route.
    package var resolution: Resolution {
        guard let route else { return Resolution(reference: reference, failure: error ?? CgroupLayout.Error.invalidTarget(reference, reason: "unresolved")) }
        return Resolution(ResolvedTarget(reference: reference, container: container, route: route))
    }
}
