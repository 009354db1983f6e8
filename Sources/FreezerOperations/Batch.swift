import CgroupFreezer
import ContainerEngines
import HealthProbes

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
    /// A health check for every item that ends thawed (unpause only).
    public var health: HealthCheckOptions?

    /// Options with the CLI's defaults.
    public init(operation: Operation, timeout: Duration = CgroupFreezer.defaultTimeout, parallel: Int = 50,
                atomic: Bool = false, direct: Bool = false, audit: AuditTrail? = nil, health: HealthCheckOptions? = nil) {
        self.operation = operation
        self.timeout = timeout
        self.parallel = parallel
        self.atomic = atomic
        self.direct = direct
        self.audit = audit
        self.health = health
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

extension Resolver {
    /// Resolves `selection` and pauses or unpauses every item, at most `options.parallel` at once;
    /// results are in item order. Each item's audit record is written as soon as it is done.
    /// With `options.health`, every item that ends thawed is probed (`checkHealth`).
    ///
    /// Cancellation (the CLI cancels on SIGINT, SIGTERM, SIGHUP): a freeze in progress is thawed by
    /// the backend, items not yet started are reported `interrupted` without being touched, and with
    /// `atomic` what was changed is undone; that rollback runs to its end despite the cancellation.
    public func run(_ selection: TargetSelection, options: BatchOptions, progress: HealthProgress = .none) async -> [BatchResult] {
        let items = await resolve(selection, for: options.operation.purpose, direct: options.direct)
        var results = await run(items, options: options)
        if let health = options.health, options.operation == .thaw, !Task.isCancelled {
            results = await checkHealth(results, options: health, batch: options, progress: progress)
        }
        return results
    }

    /// Pauses or unpauses resolved items (see `run(_:options:progress:)`).
    public func run(_ items: [Resolution], options: BatchOptions) async -> [BatchResult] {
        var results = await boundedMap(items, parallel: options.parallel) { item in
            let result = await self.perform(item, operation: options.operation, timeout: options.timeout)
            options.audit?.record(result.auditRecord(action: options.operation.action))
            return result
        }
        guard options.atomic && results.contains(where: { $0.outcome == .error }) else { return results }
        let undo = options.operation.inverse
        let changed = results.indices.filter { results[$0].outcome == .ok }
        let changedItems = changed.map { results[$0].resolution }
        // The rollback runs to its end whatever cancels the caller: it is what keeps the promise.
        let undone = await uncancelled {
            await self.boundedMap(changedItems, parallel: options.parallel) { item in
                await self.perform(item, operation: undo, timeout: options.timeout)
            }
        }
        for (index, rollback) in zip(changed, undone) {
            let message: String
            if rollback.outcome == .error {
                message = "rollback failed: \(rollback.error?.message ?? "unknown error")"
                results[index].warnings.append(message)
            } else {
                message = "rolled back (--atomic)"
                results[index].outcome = .rolledBack
            }
            results[index].state = rollback.state
            options.audit?.record(rollback.auditRecord(action: undo.action, message: message))
        }
        return results
    }

    /// `body` over `items`, at most `parallel` at once, results in item order.
    func boundedMap<Item: Sendable>(_ items: [Item], parallel: Int,
                                    _ body: @escaping @Sendable (Item) async -> BatchResult) async -> [BatchResult] {
        await withTaskGroup(of: (Int, BatchResult).self) { group in
            var results = [BatchResult?](repeating: nil, count: items.count)
            var next = 0
            func startNext() {
                guard next < items.count else { return }
                let index = next
                next += 1
                group.addTask { (index, await body(items[index])) }
            }
            for _ in 0..<max(1, parallel) { startNext() }
            for await (index, result) in group {
                results[index] = result
                startNext()
            }
            return results.compactMap { $0 }
        }
    }

    /// One item along its route.
    func perform(_ item: Resolution, operation: BatchOptions.Operation, timeout: Duration) async -> BatchResult {
        let clock = ContinuousClock()
        let start = clock.now
        var result = BatchResult(item)
        do {
            if let failure = item.failure { throw failure }
            guard let route = item.resolved?.route else { throw CgroupLayout.Error.invalidTarget(item.reference, reason: "nothing to act on") }
            // Cancelled before it started: not touched at all.
            if Task.isCancelled { throw CgroupFreezer.Error.interrupted("not started; nothing was changed") }
            switch route {
            case .kernel(let target):
                let outcome = operation == .freeze ? try await freezer.freeze(target, timeout: timeout) : try await freezer.thaw(target, timeout: timeout)
                result.outcome = outcome.result == .ok ? .ok : .already
                result.state = outcome.state
            case .engine(let engine, let container, let cgroup):
                try await perform(operation, through: engine, on: container, cgroup: cgroup, timeout: timeout, into: &result)
            case .systemd(let unit, let cgroup):
                try await perform(operation, throughSystemd: unit, cgroup: cgroup, timeout: timeout, into: &result)
            }
        } catch {
            result.outcome = .error
            result.error = (error as? any FreezectlError) ?? ContainerCatalog.Error.engineError(item.reference, status: 0, message: "\(error)")
            result.state = result.cgroup.flatMap(currentState)
        }
        result.duration = start.duration(to: clock.now)
        return result
    }

    /// The state of a cgroup after an operation, or nil when it cannot be read (it is gone: the
    /// target exited). Read for the report only.
    func currentState(_ target: FreezerTarget) -> FreezeState? {
        ContainerState.status(of: target, freezer: freezer)?.state
    }
}

extension BatchResult {
    /// The item again, for a rollback or refreeze along the same route.
    var resolution: Resolution {
        guard let route else { return Resolution(reference: reference, failure: error ?? CgroupLayout.Error.invalidTarget(reference, reason: "unresolved")) }
        return Resolution(ResolvedTarget(reference: reference, container: container, route: route))
    }
}
