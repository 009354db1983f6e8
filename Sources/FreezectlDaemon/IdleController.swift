import CgroupFreezer
import ContainerRuntimes
import Foundation
import FreezerOperations
import Logging
import ServiceLifecycle
import SystemPackage

/// The node's density controller (issue 34, docs/daemon.md "Idle rules"): freezes what stays
/// quiet, wakes it on its first packet, never fights the target's owners.
///
/// - **Quiet**: sampled every `sampleInterval` for each target an idle rule or its labels cover:
///   its cgroup's CPU time (`CgroupFreezer.cpuUsage`) and the packets its network namespace
///   received (`NetworkNamespace.receivedPackets`, loopback included). A sample with a packet or
///   with CPU at or above the plan's `cpu-below` restarts its quiet time; quiet for `after`, it
///   is frozen through the resolver's route (Docker's and containerd's own pause where they own
///   it, so they show it paused), with `reclaim` when the plan asks.
/// - **Wake**: its sockets are watched (`TrafficWatcher`: pidfd_getfd + epoll, no polling);
///   the first packet thaws it (after a prefetch when it was reclaimed) and the kernel's queued
///   connections and data are then served. An unpause through the API wakes it too.
/// - **Owners**: a target paused by anyone else is never frozen nor woken (its quiet time
///   restarts when it is thawed); an explicit pause of an idle-frozen target takes it over (the
///   controller lets it go: no traffic wakes it); an unpause restarts its quiet time.
/// - **Records**: each idle freeze is recorded (`<state>/idle/<id>.json`, with the target's
///   identity) before the freeze: a daemon killed with SIGKILL adopts them again at start and
///   wakes those that received traffic meanwhile (their queued packets make the sockets
///   readable at once); SIGTERM thaws every one (nobody else would wake them).
actor IdleController {
    /// How often running targets are sampled: the freeze comes at most this long after `after`.
    static let sampleInterval: Duration = .milliseconds(250)
    /// The targets are judged again at each listing of the state watcher (every 5 s, and after
    /// the daemon's own operations: new containers, changed labels, a reloaded configuration),
    /// and idle-frozen ones checked for a thaw by someone else; the sources are not listed twice.

    /// An idle freeze as recorded, to be found again after a restart.
    struct Record: Codable, Sendable {
        var target: Lease.Target
        var wake: IdleConfiguration.Wake
        var reclaim: Bool
        var origin: String
        /// Seconds since the epoch.
        var since: Double
    }

    private struct Frozen {
        var id: String
        var record: Record
        var watch: UInt64?
        /// A wake that failed (its thaw did): tried again at each listing until it succeeds.
        var failedWake: String?
    }

    private struct Tracked {
        var item: Resolution
        var target: FreezerTarget
        var identity: ObjectIdentity
        var plan: IdleConfiguration.Plan
        /// A process whose network namespace is the target's (the container's init).
        var pid: Int32?
        /// Its network namespace is the host's: its packets cannot be told from the host's, so
        /// only its CPU is judged (allowed with wake = "api" alone).
        var hostNetwork = false
        var cpu: UInt64?
        var packets: UInt64?
        var sampled: ContinuousClock.Instant
        var quietSince: ContinuousClock.Instant
        /// The most CPU of a sample since `quietSince`, in percent of one CPU.
        var peakCPU: Double?
        var frozen: Frozen?

        var reference: String { item.reference }

        /// The packets its network namespace received so far (nil in the host's).
        var packetsNow: UInt64? { hostNetwork ? nil : pid.flatMap(NetworkNamespace.receivedPackets) }
    }

    private let resolver: Resolver
    private let configuration: ConfigurationStore
    private let audit: AuditTrail
    private let hub: EventHub
    private let watcher: StateWatcher
    private let metrics: DaemonMetrics
    private let files: RecordFiles<Record>
    /// Where its records are (`status` reads them: `IdleFreeze`).
    nonisolated var records: FilePath { files.directory }
    private let traffic: TrafficWatcher
    private let logger: Logger
    private var tracked: [String: Tracked] = [:]
    private var watches: [UInt64: String] = [:]
    /// Targets whose plan was refused (a bad label, the host's network), said once each.
    private var refusals: [String: String] = [:]
    /// Targets being frozen or woken now: the actor runs other work while their thaw or freeze
    /// is awaited, and none of it may touch them meanwhile.
    private var busy: Set<String> = []
    private var stopping = false
    private var stopTask: Task<Void, Never>?

    init(resolver: Resolver, configuration: ConfigurationStore, audit: AuditTrail, hub: EventHub, watcher: StateWatcher,
         metrics: DaemonMetrics, stateDirectory: FilePath, logger: Logger) throws {
        self.resolver = resolver
        self.configuration = configuration
        self.audit = audit.annotating { record in
            // The daemon acts on its own: its requester is itself.
            record.requester = record.requester ?? AuditRecord.Requester(uid: getuid(), gid: getgid(), pid: getpid(), user: "freezectld")
        }
        self.hub = hub
        self.watcher = watcher
        self.metrics = metrics
        files = try RecordFiles(stateDirectory: stateDirectory, name: "idle")
        traffic = try TrafficWatcher()
        self.logger = logger
    }

    // MARK: - The loop

    /// Adopts what a killed daemon left frozen, then samples until the daemon shuts down, then
    /// thaws everything it froze.
    func run() async {
        await adopt()
        let wakes = Task { [traffic] in
            // Each wake in a task of its own: a burst of first packets is thawed side by side,
            // not one after the other.
            for await activity in traffic.activity { Task { await self.woke(activity) } }
        }
        var judged = -1
        while !Task.isCancelled && !stopping {
            let (containers, generation) = watcher.listed
            if generation != judged {
                await discover(containers)
                judged = generation
            }
            await sample()
            guard await sleepUnlessCancelled(for: Self.sampleInterval) else { break }
        }
        await stop()
        wakes.cancel()
    }

    /// SIGTERM: every idle-frozen target is thawed (nobody else would wake it); no new freeze.
    /// Every caller (the shutdown handler, the loop's end) returns only when the thaws are done:
    /// the daemon must not exit before them.
    func stop() async {
        if let stopping = stopTask { return await stopping.value }
        stopping = true
        let task = Task { await self.thawEverything() }
        stopTask = task
        await task.value
    }

    private func thawEverything() async {
        for key in tracked.keys where tracked[key]?.frozen != nil {
            await wake(key, cause: "shutdown", socket: nil, since: .now)
        }
        traffic.stop()
    }

    /// Judges the listed containers and the units the rules name: keeps the quiet time of those
    /// it knew, starts it for new ones, forgets those no longer covered (an idle-frozen one stays
    /// until it wakes), and checks idle-frozen ones for a thaw by someone else.
    private func discover(_ listed: [ResolvedTarget]) async {
        let configuration = self.configuration.value
        let units = configuration.rules.flatMap(\.selectors.units).map { TargetSpec.unit($0) }
        let candidates = listed + (units.isEmpty ? [] : await resolver.resolve(TargetSelection(targets: units), for: .pause).compactMap(\.resolved))
        let host = NetworkNamespace.host
        var seen: Set<String> = []
        for candidate in candidates {
            let key = Self.key(candidate)
            seen.insert(key)
            guard tracked[key]?.frozen == nil, !busy.contains(key) else { continue }
            let plan: IdleConfiguration.Plan?
            let resolved: ResolvedTarget
            do throws(IdleRefusal) {
                guard let judged = try judge(candidate, configuration) else {
                    tracked[key] = nil
                    continue
                }
                (plan, resolved) = (judged.plan, judged.resolved)
            } catch {
                refuse(key, reference: candidate.reference, error.message)
                tracked[key] = nil
                continue
            }
            guard let plan, let target = resolved.cgroup else { continue }
            let item = Resolution(resolved)
            let pid = resolved.container?.pid ?? resolver.freezer.processes(of: target).first
            let hostNetwork = pid.map { NetworkNamespace.identity(of: $0) == host } ?? false
            if plan.wake == .traffic, hostNetwork {
                refuse(key, reference: candidate.reference, "its network namespace is the host's, where its packets cannot be told from the host's: wake = \"traffic\" (\(plan.origin)) is refused; give it a network namespace of its own, or wake = \"api\"")
                tracked[key] = nil
                continue
            }
            refusals[key] = nil
            let identity = resolved.identity
            if var known = tracked[key], known.identity == identity {
                (known.plan, known.item, known.pid, known.hostNetwork) = (plan, item, pid, hostNetwork)
                tracked[key] = known
            } else {
                // Its quiet time starts when it is first seen: what it did before is not known.
                let now = ContinuousClock.now
                var new = Tracked(item: item, target: target, identity: identity, plan: plan, pid: pid, hostNetwork: hostNetwork,
                                  cpu: resolver.freezer.cpuUsage(of: target), sampled: now, quietSince: now)
                new.packets = new.packetsNow
                tracked[key] = new
            }
        }
        for key in tracked.keys where !seen.contains(key) && tracked[key]?.frozen == nil {
            tracked[key] = nil
        }
        await checkFrozen()
    }

    /// The idle-frozen targets at a listing: a failed wake tried again, a thaw by someone else
    /// or a cgroup gone ends the idle freeze.
    private func checkFrozen() async {
        // A thaw by someone else (docker unpause, runc resume, freezectl unpause without the
        // daemon): the target is theirs again, running, its quiet time restarted. The state is
        // the watcher's last read (it reads every watched cgroup anyway), else read now.
        for (key, known) in tracked where known.frozen != nil && !busy.contains(key) {
            // A cgroup that cannot be read now is checked again at the next listing.
            if let cause = known.frozen?.failedWake {
                await wake(key, cause: cause, socket: nil, since: .now)
            } else if (watcher.lastState(of: known.target) ?? resolver.freezer.stateIfReadable(known.target)) == .thawed {
                release(key, cause: "thawed", message: "thawed by someone else")
            } else if !Syscall.exists(known.target.cgroup.path) {
                release(key, cause: "gone", message: "its cgroup is gone")
            }
        }
        countFrozen()
    }

    /// Why a listed target is not judged: a label that does not hold, or no route to pause it.
    struct IdleRefusal: Swift.Error {
        var message: String
    }

    /// The plan for `candidate` (a listing's resolution), and its route to pause it; nil when
    /// neither a rule nor its labels judge it.
    private func judge(_ candidate: ResolvedTarget, _ configuration: IdleConfiguration) throws(IdleRefusal) -> (plan: IdleConfiguration.Plan, resolved: ResolvedTarget)? {
        let plan: IdleConfiguration.Plan?
        do {
            plan = try configuration.plan(for: Policy.rootOnly.subject(of: candidate, resolver: resolver))
        } catch {
            throw IdleRefusal(message: "\(error.message); it is not frozen when idle")
        }
        guard let plan else { return nil }
        // A unit came resolved for a pause; a listed container is routed for one now (through
        // its engine where one keeps its state, so that the engine shows it paused).
        guard let container = candidate.container else { return (plan, candidate) }
        do {
            return (plan, try resolver.route(container, reference: container.shortReference, for: .pause, direct: false))
        } catch {
            throw IdleRefusal(message: "it cannot be paused: \((error as? any FreezectlError)?.message ?? "\(error)"); it is not frozen when idle")
        }
    }

    /// One sample of every running target; freezes those quiet for their `after`.
    private func sample() async {
        let now = ContinuousClock.now
        for key in Array(tracked.keys) {
            guard var known = tracked[key], known.frozen == nil, !stopping, !busy.contains(key) else { continue }
            // Paused by someone else (or half-way): theirs; its quiet time restarts when it is thawed.
            // Unreadable now means gone or going: the next listing drops it.
            guard resolver.freezer.stateIfReadable(known.target) == .thawed else {
                known.quietSince = now
                known.peakCPU = nil
                tracked[key] = known
                continue
            }
            let cpu = resolver.freezer.cpuUsage(of: known.target)
            if known.pid.map({ NetworkNamespace.identity(of: $0) == nil }) ?? true {
                known.pid = resolver.freezer.processes(of: known.target).first
            }
            let packets = known.packetsNow
            let elapsed = Double((now - known.sampled).nanoseconds)
            var active = packets != known.packets
            if let cpu, let last = known.cpu, elapsed > 0 {
                // A counter that went back (a new cgroup at the path) counts as busy.
                let percent = cpu >= last ? Double(cpu - last) / elapsed * 100 : .infinity
                if percent >= known.plan.cpuBelow { active = true } else { known.peakCPU = max(known.peakCPU ?? 0, percent) }
            }
            (known.cpu, known.packets, known.sampled) = (cpu, packets, now)
            if active {
                known.quietSince = now
                known.peakCPU = nil
            }
            tracked[key] = known
            if now - known.quietSince >= known.plan.after { await freeze(key) }
        }
    }

    // MARK: - Freeze and wake

    /// Freezes a quiet target: recorded first, then frozen through its route, then watched.
    private func freeze(_ key: String) async {
        guard var known = tracked[key], let resolved = known.item.resolved, busy.insert(key).inserted else { return }
        defer { busy.remove(key) }
        let quiet = ContinuousClock.now - known.quietSince
        let id = Lease.newID()
        let record = Record(target: LeaseKeeper.target(resolved), wake: known.plan.wake, reclaim: known.plan.reclaim,
                            origin: known.plan.origin, since: Date().timeIntervalSince1970)
        do {
            try files.write(record, id: id)
        } catch {
            logger.error("\(known.reference): not frozen when idle: \(error.withNextStep)")
            known.quietSince = .now
            tracked[key] = known
            return
        }
        let figures = IdleFigures(afterMS: known.plan.after.milliseconds, quietMS: quiet.milliseconds, cpuPercent: known.peakCPU,
                                  cpuBelow: known.plan.cpuBelow, wake: known.plan.wake.rawValue, reclaim: known.plan.reclaim)
        let origin = known.plan.origin
        let message = "idle-freeze (\(origin)): quiet for \(quiet.shortDescription), no packet, CPU below \(known.plan.cpuBelow)%"
        let result = await run(known.item, options(.freeze, memory: known.plan.reclaim, rule: origin, message: message))
        guard result.outcome == .ok else {
            // Failed (rolled back by the batch), or paused by someone else meanwhile: not ours.
            files.remove(id)
            if result.outcome != .already {
                logger.error("\(known.reference): idle freeze failed: \(result.error?.message ?? "unknown error")")
            }
            known.quietSince = .now
            tracked[key] = known
            return
        }
        metrics.reclaimed(result.memory)
        var frozen = Frozen(id: id, record: record)
        if known.plan.wake == .traffic {
            do {
                frozen.watch = try traffic.watch(known.target, freezer: resolver.freezer)
            } catch {
                // Nothing may stay frozen that nobody will wake: thawed at once.
                logger.error("\(known.reference): thawed again: its sockets cannot be watched: \(error.message)")
                known.frozen = frozen
                tracked[key] = known
                busy.remove(key)
                await wake(key, cause: "unwatchable", socket: nil, since: .now)
                return
            }
        }
        known.frozen = frozen
        tracked[key] = known
        if let watch = frozen.watch { watches[watch] = key }
        busy.remove(key)
        if stopping {
            // The daemon began to stop while this froze: thawed with the others.
            await wake(key, cause: "shutdown", socket: nil, since: .now)
            return
        }
        announce(known, figures: figures, message: message, memory: result.memory)
        logger.info("\(known.reference): idle-frozen (\(origin))")
    }

    /// The `idle-freeze` event, with what made the target idle and what its reclaim gave back.
    private func announce(_ known: Tracked, figures: IdleFigures, message: String, memory: MemoryReport?) {
        var figures = figures
        figures.reclaimedBytes = memory.map { $0.residentBefore > $0.residentAfter ? $0.residentBefore - $0.residentAfter : 0 }
        publish("idle-freeze", known, rule: known.plan.origin, cause: nil, message: message, figures: figures)
        countFrozen()
    }

    /// An `idle` event about `known`.
    private func publish(_ action: String, _ known: Tracked, rule: String, cause: String?, message: String, figures: IdleFigures? = nil) {
        var event = Event(type: .idle, action: action)
        event.target = known.reference
        event.cgroup = known.target.cgroup.path.string
        event.rule = rule
        event.cause = cause
        event.message = message
        event.idle = figures
        event.describe(known.item.resolved?.container)
        hub.publish(event)
    }

    /// Ends an idle freeze in the controller's books (its watch, its record): the target is
    /// running, or someone else's, and its quiet time starts again.
    private func endFreeze(_ known: inout Tracked) {
        guard let frozen = known.frozen else { return }
        if let watch = frozen.watch {
            traffic.unwatch(watch)
            watches[watch] = nil
        }
        files.remove(frozen.id)
        known.frozen = nil
        known.quietSince = .now
        known.peakCPU = nil
    }

    /// The `freezectl_idle_frozen` gauge, after a change.
    private func countFrozen() {
        metrics.idleFrozen(tracked.values.filter { $0.frozen != nil }.count)
    }

    /// The first packet of a watched target.
    private func woke(_ activity: TrafficWatcher.Activity) async {
        guard let key = watches.removeValue(forKey: activity.watch) else { return }
        await wake(key, cause: "traffic", socket: activity.socket.description, since: activity.at)
    }

    /// Thaws an idle-frozen target (after a prefetch when it was reclaimed) and forgets its
    /// freeze; its quiet time starts again.
    private func wake(_ key: String, cause: String, socket: String?, since: ContinuousClock.Instant) async {
        guard var known = tracked[key], let frozen = known.frozen, busy.insert(key).inserted else { return }
        defer { busy.remove(key) }
        if let watch = frozen.watch {
            traffic.unwatch(watch)
            watches[watch] = nil
            known.frozen?.watch = nil
        }
        let message = "wake: \(cause)" + (socket.map { " (\($0))" } ?? "")
        let result = await run(known.item, options(.thaw, memory: frozen.record.reclaim, rule: frozen.record.origin, message: message))
        let latency = ContinuousClock.now - since
        guard result.outcome == .ok || result.outcome == .already else {
            // Not thawed: still frozen by us, still recorded; the next listing tries again.
            logger.error("\(known.reference): \(message) failed: \(result.error?.message ?? "unknown error"); tried again at the next listing")
            known.frozen?.failedWake = cause
            tracked[key] = known
            return
        }
        endFreeze(&known)
        (known.cpu, known.packets, known.sampled) = (resolver.freezer.cpuUsage(of: known.target), known.packetsNow, .now)
        tracked[key] = known
        metrics.woke(after: latency, cause: cause)
        countFrozen()
        publish("wake", known, rule: frozen.record.origin, cause: cause, message: message,
                figures: IdleFigures(wake: frozen.record.wake.rawValue, reclaim: frozen.record.reclaim, socket: socket, latencyMS: latency.milliseconds))
    }

    /// Forgets an idle freeze someone else ended or took over (no thaw, no watch): a `wake`
    /// event for an unpause (cause `api`), `released` otherwise.
    private func release(_ key: String, cause: String, message: String, action: String = "released") {
        guard var known = tracked[key], let frozen = known.frozen else { return }
        endFreeze(&known)
        tracked[key] = known
        publish(action, known, rule: frozen.record.origin, cause: cause, message: message)
        countFrozen()
    }

    /// A pause or unpause through the API, on these cgroups (their identities). A plain pause of
    /// an idle-frozen target takes it over: it stays paused, and no packet wakes it. An unpause
    /// wakes it (cause `api`) and restarts the quiet time of every target it names.
    func requested(_ operation: BatchOptions.Operation, cgroups: Set<CgroupIdentity>, lease: Bool, at start: ContinuousClock.Instant) {
        let now = ContinuousClock.now
        for (key, known) in tracked where !busy.contains(key) && (known.identity.cgroup.map(cgroups.contains) ?? false) {
            switch operation {
            case .freeze:
                // A lease's pause leaves what is paused already alone: the idle freeze stays.
                if !lease { release(key, cause: "paused", message: "paused by a request: it stays paused until an unpause") }
            case .thaw:
                if known.frozen != nil {
                    release(key, cause: "api", message: "woken by an unpause request", action: "wake")
                    metrics.woke(after: now - start, cause: "api")
                }
                tracked[key]?.quietSince = now
                tracked[key]?.peakCPU = nil
            }
        }
    }

    /// Whether a cgroup is idle-frozen by the controller, since when and how it wakes (status).
    func idleFrozen(_ cgroup: CgroupIdentity) -> Record? {
        tracked.values.first { $0.frozen != nil && $0.identity.cgroup == cgroup }?.frozen?.record
    }

    // MARK: - Records

    /// At start: the idle freezes a previous daemon left. Each target still frozen and still the
    /// same object is adopted (watched again: queued packets wake it at once); one thawed
    /// meanwhile, gone or replaced is forgotten, never touched.
    private func adopt() async {
        let (records, problems) = files.readAll()
        for problem in problems { logger.error("idle record not read (left in place): \(problem)") }
        for (id, record) in records {
            guard let identity = record.target.identity else {
                logger.warning("\(record.target.reference): idle freeze not adopted: \(LeaseKeeper.noIdentity)")
                files.remove(id)
                continue
            }
            let resolved: ResolvedTarget
            do {
                resolved = try await resolver.resolve(try TargetSpec(parsing: record.target.spec), for: .unpause, sameAs: identity)
            } catch {
                logger.warning("\(record.target.reference): idle freeze not adopted: \(error.withNextStep)")
                files.remove(id)
                continue
            }
            // Thawed meanwhile, or unreadable (gone): nothing frozen to adopt.
            guard let target = resolved.cgroup, let state = resolver.freezer.stateIfReadable(target), state != .thawed else {
                files.remove(id)
                continue
            }
            var item = Resolution(resolved)
            item.reference = record.target.reference
            let now = ContinuousClock.now
            let plan = IdleConfiguration.Plan(after: IdleConfiguration.minimumAfter, cpuBelow: IdleConfiguration.defaultCPUBelow,
                                              wake: record.wake, reclaim: record.reclaim, origin: record.origin)
            var frozen = Frozen(id: id, record: record)
            let key = Self.key(resolved)
            if record.wake == .traffic {
                do {
                    frozen.watch = try traffic.watch(target, freezer: resolver.freezer)
                } catch {
                    logger.error("\(record.target.reference): adopted idle freeze cannot be watched: \(error.message); thawed")
                }
            }
            tracked[key] = Tracked(item: item, target: target, identity: identity, plan: plan, pid: resolved.container?.pid,
                                   sampled: now, quietSince: now, frozen: frozen)
            if let watch = frozen.watch { watches[watch] = key } else if record.wake == .traffic {
                await wake(key, cause: "unwatchable", socket: nil, since: now)
            }
            logger.info("\(record.target.reference): idle freeze adopted")
        }
    }

    // MARK: -

    /// A freeze (with a reclaim) or thaw (with a prefetch) audited with the rule and why.
    private func options(_ operation: BatchOptions.Operation, memory: Bool, rule: String, message: String) -> BatchOptions {
        var options = BatchOptions(operation: operation)
        if operation == .freeze { options.reclaim = memory } else { options.prefetch = memory }
        options.audit = audit.annotating { record in
            record.rule = rule
            record.message = record.message ?? message
        }
        return options
    }

    /// One target along its route, audited (the watcher told; never cancelled half-way): the
    /// batch's `perform` for one item, without a batch's task group, which a wake would wait on.
    private func run(_ item: Resolution, _ options: BatchOptions) async -> BatchResult {
        let cgroups = item.resolved?.cgroup.map { [$0] } ?? []
        watcher.changing(cgroups)
        let result = await uncancelled { [resolver] in
            await resolver.perform(item, operation: options.operation, timeout: options.timeout, memory: options.advisesMemory)
        }
        options.audit?.record(result.auditRecord(action: options.operation.action))
        watcher.changed(cgroups, relist: false)
        return result
    }

    /// A target's key across listings: its container, else what names it.
    private static func key(_ resolved: ResolvedTarget) -> String {
        resolved.container?.key ?? resolved.cgroup?.cgroup.path.string ?? resolved.reference
    }

    private func refuse(_ key: String, reference: String, _ reason: String) {
        guard refusals[key] != reason else { return }
        refusals[key] = reason
        logger.error("\(reference): \(reason)")
        var event = Event(type: .idle, action: "refused")
        event.target = reference
        event.message = reason
        hub.publish(event)
    }
}

/// Runs the idle controller for the daemon's life; on graceful shutdown it thaws what it froze.
struct IdleService: Service {
    let controller: IdleController

    func run() async throws {
        await withTaskCancellationOrGracefulShutdownHandler {
            await controller.run()
        } onCancelOrGracefulShutdown: {
            Task { await controller.stop() }
        }
    }
}
