import CgroupFreezer
import ContainerEngines
import ContainerRuntimes
import Foundation
import FreezerOperations
import Logging
import ServiceLifecycle
import SystemPackage

/// Keeps the leases: records each before its freeze is acknowledged, ends it on time, when its
/// holder goes, on DELETE or when someone unpauses its targets, and reconciles the records a
/// previous daemon left. Ending a lease thaws only what the lease froze.
actor LeaseKeeper {
    private let files: LeaseFiles
    private let resolver: Resolver
    private let audit: AuditTrail
    private let watcher: StateWatcher
    private let hub: EventHub
    private let logger: Logger
    private var leases: [String: Lease] = [:]
    private var timers: [String: Task<Void, Never>] = [:]
    private var endings: [String: (stream: AsyncStream<String>, continuation: AsyncStream<String>.Continuation)] = [:]
    private var stopping = false

    init(files: LeaseFiles, resolver: Resolver, audit: AuditTrail, watcher: StateWatcher, hub: EventHub, logger: Logger) {
        self.files = files
        self.resolver = resolver
        self.audit = audit
        self.watcher = watcher
        self.hub = hub
        self.logger = logger
    }

    /// Why a lease cannot begin; nothing was done.
    enum Refusal: Swift.Error {
        case stopping
        case notRecorded(DaemonState.Error)
    }

    /// Records a lease over the items that are not paused yet (before anything is frozen: a
    /// daemon killed right after the freeze still finds the record). Returns the lease and the
    /// items to freeze under it; items paused already stay out of it and are left as they are.
    func begin(_ kind: Lease.Kind, expires: Double?, holder: Lease.Holder?, requester: AuditRecord.Requester,
               prefetch: Bool = false, items: [Resolution]) throws(Refusal) -> Lease {
        guard !stopping else { throw .stopping }
        var targets: [Lease.Target] = []
        for item in items {
            guard let resolved = item.resolved, !resolver.status(item).isPaused else { continue }
            targets.append(Self.target(resolved))
        }
        let lease = Lease(id: Lease.newID(), kind: kind, created: Date().timeIntervalSince1970, expires: expires,
                          holder: holder, requester: requester, targets: targets, prefetch: prefetch ? true : nil)
        do {
            try files.write(lease)
        } catch {
            throw .notRecorded(error)
        }
        leases[lease.id] = lease
        endings[lease.id] = AsyncStream.makeStream()
        return lease
    }

    /// After the freeze: the lease keeps the targets this freeze changed; a lease left with none
    /// is removed (nil). A timed lease is scheduled.
    func confirm(_ id: String, results: [BatchResult]) -> Lease? {
        guard var lease = leases[id] else { return nil }
        let frozen = Set(results.filter { $0.outcome == .ok }.compactMap { $0.route.map { Self.target(reference: "", $0).spec } })
        lease.targets.removeAll { !frozen.contains($0.spec) }
        guard !lease.targets.isEmpty else {
            forget(id, reason: "nothing to hold: every target was paused already or failed")
            return nil
        }
        leases[id] = lease
        rewrite(lease)
        if lease.kind == .timed { schedule(lease) }
        return lease
    }

    /// Waits until the lease ends; returns why. Returns at once for a lease that is not held.
    func ending(_ id: String) async -> String {
        guard let stream = endings[id]?.stream else { return "ended" }
        for await reason in stream { return reason }
        return "ended"
    }

    /// Ends the lease now: thaws what it froze (through the same routes, audited with the lease
    /// ID), removes its record. Returns the thaw results; empty for a lease that is not held.
    @discardableResult
    func end(_ id: String, reason: String) async -> [BatchResult] {
        guard let lease = leases.removeValue(forKey: id) else { return [] }
        timers.removeValue(forKey: id)?.cancel()
        let results = await thaw(lease, reason: reason)
        files.remove(id)
        logger.info("lease \(id) ended: \(reason)")
        finish(id, reason: reason)
        return results
    }

    /// Someone unpaused these cgroups (by their identity: the cgroups the unpause resolved): the
    /// leases that froze them no longer hold them. A namesake made since is not one of them.
    func release(cgroups: Set<CgroupIdentity>) {
        func released(_ target: Lease.Target) -> Bool { target.identity?.cgroup.map(cgroups.contains) ?? false }
        for (id, var lease) in leases where lease.targets.contains(where: released) {
            lease.targets.removeAll(where: released)
            if lease.targets.isEmpty {
                forget(id, reason: "unpaused")
            } else {
                leases[id] = lease
                rewrite(lease)
            }
        }
    }

    /// Writes a lease whose targets changed. A failure is logged: the older record names more
    /// targets, each of which is checked by its identity before a later daemon acts on it.
    private func rewrite(_ lease: Lease) {
        do {
            try files.write(lease)
        } catch {
            logger.error("lease \(lease.id): record not updated (it still names targets the lease no longer holds): \(error.message)")
        }
    }

    /// The leases held now.
    func all() -> [Lease] {
        leases.values.sorted { $0.created < $1.created }
    }

    func lease(_ id: String) -> Lease? { leases[id] }

    /// At start: the records a previous daemon left. Each target is checked to be the object
    /// the lease froze (a target replaced meanwhile is dropped, audited, never touched; a lease
    /// left with none ends, `target-replaced`). Expired leases and holds whose holder is gone are
    /// ended now (their targets thawed, each audited); the others are kept and timed or watched
    /// again.
    func reconcile() async {
        let (records, problems) = files.readAll()
        for problem in problems { logger.error("lease record not read (left in place): \(problem)") }
        let now = Date().timeIntervalSince1970
        for var lease in records.map(\.record) {
            let kept = await stillTheSame(lease)
            if kept.count != lease.targets.count {
                lease.targets = kept
                guard !kept.isEmpty else {
                    files.remove(lease.id)
                    logger.info("lease \(lease.id) ended: \(Self.targetReplaced)")
                    finish(lease.id, reason: Self.targetReplaced)
                    continue
                }
                rewrite(lease)
            }
            leases[lease.id] = lease
            endings[lease.id] = AsyncStream.makeStream()
            switch lease.kind {
            case .timed:
                if let expires = lease.expires, expires > now {
                    schedule(lease)
                } else {
                    await end(lease.id, reason: "expired while the daemon was down")
                }
            case .hold:
                if let holder = lease.holder, ProcessStart.isAlive(holder.pid, startTime: holder.startTime) {
                    watch(lease.id, holder: holder)
                } else {
                    await end(lease.id, reason: "its holder went away while the daemon was down")
                }
            }
        }
    }

    /// Graceful shutdown: no new leases; every hold ends (its freeze was only for as long as the
    /// connection lasted, which the shutdown ends); timed leases stay recorded for the next start.
    func stop() async {
        stopping = true
        for (id, lease) in leases where lease.kind == .hold {
            await end(id, reason: "the daemon stopped")
        }
        for timer in timers.values { timer.cancel() }
        timers.removeAll()
    }

    // MARK: -

    private func schedule(_ lease: Lease) {
        guard let expires = lease.expires else { return }
        let id = lease.id
        let remaining = max(0, expires - Date().timeIntervalSince1970)
        timers[id] = Task {
            guard await sleepUnlessCancelled(for: .seconds(min(remaining, 1e9))) else { return }
            await self.expire(id)
        }
    }

    private func expire(_ id: String) async {
        // The timer's own task: do not cancel it while it thaws.
        timers.removeValue(forKey: id)
        await end(id, reason: "expired")
    }

    /// A hold recovered from a record: its connection is gone, so its process is watched.
    private func watch(_ id: String, holder: Lease.Holder) {
        timers[id] = Task {
            while ProcessStart.isAlive(holder.pid, startTime: holder.startTime) {
                guard await sleepUnlessCancelled(for: .milliseconds(200)) else { return }
            }
            await self.expire(id)
        }
    }

    /// Drops a lease without thawing (its targets were unpaused by someone, or it froze nothing).
    private func forget(_ id: String, reason: String) {
        leases.removeValue(forKey: id)
        timers.removeValue(forKey: id)?.cancel()
        files.remove(id)
        finish(id, reason: reason)
    }

    private func finish(_ id: String, reason: String) {
        var event = Event(type: .lease, action: "ended")
        event.lease = id
        event.message = reason
        hub.publish(event)
        if let ending = endings.removeValue(forKey: id) {
            ending.continuation.yield(reason)
            ending.continuation.finish()
        }
    }

    /// Why a lease ended whose every target is no longer the object it froze.
    static let targetReplaced = "target-replaced"

    /// Why a target of a record an earlier freezectld wrote is dropped.
    static let noIdentity = "the record has no identity (an earlier freezectld wrote it), so the target cannot be told from a namesake"

    /// The targets of a recovered lease that are still the objects it froze. One that is not
    /// (or that a record without identities names) is dropped: audited and announced, never
    /// touched. One that cannot be looked at now (gone, its engine not answering) is kept: its
    /// end checks it again.
    private func stillTheSame(_ lease: Lease) async -> [Lease.Target] {
        var kept: [Lease.Target] = []
        for target in lease.targets {
            guard let identity = target.identity else {
                drop(target, of: lease, because: Self.noIdentity)
                continue
            }
            do {
                _ = try await resolver.resolve(try TargetSpec(parsing: target.spec), for: .inspect, sameAs: identity)
            } catch CgroupFreezer.Error.replaced(_, let why) {
                drop(target, of: lease, because: why)
                continue
            } catch {
                logger.warning("lease \(lease.id): \(target.reference) not checked at start (checked again at its end): \(error.withNextStep)")
            }
            kept.append(target)
        }
        return kept
    }

    /// A target that is no longer the object the lease froze: left alone, with an audit record
    /// (result `dropped`) and an event (`lease` `ended`, result `target-replaced`).
    private func drop(_ target: Lease.Target, of lease: Lease, because why: String) {
        let message = "lease \(lease.id): \(Self.targetReplaced): \(why); dropped from the lease, not touched"
        logger.warning("\(target.reference): \(message)")
        var record = AuditRecord(action: .unpause, target: target.reference, cgroup: target.cgroup, backend: nil, result: .dropped,
                                 message: message, duration: .zero)
        record.requester = lease.requester
        record.lease = lease.id
        audit.record(record)
        var event = Event(type: .lease, action: "ended")
        event.lease = lease.id
        event.target = target.reference
        event.cgroup = target.cgroup
        event.result = Self.targetReplaced
        event.message = message
        hub.publish(event)
    }

    private func thaw(_ lease: Lease, reason: String) async -> [BatchResult] {
        var items: [Resolution] = []
        for target in lease.targets {
            guard let identity = target.identity else {
                drop(target, of: lease, because: Self.noIdentity)
                continue
            }
            if let cgroup = target.cgroup, !Syscall.exists(FilePath(cgroup)) {
                // Its processes are gone and so is the freeze: nothing to thaw, said in the audit.
                var record = AuditRecord(action: .unpause, target: target.reference, cgroup: cgroup, backend: nil, result: .already,
                                         message: "lease \(lease.id) \(reason): its cgroup is gone, dropped", duration: .zero)
                record.requester = lease.requester
                record.lease = lease.id
                audit.record(record)
                continue
            }
            do {
                var resolved = try await resolver.resolve(try TargetSpec(parsing: target.spec), for: .unpause, sameAs: identity)
                resolved.reference = target.reference
                items.append(Resolution(resolved))
            } catch CgroupFreezer.Error.replaced(_, let why) {
                drop(target, of: lease, because: why)
            } catch {
                items.append(Resolution(reference: target.reference, failure: error.asFreezectlError(reference: target.reference)))
            }
        }
        var options = BatchOptions(operation: .thaw)
        options.prefetch = lease.prefetch == true
        let id = lease.id, requester = lease.requester
        options.audit = audit.annotating { record in
            record.requester = requester
            record.lease = id
            record.message = record.message ?? "lease \(id) \(reason)"
        }
        // The thaw runs to its end whatever cancels the caller: it keeps the promise.
        let cgroups = items.compactMap { $0.resolved?.cgroup }
        watcher.changing(cgroups)
        let results = await uncancelled { [resolver, items, options] in await resolver.run(items, options: options) }
        watcher.changed(cgroups)
        for result in results where result.outcome == .error {
            logger.error("lease \(id): \(result.reference) not thawed: \(result.error?.message ?? "unknown error")")
        }
        return results
    }

    /// How a resolved target is found again, and how it is known to be the same object then.
    static func target(_ resolved: ResolvedTarget) -> Lease.Target {
        var target = target(reference: resolved.reference, resolved.route)
        target.identity = resolved.identity
        return target
    }

    static func target(reference: String, _ route: Route) -> Lease.Target {
        switch route {
        case .kernel(let target):
            return Lease.Target(reference: reference, spec: target.cgroup.path.string, cgroup: target.cgroup.path.string)
        case .engine(_, let container, let cgroup):
            return Lease.Target(reference: reference, spec: "\(container.source.rawValue):\(container.id)", cgroup: cgroup?.cgroup.path.string)
        case .systemd(let unit, let cgroup):
            return Lease.Target(reference: reference, spec: "unit:\(unit)", cgroup: cgroup?.cgroup.path.string)
        }
    }
}

/// On graceful shutdown, before the server stops: every hold ends and every event stream closes
/// (their answers stay open until then, and the server waits for open answers).
struct ShutdownService: Service {
    let keeper: LeaseKeeper
    let hub: EventHub

    func run() async throws {
        await untilShutdown()
        await keeper.stop()
        hub.close()
    }
}

/// Waits for the daemon's graceful shutdown. ServiceLifecycle's `gracefulShutdown()` returns then,
/// or throws CancellationError when the service's task is cancelled first: the same end for a
/// service that stops after it.
func untilShutdown() async {
    do {
        try await gracefulShutdown()
    } catch {
        return
    }
}
