import CgroupFreezer
import ContainerEngines
import ContainerRuntimes
import FreezerOperations
import ServiceLifecycle
import Synchronization

/// Watches the freezer state of every container of the sources present and of every cgroup the
/// daemon touched, and publishes the changes others make (`runc pause`, `docker pause`, a write
/// to the cgroup) as `state` events. The daemon's own changes are published as operations, not
/// again as state changes.
final class StateWatcher: Sendable {
    private struct Watched {
        /// A v2 cgroup's own task, waiting on its `cgroup.events`; nil for a v1 cgroup, which
        /// `pollLoop` reads with the others (v1 has no notification).
        var task: Task<Void, Never>?
        var target: FreezerTarget
        var state: FreezeState?
    }

    private struct State {
        var watched: [String: Watched] = [:]
        var containers: [String: Container] = [:]
        /// The last listing's containers, resolved to read their state (the idle controller
        /// judges them from it rather than listing the sources again).
        var listed: [ResolvedTarget] = []
        /// Counts the listings: a reader sees a new one by a new number.
        var generation = 0
        /// Cgroups the daemon is changing (nil: until it says it is done) or changed a moment ago.
        var own: [String: ContinuousClock.Instant?] = [:]
    }

    /// How long after its own change a cgroup's change is taken as that change (v1 is read every
    /// 500 ms, so its change shows up to half a second late).
    static let ownGrace: Duration = .seconds(1)
    /// How often the sources are listed again.
    static let refreshInterval: Duration = .seconds(5)
    /// How often v1 cgroups are read, all in one pass.
    static let pollInterval: Duration = .milliseconds(500)

