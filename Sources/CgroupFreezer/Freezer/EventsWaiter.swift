#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import CLinuxSupport
import Synchronization
import SystemPackage

/// Waits for kernfs files such as `cgroup.events` to change, for any number of cgroups at once,
/// on one poll(2) loop.
///
/// kernfs raises POLLPRI (and POLLERR) on a file whose content changed since the opener last read
/// it (kernfs_generic_poll), so the loop polls for POLLPRI, re-reads the file when it fires, and
/// checks the waiter's condition. No sleeping and re-reading: the kernel says when to look.
///
/// The loop runs on its own thread while something is waiting and ends when nothing is.
public final class EventsWaiter: Sendable {
    private struct Waiting {
        var fd: Int32
        var deadline: ContinuousClock.Instant
        var isSatisfied: @Sendable () throws -> Bool
        var continuation: CheckedContinuation<Bool, any Error>
    }

    private struct State {
        var waiting: [UInt64: Waiting] = [:]
        /// Registered but not yet checked once by the loop.
        var fresh: Set<UInt64> = []
        /// Cancelled before their registration arrived.
        var cancelled: Set<UInt64> = []
        var nextID: UInt64 = 1
        /// The loop's wake pipe while the loop runs (nil otherwise): its read end is in every poll
        /// set, and a byte written to it makes the loop look at new waiters. It exists only while
        /// the loop does, so an idle waiter holds no descriptor and no thread (embedders may keep
        /// many `CgroupFreezer` values).
        var wake: (read: Int32, write: Int32)?
    }

    private let state = Mutex(State())

    /// Creates a waiter; its thread and wake pipe are made on the first wait that must block.
    public init() {}

