#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Logging
import SystemPackage

/// Freezes, thaws and inspects cgroups with the kernel's freezers (cgroup v1 `freezer.state`,
/// cgroup v2 `cgroup.freeze`), on whatever layout the host has mounted.
///
/// Every freeze and thaw of a cgroup goes through this type, whoever asks (the CLI, an embedder,
/// FreezerOperations' routes). A value is cheap to copy and safe to share between tasks; waits
/// for freeze completion share one event loop.
///
/// ```swift
/// let freezer = try CgroupFreezer(logger: logger)
/// let target = try freezer.target(for: try TargetSpec(parsing: "cgroup:/batch/job", sources: []))
/// let outcome = try await freezer.freeze(target, timeout: .seconds(5))
/// ```
public struct CgroupFreezer: Sendable {
    /// The layout targets are resolved against (from /proc/self/mountinfo unless given).
    public let layout: CgroupLayout
    /// Receives a debug line per kernel write and per completed wait.
    public let logger: Logger
    private let waiter: EventsWaiter
    private let resolver: TargetResolver

    /// The default deadline for a freeze or thaw to complete.
    public static let defaultTimeout: Duration = .seconds(10)

    /// Creates a freezer for `layout`, or for the layout this process sees now.
    public init(layout: CgroupLayout? = nil, logger: Logger = Logger(label: "CgroupFreezer")) throws(CgroupLayout.Error) {
        let layout = try { () throws(CgroupLayout.Error) -> CgroupLayout in
            if let layout { return layout }
            return try CgroupLayout.current()
        }()
        self.layout = layout
        self.logger = logger
        self.waiter = EventsWaiter()
        self.resolver = TargetResolver(layout: layout)
    }

    /// The cgroup a kernel target names (`/path`, `cgroup:/path`, `pid:N`). Throws bad-input
    /// errors only. Containers and units need their engine or systemd: FreezerOperations' Resolver.
    public func target(for spec: TargetSpec) throws(CgroupLayout.Error) -> FreezerTarget {
        try resolver.resolve(spec)
    }

    /// Freezes `target` and waits until the kernel reports every task frozen.
    ///
    /// On timeout or cancellation the cgroup is thawed again before the error is thrown, so it is
    /// never left half-frozen.
    /// - Returns: `.already` when it was frozen at its own request already (nothing written).
    /// - Throws: `CgroupFreezer.Error` (`.selfFreeze`, `.timeout`, `.busy`, `.cancelled`, ...) or
    ///   `CgroupLayout.Error` for the cgroup's files (`.permissionDenied`, `.notFound`, ...).
    public func freeze(_ target: FreezerTarget, timeout: Duration = defaultTimeout) async throws -> FreezeOutcome {
        try refuseSelfFreeze(target)
        return try await run("freeze", target, timeout: timeout, reaching: .frozen) { backend, deadline in
            try await backend.freeze(deadline: deadline, timeout: timeout)
        }
    }

    /// Thaws `target` and confirms the effective state is thawed.
    ///
    /// - Returns: `.already` when it was not frozen (nothing written).
    /// - Throws: `CgroupFreezer.Error.frozenByParent` when an ancestor keeps it frozen (its own request is
    ///   cleared all the same), `.thawTimeout`, or `.cancelled`; `CgroupLayout.Error` for its files.
    public func thaw(_ target: FreezerTarget, timeout: Duration = defaultTimeout) async throws -> FreezeOutcome {
        try await run("thaw", target, timeout: timeout, reaching: .thawed) { backend, deadline in
            try await backend.thaw(deadline: deadline, timeout: timeout)
        }
    }

    /// The freezer state of `target`: its own request, the effective state, and its processes.
    public func status(_ target: FreezerTarget) throws(CgroupLayout.Error) -> FreezerStatus {
        let (selfFrozen, state) = try backend(for: target).status()
        return FreezerStatus(target: target, selfFrozen: selfFrozen, state: state,
                             processes: CgroupProcesses.inSubtree(target.cgroup.path))
    }

    /// The effective state of `target` alone, without listing its processes: what the idle
    /// controller reads at each sample.
    public func state(_ target: FreezerTarget) throws(CgroupLayout.Error) -> FreezeState {
        try backend(for: target).status().state
    }

    /// `state(_:)`, nil when it cannot be read now: for a watcher that reads again soon, where
    /// a cgroup gone or going is no state, not an error to report.
    public func stateIfReadable(_ target: FreezerTarget) -> FreezeState? {
        // Its callers read again within a second, and an unreadable cgroup is gone or going:
        // the error has nothing to add to "no state now".
        try? state(target)
    }

