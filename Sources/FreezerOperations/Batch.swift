import CgroupFreezer
import ContainerEngines
import HealthProbes
import SystemPackage

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
    public var action: String { self == .freeze ? "pause" : "unpause" }
    /// The operation that undoes this one.
    var inverse: Self { self == .freeze ? .thaw : .freeze }
}

/// The outcome of one item of a batch.
public struct BatchResult: Sendable {
    /// How the item ended.
    public enum Result: String, Sendable {
        /// Changed, and the kernel confirmed it.
        case ok
        /// Already in the requested state; nothing written.
        case already
        /// Failed; see `error`.
        case error
        /// Changed, then undone because another item of an `--atomic` batch failed.
        case rolledBack = "rolled-back"
    }

    /// The item.
    public var item: BatchItem
    /// The cgroup acted on, when one was resolved.
    public var target: FreezerTarget?
    /// `v1`, `v2`, or `docker` (the Engine API).
    public var backend: String?
    /// How it ended.
    public var result: Result
    /// The effective state afterwards, when known.
    public var state: FreezeState?
    /// How long it took.
    public var duration: Duration
    /// Why it failed.
    public var error: FreezerError?
    /// Things the user should know although it worked (e.g. Docker's view is now stale).
    public var warnings: [String] = []
    /// The health check after the thaw, when one was asked for.
    public var health: HealthReport?
    /// Frozen again because it was unhealthy (`--on-unhealthy refreeze`).
    public var refrozen = false
}

extension CgroupFreezer {
    /// Pauses or unpauses every item, at most `options.parallel` at once; results are in item order.
    /// Direct cgroup writes share this freezer's one completion waiter. Each item's audit record is
    /// written as soon as it is done.
    ///
    /// Cancellation (the CLI cancels on SIGINT, SIGTERM, SIGHUP): a freeze in progress is thawed by
    /// the backend, items not yet started are reported `interrupted` without being touched, and with
    /// `atomic` what was changed is undone; that rollback runs to its end despite the cancellation.
    public func run(_ items: [BatchItem], options: BatchOptions, docker: DockerEngine) async -> [BatchResult] {
        var results = await forEach(items, parallel: options.parallel) { item in
            let result = await perform(item, operation: options.operation, options: options, docker: docker)
            options.audit?.record(result.auditRecord(action: options.operation.action))
            return result
        }
        if options.atomic && results.contains(where: { $0.result == .error }) {
            let undo = options.operation.inverse
            let changed = results.indices.filter { results[$0].result == .ok }
            let changedItems = changed.map { results[$0].item }
            let undone = (try? await uncancelled {
                await self.forEach(changedItems, parallel: options.parallel) { item in
                    await self.perform(item, operation: undo, options: options, docker: docker)
                }
            }) ?? []
            for (index, rollback) in zip(changed, undone) {
                let message: String
                if rollback.result == .error {
                    message = "rollback failed: \(rollback.error?.message ?? "unknown error")"
                    results[index].warnings.append(message)
                } else {
                    message = "rolled back (--atomic)"
                    results[index].result = .rolledBack
                }
                results[index].state = rollback.state
                options.audit?.record(rollback.auditRecord(action: undo.action, message: message))
            }
        }
        return results
    }

