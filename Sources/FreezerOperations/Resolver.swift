import CgroupFreezer
import ContainerRuntimes
import SystemPackage

/// Turns what the user named into who must act on it: the one place that decides routes.
///
/// Here and nowhere else: the engine-ownership policy (an engine's container goes through its
/// API, or is refused without `direct` where only the cgroup will do), the self-freeze guard for
/// every route that freezes, the check that a container's cgroup holds its init, and which
/// container sources are read (the catalog reads a source only when a target or selection needs it).
public struct Resolver: Sendable {
    /// The freezer routes are resolved for (its layout).
    public let freezer: CgroupFreezer
    /// Where containers are found.
    public let catalog: ContainerCatalog

    /// A resolver over `freezer`'s layout and `catalog`'s sources.
    public init(freezer: CgroupFreezer, catalog: ContainerCatalog) {
        self.freezer = freezer
        self.catalog = catalog
    }

    /// Resolves one target for `purpose`. With `direct`, an engine's container is written through
    /// its cgroup (and the route says the engine's view goes stale). Throws bad-input errors and
    /// the policy's refusals; nothing has been done.
    public func resolve(_ spec: TargetSpec, for purpose: Purpose, direct: Bool = false) async throws -> ResolvedTarget {
        switch spec {
        case .container(let source, let reference):
            let container = try await lookup(source, reference)
            return try route(container, reference: spec.description, for: purpose, direct: direct)
        case .unit(let unit):
            return try route(unit: unit, reference: spec.description, for: purpose)
        case .directory, .cgroup, .pid:
            let target = try freezer.target(for: spec)
            if purpose.freezes { try freezer.refuseSelfFreeze(target) }
            return ResolvedTarget(reference: spec.description, route: .kernel(target))
        }
    }

    /// Resolves a selection, in order: the named targets first (containers narrowed by the
    /// filter), then every matching container of the sources that are present when the selection
    /// picks from them. A target that does not resolve, or a source that is there but failed, is
    /// an item with its failure: the caller reports it rather than acting as if it were not there.
    public func resolve(_ selection: TargetSelection, for purpose: Purpose, direct: Bool = false) async -> [Resolution] {
        guard selection.namespaces.isEmpty || selection.namespaces == catalog.namespaces else {
            return await Resolver(freezer: freezer, catalog: catalog.narrowed(toNamespaces: selection.namespaces))
                .resolve(selection, for: purpose, direct: direct)
        }
        var items: [Resolution] = []
        var seen: Set<String> = []
        let filter = selection.filter
        for spec in selection.targets {
            do {
                guard case .container(let source, let reference) = spec else {
                    if !filter.isEmpty {
                        throw ContainerCatalog.Error.invalidFilter(filter.clauses.map(\.key).joined(separator: ","), reason: "--filter selects containers; \(spec) is not one")
                    }
                    items.append(Resolution(try await resolve(spec, for: purpose, direct: direct)))
                    continue
                }
                let container = try await lookup(source, reference)
                guard matches(container, filter) else { continue }
                seen.insert(container.key)
                items.append(Resolution(try route(container, reference: spec.description, for: purpose, direct: direct)))
            } catch {
                items.append(Resolution(reference: spec.description, failure: error.asFreezectlError(reference: spec.description)))
            }
        }
        guard selection.selectsFromSources else { return items }
        let (containers, failures) = await catalog.all()
        // Each container's match and route read its cgroup (the path's checks, its init's cgroup,
        // ours): independent reads, spread over the CPUs, the items in the catalog's order.
        let routed = containers.filter { !seen.contains($0.key) }.concurrentMap { container -> Resolution? in
            guard matches(container, filter) else { return nil }
            do {
                return Resolution(try route(container, reference: container.shortReference, for: purpose, direct: direct))
            } catch {
                return Resolution(reference: container.shortReference, failure: error.asFreezectlError(reference: container.shortReference))
            }
        }
        items += routed.compactMap { $0 }
        for failure in failures {
            items.append(Resolution(reference: selection.all ? "--all" : "--filter", failure: failure))
        }
        return items
    }