    private let resolver: Resolver
    private let hub: EventHub
    private let state = Mutex(State())
    /// Asks the refresh loop to list the sources now (after the daemon's own operations).
    private let pokes = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))

    init(resolver: Resolver, hub: EventHub) {
        self.resolver = resolver
        self.hub = hub
    }

    /// Lists the sources every `refreshInterval`, and at once after the daemon's own operations
    /// (one may have started or stopped a container's life as the daemon sees it), until cancelled.
    func refreshLoop() async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                // The stream of pokes, ended by cancellation.
                for await _ in self.pokes.stream {
                    await self.refresh()
                    // At most one listing a second, however many operations come.
                    guard await sleepUnlessCancelled(for: .seconds(1)) else { break }
                }
            }
            group.addTask {
                while !Task.isCancelled {
                    await self.refresh()
                    guard await sleepUnlessCancelled(for: Self.refreshInterval) else { break }
                }
            }
            group.addTask { await self.pollLoop() }
            await group.next()
            group.cancelAll()
        }
    }

    /// The daemon starts changing these cgroups: their changes are its own.
    func changing(_ cgroups: [FreezerTarget]) {
        state.withLock { state in
            for cgroup in cgroups { state.own[cgroup.cgroup.path.string] = .some(nil) }
        }
    }

    /// The daemon is done changing these cgroups: watched from now on, and a change seen within
    /// the grace period is still its own. With `relist`, the sources are listed again soon (an
    /// operation may have started or ended a container's life as the daemon sees it); the idle
    /// controller's freezes and wakes pass false: they change no container's life, and a listing
    /// right after a wake would take the CPU from the container serving its first request.
    func changed(_ cgroups: [FreezerTarget], relist: Bool = true) {
        let until = ContinuousClock.now + Self.ownGrace
        state.withLock { state in
            for cgroup in cgroups { state.own[cgroup.cgroup.path.string] = until }
        }
        for cgroup in cgroups { watch(cgroup) }
        if relist { pokes.continuation.yield() }
    }

    /// A watched cgroup's state as last read (nil: not watched, or not read yet).
    func lastState(of target: FreezerTarget) -> FreezeState? {
        state.withLock { $0.watched[target.cgroup.path.string]?.state }
    }

    /// The containers of the last listing (resolved to read their state).
    var listed: (containers: [ResolvedTarget], generation: Int) { state.withLock { ($0.listed, $0.generation) } }

    /// How many watched cgroups are paused (frozen, freezing, or frozen by a parent) as last seen.
    var pausedCount: Int {
        state.withLock { $0.watched.values.filter { $0.state.map { $0 != .thawed } ?? false }.count }
    }

    /// Lists the sources again: new containers are watched, and events are described with them.
    func refresh() async {
        let items = await resolver.resolve(TargetSelection(targets: [], all: true), for: .inspect)
        var containers: [String: Container] = [:]
        var listed: [ResolvedTarget] = []
        for item in items {
            guard let resolved = item.resolved, let cgroup = resolved.cgroup, let container = resolved.container else { continue }
            containers[cgroup.cgroup.path.string] = container
            listed.append(resolved)
            watch(cgroup)
        }
        state.withLock { ($0.containers, $0.listed, $0.generation) = (containers, listed, $0.generation + 1) }
        hub.setContainers(containers)
    }

    /// Stops every watch (the daemon stops).
    func stop() {
        let tasks = state.withLock { state in
            defer { state.watched.removeAll() }
            return state.watched.values.compactMap(\.task)
        }
        for task in tasks { task.cancel() }
    }

    private func watch(_ target: FreezerTarget) {
        let key = target.cgroup.path.string
        // A v1 cgroup's state now is what the polls compare with (read before the lock: I/O).
        let baseline = target.backend == .v1 && state.withLock({ $0.watched[key] == nil }) ? resolver.freezer.stateIfReadable(target) : nil
        state.withLock { state in
            guard state.watched[key] == nil else { return }
            guard target.backend == .v2 else {
                state.watched[key] = Watched(task: nil, target: target, state: baseline)
                return
            }
            let task = Task { [resolver] in
                var first = true
                for await now in resolver.freezer.stateChanges(of: target) {
                    self.saw(now, in: key, first: first)
                    first = false
                }
                // The cgroup is gone: nothing left to watch.
                _ = self.state.withLock { $0.watched.removeValue(forKey: key) }
            }
            state.watched[key] = Watched(task: task, target: target, state: nil)
        }
    }

    /// Reads every watched v1 cgroup each `pollInterval`, in one pass on one task (a task and a
    /// timer per cgroup cost more than the reads: 100 containers were 200 wake-ups a second).
    /// A cgroup that cannot be read any more is gone: no longer watched.
    /// Each pass reads `freezer.state` alone; the full state (which also reads
    /// `freezer.self_freezing`) only when that text changed. So a frozen cgroup whose own request
    /// changes while an ancestor keeps it frozen (frozen and frozen-by-parent, both FROZEN to the
    /// kernel) shows no event until its text changes.
    private func pollLoop() async {
        var texts: [String: String] = [:]
        while await sleepUnlessCancelled(for: Self.pollInterval) {
            let polled = state.withLock { $0.watched.filter { $0.value.task == nil }.map { ($0.key, $0.value.target, $0.value.state == nil) } }
            var seen: [String: String] = [:]
            for (key, target, first) in polled {
                guard let text = CgroupFile.readIfPresent(target.cgroup.file("freezer.state")),
                      let now = first || texts[key] != text ? resolver.freezer.stateIfReadable(target) : state.withLock({ $0.watched[key]?.state }) else {
                    _ = state.withLock { $0.watched.removeValue(forKey: key) }
                    continue
                }
                seen[key] = text
                if first || state.withLock({ $0.watched[key]?.state }) != now { saw(now, in: key, first: first) }
            }
            texts = seen
        }
    }

    private func saw(_ now: FreezeState, in key: String, first: Bool) {
        let (publish, container) = state.withLock { state -> (Bool, Container?) in
            state.watched[key]?.state = now
            if first { return (false, nil) }
            switch state.own[key] {
            case .some(.none): return (false, nil)
            case .some(.some(let until)) where ContinuousClock.now < until: return (false, nil)
            default:
                state.own.removeValue(forKey: key)
                return (true, state.containers[key])
            }
        }
        guard publish else { return }
        var event = Event(type: .state, action: now.rawValue)
        event.cgroup = key
        event.target = container?.shortReference
        event.describe(container)
        hub.publish(event)
    }
}

/// Lists the sources every few seconds until the daemon stops, then stops every watch.
struct StateWatcherService: Service {
    let watcher: StateWatcher

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await watcher.refreshLoop()
        }
        watcher.stop()
    }
}