    private func forEach(_ items: [BatchItem], parallel: Int, _ body: @escaping @Sendable (BatchItem) async -> BatchResult) async -> [BatchResult] {
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

    func perform(_ item: BatchItem, operation: BatchOptions.Operation, options: BatchOptions, docker: DockerEngine) async -> BatchResult {
        let clock = ContinuousClock()
        let start = clock.now
        var result = BatchResult(item: item, target: nil, backend: nil, result: .error, state: nil, duration: .zero, error: nil)
        do {
            if let failure = item.failure { throw failure }
            // Cancelled before it started: not touched at all.
            try Task.checkCancellation()
            if let container = item.container {
                if container.source == .docker && !options.direct {
                    try await performThroughDocker(container, operation: operation, timeout: options.timeout, docker: docker, into: &result)
                    result.duration = start.duration(to: clock.now)
                    return result
                }
                if let owner = container.owner, !options.direct {
                    throw FreezerError.ownedByEngine(item.reference, engine: owner)
                }
                guard let spec = container.cgroup else { throw FreezerError.containerNotRunning(item.reference) }
                let target = try resolve(spec)
                try checkContainsInit(target, container: container, reference: item.reference)
                result.target = target
                if container.source == .docker || container.owner != nil {
                    let engine = container.owner ?? "docker"
                    result.warnings.append("\(engine)'s view is now stale: it does not know about this direct write; use freezectl --direct again to undo it")
                }
            } else if case .unit(let unit) = item.cgroup {
                try await performThroughSystemd(unit, operation: operation, timeout: options.timeout, into: &result)
                result.duration = start.duration(to: clock.now)
                return result
            } else if let spec = item.cgroup {
                result.target = try resolve(spec)
            }
            guard let target = result.target else { throw FreezerError.invalidTarget(item.reference, reason: "nothing to act on") }
            result.backend = target.backend.rawValue
            let outcome = operation == .freeze ? try await freeze(target, timeout: options.timeout) : try await thaw(target, timeout: options.timeout)
            result.result = outcome.result == .ok ? .ok : .already
            result.state = outcome.state
        } catch {
            result.result = .error
            result.error = (error as? FreezerError) ?? (error is CancellationError ? .cancelled : .engineError(item.reference, status: 0, message: "\(error)"))
            if error is CancellationError && result.target == nil && result.backend == nil {
                result.error = .interrupted("not started; nothing was changed")
            }
            if let target = result.target { result.state = try? status(target).state }
        }
        result.duration = start.duration(to: clock.now)
        return result
    }

    /// A container's cgroup comes from its runtime's state, which a container can influence: it
    /// is used only when it contains the container's init (else freezing it would freeze some
    /// other cgroup, or leave the container running).
    private func checkContainsInit(_ target: FreezerTarget, container: Container, reference: String) throws(FreezerError) {
        guard let pid = container.pid, let directory = try? cgroupDirectory(of: pid, in: target.cgroup.hierarchy) else { return }
        guard target.cgroup.contains(directory) else {
            throw .invalidTarget(reference, reason: "its runtime state names the cgroup \(target.cgroup.path), but its init (PID \(pid)) is in \(directory)")
        }
    }

    /// systemd keeps its own FreezerState and thaws a unit before running a job on it: freeze and
    /// thaw through FreezeUnit/ThawUnit. systemd 252 on a v1 or hybrid layout answers "not
    /// supported"; then the unit's cgroup (its ControlGroup) is written directly, and a warning says so.
    private func performThroughSystemd(_ unit: String, operation: BatchOptions.Operation, timeout: Duration,
                                       into result: inout BatchResult) async throws {
        let manager = SystemdManager(timeout: timeout)
        let busError: SystemdManager.BusError
        // The self-freeze guard holds through systemd too: FreezeUnit of our own unit would hang us.
        if operation == .freeze, let target = try? resolve(.unit(unit)) { try refuseSelfFreeze(target) }
        do throws(SystemdManager.BusError) {
            result.target = try? resolve(.unit(unit))
            let state = try manager.freezerState(unit)
            result.backend = "systemd"
            // "Already" only when systemd and the cgroup agree: a cgroup frozen directly (the
            // fallback below) leaves systemd saying "running".
            let cgroupState = result.target.flatMap { try? status($0).state }
            let cgroupAgrees = cgroupState.map { operation == .freeze ? $0 == .frozen : $0 == .thawed } ?? true
            if cgroupAgrees && ((operation == .freeze && state == "frozen") || (operation == .thaw && state == "running")) {
                result.result = .already
            } else if operation == .freeze {
                do throws(SystemdManager.BusError) {
                    try manager.freeze(unit)
                } catch {
                    guard SystemdManager.isTimeout(error) else { throw error }
                    // Never leave a unit half-frozen: undo the freeze systemd may still be doing.
                    let undo = (try? SystemdManager(timeout: timeout).thaw(unit)) != nil
                    throw SystemdManager.BusError(name: error.name, message:
                        "FreezeUnit did not complete within \(timeout.shortDescription); " + (undo ? "ThawUnit undid it" : "ThawUnit failed too: check `systemctl status \(unit)`"))
                }
                result.result = .ok
            } else {
                try manager.thaw(unit)
                result.result = .ok
            }
            result.state = result.target.flatMap { try? status($0).state }
            return
        } catch {
            busError = error
        }
        guard busError.name.hasSuffix("NotSupported") || busError.message.contains("does not support freezing") else {
            throw FreezerError.systemdError(unit: unit, name: busError.name, message: busError.message)
        }
        let target = try resolve(.unit(unit))
        result.target = target
        result.backend = target.backend.rawValue
        result.warnings.append("systemd cannot freeze \(unit) here (\(busError.message)); its cgroup \(target.cgroup.path) was written directly, and systemctl will not show it frozen")
        let outcome = operation == .freeze ? try await freeze(target, timeout: timeout) : try await thaw(target, timeout: timeout)
        result.result = outcome.result == .ok ? .ok : .already
        result.state = outcome.state
    }

    /// Docker keeps its own pause state: ask the engine, then read the cgroup to report the truth.
    private func performThroughDocker(_ container: Container, operation: BatchOptions.Operation, timeout: Duration,
                                      docker: DockerEngine, into result: inout BatchResult) async throws {
        result.backend = "docker"
        result.target = container.cgroup.flatMap { try? resolve($0) }
        // The self-freeze guard holds through the Engine API too (freezectl run inside the container).
        if operation == .freeze, let target = result.target { try refuseSelfFreeze(target) }
        let cgroupState = result.target.flatMap { try? status($0).state }
        guard container.engineState == "running" || container.engineState == "paused" else {
            throw FreezerError.containerNotRunning(result.item.reference)
        }
        let enginePaused = container.engineState == "paused"
        switch (operation, enginePaused) {
        case (.freeze, true), (.thaw, false):
            // The engine is already where we want it; a cgroup that disagrees was written behind its back.
            if let cgroupState, (cgroupState != .thawed) != enginePaused {
                throw FreezerError.engineError(result.item.reference, status: 409, message:
                    "Docker says \(container.engineState ?? "?") but its cgroup is \(cgroupState.rawValue) (written behind Docker's back); undo that with freezectl --direct")
            }
            result.result = .already
        case (.freeze, false):
            try await docker.pause(container.id, timeout: timeout)
            result.result = .ok
            result.item.container?.engineState = "paused"
        case (.thaw, true):
            try await docker.unpause(container.id, timeout: timeout)
            result.result = .ok
            result.item.container?.engineState = "running"
        }
        result.state = result.target.flatMap { try? status($0).state }
    }
}

extension BatchResult {
    /// The audit record of this item's operation (`message`: instead of the error's, e.g. why it was a rollback).
    public func auditRecord(action: String, message: String? = nil) -> AuditRecord {
        AuditRecord(action: action, target: item.reference, cgroup: target?.cgroup.path.string, backend: backend,
                    result: result == .rolledBack ? "ok" : result.rawValue, message: message ?? error?.message, duration: duration)
    }
}