    private func lookup(_ source: ContainerSource?, _ reference: String) async throws -> Container {
        do {
            return try await catalog.lookup(source, reference)
        } catch {
            throw error.asFreezectlError(reference: source.map { "\($0.rawValue):\(reference)" } ?? reference)
        }
    }

    /// The route of a container: its engine's API when an engine keeps its state (Docker, podman,
    /// containerd), the cgroup otherwise; an engine-owned runc/crun container only with `direct`.
    package func route(_ container: Container, reference: String, for purpose: Purpose, direct: Bool) throws -> ResolvedTarget {
        let engine = container.source.isEngine ? container.source.rawValue : container.owner
        if let api = catalog.engine(for: container.source), !direct && purpose != .checkpoint {
            // Only a running or paused container has a state to change.
            if purpose != .inspect && container.engineState?.isLive != true { throw ContainerCatalog.Error.containerNotRunning(reference) }
            // The engine acts; its cgroup is read for the true state and drift, never written by us.
            let cgroup = ContainerState.cgroup(of: container, freezer: freezer)
            if purpose.freezes, let cgroup { try freezer.refuseSelfFreeze(cgroup) }
            return ResolvedTarget(reference: reference, container: container, route: .engine(api, container, cgroup: cgroup))
        }
        if let engine, !direct, purpose != .inspect {
            throw ContainerCatalog.Error.ownedByEngine(reference, engine: engine)
        }
        // CRIU dumps the tree from the init: an engine's container listed by its cgroup's name has
        // no PID yet.
        let container = purpose == .checkpoint ? OCIRuntimeSource.withInit(container) : container
        guard let target = try cgroupTarget(of: container, reference: reference, checked: purpose != .inspect) else {
            throw ContainerCatalog.Error.containerNotRunning(reference)
        }
        if purpose.freezes { try freezer.refuseSelfFreeze(target) }
        var resolved = ResolvedTarget(reference: reference, container: container, route: .kernel(target))
        if let engine, direct, purpose != .inspect {
            resolved.warnings.append("\(engine)'s view is now stale: it does not know about this direct write; use freezectl --direct again to undo it")
        }
        return resolved
    }

    /// The container's cgroup, or nil when it has none (not running). A container's cgroup comes
    /// from its runtime's state, which the container can influence: where it is written
    /// (`checked`), it is used only when it contains the container's init, else freezing it would
    /// freeze some other cgroup, or leave the container running. A state that a user could have
    /// written names only a cgroup that user owns, whatever the purpose (StateWriters).
    private func cgroupTarget(of container: Container, reference: String, checked: Bool) throws -> FreezerTarget? {
        guard let spec = container.cgroup else { return nil }
        let target = try freezer.target(for: spec)
        if let state = container.state { try state.writers.check(target.cgroup, reference: reference, state: state.path) }
        guard checked, let pid = container.pid, let initCgroup = try freezer.cgroupDirectory(of: pid, in: target.cgroup.hierarchy) else {
            return target
        }
        guard target.cgroup.contains(initCgroup) else {
            throw CgroupLayout.Error.invalidTarget(reference, reason: "its runtime state names the cgroup \(target.cgroup.path), but its init (PID \(pid)) is in \(initCgroup)")
        }
        return target
    }

    /// A unit goes through systemd, which keeps its own FreezerState, except where CRIU must
    /// freeze its cgroup itself.
    private func route(unit: String, reference: String, for purpose: Purpose) throws -> ResolvedTarget {
        let controlGroup = try SystemdManager().controlGroup(unit)
        // An inactive unit has no ControlGroup: systemd itself then says what it can do.
        let cgroup = controlGroup.isEmpty ? nil : try freezer.target(for: .cgroup(controlGroup))
        if purpose.freezes, let cgroup { try freezer.refuseSelfFreeze(cgroup) }
        if purpose == .checkpoint {
            guard let cgroup else { throw CgroupLayout.Error.invalidTarget(reference, reason: "systemd gives it no cgroup (is it running?)") }
            return ResolvedTarget(reference: reference, route: .kernel(cgroup))
        }
        return ResolvedTarget(reference: reference, route: .systemd(unit: unit, cgroup: cgroup))
    }