    /// Waits until `isSatisfied` (which reads `fd`) returns true, or the deadline passes.
    ///
    /// - Returns: true when satisfied, false at the deadline.
    /// - Throws: `CancellationError` when the task is cancelled, or what `isSatisfied` throws.
    public func wait(
        on fd: FileDescriptor,
        deadline: ContinuousClock.Instant,
        until isSatisfied: @escaping @Sendable () throws -> Bool
    ) async throws -> Bool {
        // Often already true (a freeze of a few idle tasks completes within the write): then no
        // hand-over to the loop thread and back.
        if try isSatisfied() { return true }
        let id = state.withLock { state -> UInt64 in
            defer { state.nextID += 1 }
            return state.nextID
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                // nil: the loop runs already (and was woken); else the new loop's pipe or the failure.
                let start = state.withLock { state -> Result<(read: Int32, write: Int32), any Error>? in
                    if state.cancelled.remove(id) != nil { return .failure(CancellationError()) }
                    var newLoop: (read: Int32, write: Int32)?
                    if let wake = state.wake {
                        // Written under the lock, so the loop cannot close the pipe meanwhile.
                        // A full pipe (EAGAIN) already holds a wake-up; nothing else can fail here.
                        _ = withUnsafeBytes(of: UInt8(1)) { Syscall.write(wake.write, $0) }
                    } else {
                        var fds: [Int32] = [0, 0]
                        guard clinux_pipe2(&fds, O_CLOEXEC | O_NONBLOCK) == 0 else {
                            return .failure(CgroupLayout.Error.io(path: "pipe2", operation: "create the completion waiter's wake pipe",
                                                            errno: Errno(rawValue: errno)))
                        }
                        newLoop = (fds[0], fds[1])
                        state.wake = newLoop
                    }
                    state.waiting[id] = Waiting(fd: fd.rawValue, deadline: deadline, isSatisfied: isSatisfied, continuation: continuation)
                    state.fresh.insert(id)
                    return newLoop.map { .success($0) }
                }
                switch start {
                case .failure(let error)?:
                    continuation.resume(throwing: error)
                case .success(let wake)?:
                    do throws(Errno) {
                        try DetachedThread.start { self.run(wake: wake) }
                    } catch {
                        // No loop will ever look at the waiters registered on this pipe (this one,
                        // and any that joined meanwhile): each gets the failure, so its freeze is
                        // undone by the caller instead of waiting with no deadline enforced.
                        abandon(wake, error: CgroupLayout.Error.io(path: "pthread_create", operation: "start the completion waiter's thread", errno: error))
                    }
                case nil:
                    break
                }
            }
        } onCancel: {
            if !finish(id, with: .failure(CancellationError())) {
                state.withLock { _ = $0.cancelled.insert(id) }
            }
        }
    }

    /// Ends a loop that never started: its pipe closed, every waiter registered on it failed.
    private func abandon(_ wake: (read: Int32, write: Int32), error: any Error) {
        let orphans = state.withLock { state -> [Waiting] in
            state.wake = nil
            state.fresh = []
            defer { state.waiting = [:] }
            return Array(state.waiting.values)
        }
        close(wake.read)
        close(wake.write)
        for entry in orphans { entry.continuation.resume(throwing: error) }
    }

    /// Removes a waiting entry and resumes it; false when it was not (or no longer) registered.
    @discardableResult
    private func finish(_ id: UInt64, with result: Result<Bool, any Error>) -> Bool {
        guard let entry = state.withLock({ state -> Waiting? in
            state.fresh.remove(id)
            return state.waiting.removeValue(forKey: id)
        }) else { return false }
        // Removed from the table before resuming: the loop never polls a descriptor its owner closed
        // (it may poll one that was just closed in the current round; poll then reports POLLNVAL, ignored).
        entry.continuation.resume(with: result)
        return true
    }

    /// How long the loop thread waits for new work once nothing is waiting, before it ends:
    /// an orchestrator freezing one cgroup after another keeps one thread instead of starting
    /// one per freeze (a thread start costs more than a small freeze).
    static let lingering: Int32 = 1000  // ms

    private func run(wake: (read: Int32, write: Int32)) {
        let wakeRead = wake.read
        var ready: Set<UInt64> = []
        var lingered = false
        while true {
            let snapshot = state.withLock { state -> [(UInt64, Waiting)]? in
                if state.waiting.isEmpty {
                    if lingered {
                        // Ends with the loop: a waiter that is idle holds no descriptor.
                        state.wake = nil
                        close(wake.read)
                        close(wake.write)
                    }
                    return nil
                }
                let due = state.fresh.union(ready)
                state.fresh = []
                return state.waiting.filter { due.contains($0.key) }.map { ($0.key, $0.value) }
            }
            guard let snapshot else {
                if lingered { return }
                // Idle: wait for a new waiter's wake byte, or end after `lingering`.
                var idle = pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)
                lingered = poll(&idle, 1, Self.lingering) == 0
                drainWakePipe(wakeRead)
                continue
            }
            lingered = false
            checkDue(snapshot)
            let now = ContinuousClock.now
            let (waiting, expired, next) = state.withLock { state in
                (state.waiting.map { ($0.key, $0.value.fd) },
                 state.waiting.filter { $0.value.deadline <= now }.map(\.key),
                 state.waiting.values.map(\.deadline).min())
            }
            for id in expired { finish(id, with: .success(false)) }
            // Nothing left to wait for: back to the idle branch, which ends the loop after
            // `lingering` (a poll without a deadline here would hold the thread and pipe for ever).
            if !expired.isEmpty || waiting.isEmpty { ready = []; continue }

            let timeout = next.map { Self.pollTimeout(now.duration(to: $0)) } ?? -1
            var fds = [pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)]
            fds += waiting.map { pollfd(fd: $0.1, events: Int16(POLLPRI), revents: 0) }
            let count = poll(&fds, nfds_t(fds.count), timeout)
            ready = []
            guard count > 0 else { continue }
            if fds[0].revents != 0 {
                drainWakePipe(wakeRead)
            }
            for (index, entry) in waiting.enumerated() where fds[index + 1].revents & Int16(POLLPRI) != 0 {
                ready.insert(entry.0)
            }
        }
    }

    /// Asks each waiter that is due whether its condition holds: those that do, or fail, resume.
    private func checkDue(_ snapshot: [(UInt64, Waiting)]) {
        for (id, entry) in snapshot {
            do {
                if try entry.isSatisfied() { finish(id, with: .success(true)) }
            } catch {
                finish(id, with: .failure(error))
            }
        }
    }

    /// poll's timeout for `remaining`, in whole milliseconds rounded up. Saturating: an
    /// embedder's far deadline must not trap the loop.
    private static func pollTimeout(_ remaining: Duration) -> Int32 {
        let seconds = min(remaining.components.seconds, Int64(Int32.max) / 1000)
        let ms = seconds * 1000 + remaining.components.attoseconds / 1_000_000_000_000_000
        return Int32(clamping: ms + 1)
    }

    /// Empties the non-blocking wake pipe: its bytes only say "look again".
    private func drainWakePipe(_ fd: Int32) {
        var drain = [UInt8](repeating: 0, count: 64)
        while case .success(let count) = drain.withUnsafeMutableBytes({ Syscall.read(fd, into: $0) }), count > 0 {}
    }
}