    /// The effective state of `target` now, then at each change: on the kernel's notifications
    /// on `cgroup.events` for v2, read every 500 ms for v1 (which has none). The stream ends when
    /// the cgroup is gone or cannot be read, or when its consumer stops.
    public func stateChanges(of target: FreezerTarget) -> AsyncStream<FreezeState> {
        let backend = backend(for: target)
        return AsyncStream { continuation in
            let task = Task {
                // Gone or unreadable: the stream ends, as documented (its consumer sees the end).
                guard var state = try? backend.status().state else { return continuation.finish() }
                continuation.yield(state)
                while !Task.isCancelled {
                    do {
                        // A bounded wait: a cgroup removed meanwhile is found within the minute.
                        try await backend.waitForChange(from: state, deadline: .now + .seconds(60))
                        let now = try backend.status().state
                        if now != state {
                            state = now
                            continuation.yield(now)
                        }
                    } catch {
                        break
                    }
                }
                continuation.finish()
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    /// The processes in `target`'s cgroup and every cgroup below it: everything its freezer stops.
    public func processes(of target: FreezerTarget) -> [Int32] {
        CgroupProcesses.inSubtree(target.cgroup.path)
    }

    /// Whether any process is in `target`'s cgroup or below it (cheaper than `processes(of:)`:
    /// it stops at the first cgroup with a member).
    public func hasProcesses(_ target: FreezerTarget) -> Bool {
        CgroupProcesses.anyInSubtree(target.cgroup.path)
    }

    /// Every cgroup in every mounted freezer hierarchy that is frozen or freezing at its own
    /// request (or is freezing), in hierarchy order. Descendants that are only frozen by such a
    /// cgroup are left out: they thaw with it.
    public func frozenCgroups() -> [FreezerStatus] {
        var found: [FreezerStatus] = []
        for hierarchy in [layout.freezer, layout.unified].compactMap({ $0 }) {
            // A hierarchy whose mount point cannot be validated has nothing to list.
            guard let root = try? CgroupDirectory(validating: hierarchy.mountPoint, in: layout) else { continue }
            collectFrozen(below: root, into: &found)
        }
        return found
    }

    private func collectFrozen(below directory: CgroupDirectory, into found: inout [FreezerStatus]) {
        guard case .success(let children) = Syscall.subdirectories(of: directory.path) else { return }
        for name in children {
            do {
                let child = try CgroupDirectory(validating: directory.path.appending(name), in: layout)
                let status = try status(FreezerTarget(spec: .directory(child.path), cgroup: child))
                // Its descendants are frozen by it; a descendant with its own request is listed too.
                if status.selfFrozen || status.state == .freezing { found.append(status) }
                collectFrozen(below: child, into: &found)
            } catch {
                continue  // removed while the tree was walked: it is frozen no more
            }
        }
    }

    /// The one place a backend is chosen: the target's hierarchy decides.
    private func backend(for target: FreezerTarget) -> any FreezerBackend {
        switch target.backend {
        case .v1: return FreezerV1(cgroup: target.cgroup)
        case .v2: return FreezerV2(cgroup: target.cgroup, waiter: waiter)
        }
    }

    /// Whether the kernel shows task `pid` as stopped by the freezer of `version`.
    package static func isTaskFrozen(_ pid: Int32, by version: Hierarchy.Version) -> Bool {
        version == .v1 ? FreezerV1.isTaskFrozen(pid) : FreezerV2.isTaskFrozen(pid)
    }

    /// Refuses to freeze the cgroup this process is in, or one of its ancestors: the write would
    /// stop the caller before it could ever thaw.
    package func refuseSelfFreeze(_ target: FreezerTarget) throws {
        // The kernel's path under a mount point from mountinfo: canonical, and it exists while
        // this process is in it, so no stat follows (cgroupDirectory(of:in:) checks another's).
        if let own = try ProcessCgroups.ownDirectory(in: target.cgroup.hierarchy, layout: layout), target.cgroup.contains(own) {
            throw CgroupFreezer.Error.selfFreeze(path: target.cgroup.path)
        }
    }

    /// The canonical cgroup directory of process `pid` in `hierarchy`, or nil when it is not
    /// visible there; `noSuchProcess` when the process is gone.
    package func cgroupDirectory(of pid: Int32, in hierarchy: Hierarchy) throws(CgroupLayout.Error) -> FilePath? {
        guard let directory = try ProcessCgroups.of(pid: pid).directory(in: hierarchy, layout: layout) else { return nil }
        // Already canonical: the kernel's path, normalized under a mount point from mountinfo (no
        // symlinks in either), so one stat tells what realpath's walk would. Gone: the process
        // left that cgroup (or exited) since /proc was read.
        guard Syscall.isDirectory(directory) == .success(true) else { return nil }
        return directory
    }

    /// Runs one freeze or thaw. A backend returns only once the kernel confirmed `state` (or it
    /// was in it already), so the outcome's state is that one without reading it back.
    private func run(
        _ operation: String, _ target: FreezerTarget, timeout: Duration, reaching state: FreezeState,
        _ body: (any FreezerBackend, ContinuousClock.Instant) async throws -> FreezeOutcome.Change
    ) async throws -> FreezeOutcome {
        let clock = ContinuousClock()
        let start = clock.now
        do {
            let lock = try await CgroupLock(target.cgroup, deadline: start.advanced(by: timeout), timeout: timeout)
            defer { lock.release() }
            let result = try await body(backend(for: target), start.advanced(by: timeout))
            let outcome = FreezeOutcome(target: target, result: result, state: state, duration: start.duration(to: clock.now))
            logger.debug("\(operation) \(target.cgroup.path) via \(target.backend): \(result.rawValue), \(state.rawValue) after \(outcome.duration)")
            return outcome
        } catch {
            logger.debug("\(operation) \(target.cgroup.path) via \(target.backend) failed: \(error)")
            // A control file that vanished or went dead (ENOENT, ENODEV) under a write or a read
            // because the cgroup was removed meanwhile (its processes exited): nothing of it is
            // left frozen, and that is what is reported.
            if error is CgroupLayout.Error, !Syscall.exists(target.cgroup.path) { throw CgroupFreezer.Error.removed(path: target.cgroup.path) }
            // A cancellation (the backend put the request back) is `.cancelled`; an error of no
            // freezectl type is passed on as it was (UnexpectedError), never as a cancellation.
            throw UnexpectedError.reported(error)
        }
    }
}

/// Runs `body` where the caller's cancellation does not reach it: the cleanup after a cancelled
/// operation (the thaw of our own freeze, an --atomic rollback) must run to its end.
package func uncancelled<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await Task { try await body() }.value
}

/// `uncancelled` for work that cannot fail.
package func uncancelled<T: Sendable>(_ body: @escaping @Sendable () async -> T) async -> T {
    await Task { await body() }.value
}

/// An exclusive flock(2) on a cgroup directory, held for one freeze or thaw, so that two
/// freezectl runs (or two tasks of one embedder) on one cgroup take turns. Without it a v1
/// retry loop that thaws and refreezes a stuck FREEZING cgroup could undo a concurrent request,
/// and a timed-out freeze could restore a state that a concurrent call had just changed.
///
/// flock works on any open file, cgroupfs directories included, and the kernel drops it when the
/// descriptor is closed, also when the process dies: a killed freezectl never leaves it held.
///
/// The locked directory is also where the cgroup's identity is checked: one that is not the
/// cgroup that was validated (removed and made again under the same name since) is refused
/// before anything is written, with `replaced`.
struct CgroupLock {
    private let fd: Int32

    /// Waits for the lock until `deadline`; throws `busy` naming the cgroup when another holder
    /// keeps it, `replaced` when the directory is another cgroup than the one validated.
    init(_ cgroup: CgroupDirectory, deadline: ContinuousClock.Instant, timeout: Duration) async throws {
        let fd = open(cgroup.path.string, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else {
            let error = Errno(rawValue: errno)
            if error == .noSuchFileOrDirectory { throw CgroupLayout.Error.notFound(path: cgroup.path) }
            throw CgroupLayout.Error.io(path: cgroup.path, operation: "open (to lock)", errno: error)
        }
        if let expected = cgroup.identity {
            switch Syscall.identity(of: fd) {
            case .success(let found) where found == expected:
                break
            case .success(let found):
                close(fd)
                throw CgroupFreezer.Error.replaced(path: cgroup.path, reason: "it was removed and made again since it was resolved (the cgroup resolved was \(expected), this one is \(found))")
            case .failure(let error):
                close(fd)
                throw CgroupLayout.Error.io(path: cgroup.path, operation: "fstat (to check what is locked)", errno: error)
            }
        }
        var pause = Duration.microseconds(50)
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let error = Errno(rawValue: errno)
            guard error == .wouldBlock || error == .interrupted else {
                close(fd)
                throw CgroupLayout.Error.io(path: cgroup.path, operation: "flock", errno: error)
            }
            guard ContinuousClock.now < deadline else {
                close(fd)
                throw CgroupFreezer.Error.busy(path: cgroup.path, deadline: timeout)
            }
            do {
                try await Task.sleep(for: pause)
            } catch {
                close(fd)
                throw error
            }
            pause = min(pause * 2, .milliseconds(5))
        }
        self.fd = fd
    }

    /// Drops the lock (closing the descriptor releases it).
    func release() { close(fd) }
}

/// Turns what the user named into a `FreezerTarget`, for this host's layout.
///
/// A target is one logical cgroup that may have a directory in the v1 freezer hierarchy and one in
/// the v2 hierarchy. The v1 freezer wins where it exists, because that is what runc and Docker
/// write on hybrid hosts, so their view (`runc list`, `docker ps`) agrees with ours.
public struct TargetResolver: Sendable {
    /// The layout targets are resolved against.
    public let layout: CgroupLayout

    /// A resolver for `layout`.
    public init(layout: CgroupLayout) {
        self.layout = layout
    }

    /// Resolves one target. Every error is bad input: nothing has been written.
    public func resolve(_ spec: TargetSpec) throws(CgroupLayout.Error) -> FreezerTarget {
        switch spec {
        case .directory(let path):
            // An absolute path is used as given: its own hierarchy decides the backend.
            let directory = try CgroupDirectory(validating: path, in: layout)
            try requireFreezer(directory)
            return FreezerTarget(spec: spec, cgroup: directory)

        case .cgroup(let relative):
            let candidates = [layout.freezer, layout.unified].compactMap { $0?.directory(forCgroupPath: relative) }
            for candidate in candidates where Syscall.exists(candidate) {
                let directory = try CgroupDirectory(validating: candidate, in: layout)
                try requireFreezer(directory)
                return FreezerTarget(spec: spec, cgroup: directory)
            }
            throw CgroupLayout.Error.noSuchCgroup(spec.description, checked: candidates)

        case .pid(let pid):
            let cgroups = try ProcessCgroups.of(pid: pid)
            // A process whose v1 freezer cgroup is the root is frozen through its v2 cgroup.
            for hierarchy in [layout.freezer, layout.unified].compactMap({ $0 }) {
                guard let candidate = cgroups.directory(in: hierarchy, layout: layout),
                      Syscall.exists(candidate.appending(FreezerFiles.freezeFile(hierarchy.version))) else { continue }
                return FreezerTarget(spec: spec, cgroup: try CgroupDirectory(validating: candidate, in: layout))
            }
            throw CgroupLayout.Error.processInRootCgroup(pid: pid)

        case .container:
            // Containers are found by ContainerCatalog (FreezerOperations' Resolver); their cgroup is then resolved here.
            throw CgroupLayout.Error.invalidTarget(spec.description, reason: "a container reference; resolve it with FreezerOperations' Resolver")

        case .unit:
            // A unit's cgroup is its ControlGroup property, asked of systemd (FreezerOperations' Resolver).
            throw CgroupLayout.Error.invalidTarget(spec.description, reason: "a systemd unit; resolve it with FreezerOperations' Resolver")
        }
    }

    /// Refuses a cgroup without a freeze file: the root of a hierarchy, or a v1 hierarchy without the freezer.
    private func requireFreezer(_ directory: CgroupDirectory) throws(CgroupLayout.Error) {
        let hierarchy = directory.hierarchy
        if hierarchy.version == .v1 && !hierarchy.isV1Freezer {
            let controllers = hierarchy.controllers.sorted().joined(separator: ",")
            throw CgroupLayout.Error.noFreezer(path: directory.path, reason: "it is in the v1 \(controllers) hierarchy, which has no freezer controller")
        }
        if !Syscall.exists(directory.file(FreezerFiles.freezeFile(hierarchy.version))) {
            // Removed since it was validated (its last process exited): gone, not freezer-less.
            if !Syscall.exists(directory.path) { throw CgroupLayout.Error.notFound(path: directory.path) }
            let reason = directory.path == hierarchy.mountPoint
                ? "it is the root cgroup of its hierarchy, which has no \(FreezerFiles.freezeFile(hierarchy.version))"
                : "it has no \(FreezerFiles.freezeFile(hierarchy.version)) (kernel without the cgroup freezer?)"
            throw CgroupLayout.Error.noFreezer(path: directory.path, reason: reason)
        }
    }
}