    /// Whether `container` matches `filter`. Labels, names and IDs decide most selections; the
    /// freezer state and the memory usage cost several file reads per container, so they are read
    /// only when a clause asks for them.
    public func matches(_ container: Container, _ filter: ContainerFilter) -> Bool {
        guard !filter.isEmpty else { return true }
        let paused = filter.needsState ? ContainerState.isPaused(container, freezer: freezer) : false
        let memory = filter.needsMemory ? ContainerState.memoryPercent(of: container, freezer: freezer) : nil
        return filter.matches(container, paused: paused, memoryPercent: memory)
    }
}

extension Container {
    /// One container across sources: `source:id`.
    public var key: String { "\(source.rawValue):\(id)" }
}

// What runs along the routes: a batch of pauses or unpauses, item by item (BatchOptions and
// BatchResult are in Batch.swift; the engine and systemd routes in EngineAndSystemdRoutes.swift).
extension Resolver {
    /// Resolves `selection` and pauses or unpauses every item, at most `options.parallel` at once;
    /// results are in item order. Each item's audit record is written as soon as it is done.
    /// (HealthProbes' `run(_:options:health:progress:)` adds a health check after an unpause.)
    ///
    /// Cancellation (the CLI cancels on SIGINT, SIGTERM, SIGHUP): a freeze in progress is thawed by
    /// the backend, items not yet started are reported `interrupted` without being touched, and with
    /// `atomic` what was changed is undone; that rollback runs to its end despite the cancellation.
    public func run(_ selection: TargetSelection, options: BatchOptions) async -> [BatchResult] {
        await run(await resolve(selection, for: options.operation.purpose, direct: options.direct), options: options)
    }

    /// Pauses or unpauses resolved items (see `run(_:options:)`).
    public func run(_ items: [Resolution], options: BatchOptions) async -> [BatchResult] {
        var results = await boundedMap(items, parallel: options.parallel) { item in
            let result = await self.perform(item, operation: options.operation, timeout: options.timeout, memory: options.advisesMemory)
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

    /// One item along its route; with `memory`, its memory is prefetched before a thaw and
    /// reclaimed after a confirmed freeze (MemoryAdvice.swift).
    package func perform(_ item: Resolution, operation: BatchOptions.Operation, timeout: Duration, memory: Bool = false) async -> BatchResult {
        let clock = ContinuousClock()
        let start = clock.now
        var result = BatchResult(item)
        do {
            if let failure = item.failure { throw failure }
            guard let route = item.resolved?.route else { throw CgroupLayout.Error.invalidTarget(item.reference, reason: "nothing to act on") }
            // Cancelled before it started: not touched at all.
            if Task.isCancelled { throw CgroupFreezer.Error.interrupted("not started; nothing was changed") }
            if memory && operation == .thaw { await prefetch(route, timeout: timeout, into: &result) }
            switch route {
            case .kernel(let target):
                let outcome = operation == .freeze ? try await freezer.freeze(target, timeout: timeout) : try await freezer.thaw(target, timeout: timeout)
                // A container whose processes all exited meanwhile (it is being stopped or
                // removed) must not be left with a frozen cgroup its runtime may never remove:
                // thawed back, and reported as not running. Only when its cgroups were read
                // empty (a failed read keeps the freeze); a thaw back that fails is the error
                // reported, since the cgroup is then left frozen.
                if operation == .freeze, outcome.result == .ok, item.resolved?.container != nil, !freezer.hasProcesses(target) {
                    _ = try await freezer.thaw(target, timeout: timeout)
                    throw ContainerCatalog.Error.containerNotRunning(item.reference)
                }
                result.outcome = outcome.result == .ok ? .ok : .already
                result.state = outcome.state
            case .engine(let engine, let container, let cgroup):
                try await perform(operation, through: engine, on: container, cgroup: cgroup, timeout: timeout, into: &result)
            case .systemd(let unit, let cgroup):
                try await perform(operation, throughSystemd: unit, cgroup: cgroup, timeout: timeout, into: &result)
            }
            if memory && operation == .freeze { await reclaim(route, timeout: timeout, into: &result) }
        } catch {
            result.outcome = .error
            result.error = UnexpectedError.reported(error)
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
