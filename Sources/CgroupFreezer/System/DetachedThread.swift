#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Synchronization
import SystemPackage

/// A thread of its own for a loop that blocks in the kernel (poll, waitpid), made with
/// pthread_create: Foundation's `Thread` would pull full Foundation (and ICU's 34 MB of data) into
/// every program that links the core, which needs FoundationEssentials only (docs/performance.md).
package enum DetachedThread {
    private final class Body {
        let run: @Sendable () -> Void
        init(_ run: @escaping @Sendable () -> Void) { self.run = run }
    }

    /// Runs `body` on a new detached thread. Throws the errno of pthread_create (EAGAIN: the
    /// process or the system has no thread to give); `body` has then not run and will not.
    package static func start(_ body: @escaping @Sendable () -> Void) throws(Errno) {
        let context = Unmanaged.passRetained(Body(body)).toOpaque()
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, { context in
            guard let context else { return nil }
            let body = Unmanaged<Body>.fromOpaque(context).takeRetainedValue()
            body.run()
            return nil
        }, context)
        guard rc == 0 else {
            Unmanaged<Body>.fromOpaque(context).release()
            throw Errno(rawValue: rc)
        }
        pthread_detach(thread)
    }
}

/// Work that keeps CPUs busy in the kernel (the deep pause's process_madvise: zram compresses or
/// reads back each page on the calling thread) on threads of its own: Dispatch's pool, which the
/// concurrency runtime and the signal sources also run on, must not be starved by it (a stop
/// signal would then wait for the work to end).
package enum WorkerThreads {
    private final class Countdown: Sendable {
        let left: Atomic<Int>
        init(_ count: Int) { left = Atomic(count) }
        /// Counts `done` off; true for the call that reaches zero.
        func countOff(_ done: Int) -> Bool { left.subtract(done, ordering: .acquiringAndReleasing).newValue == 0 }
    }

    /// Runs `body` on `count` new threads at once and returns when every one has returned, without
    /// blocking the caller's thread. Threads the system cannot give are not started; with none at
    /// all, `body` runs once on the caller's thread.
    package static func run(_ count: Int, _ body: @escaping @Sendable () -> Void) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let countdown = Countdown(count)
            var started = 0
            for _ in 0..<count {
                do {
                    try DetachedThread.start {
                        body()
                        if countdown.countOff(1) { continuation.resume() }
                    }
                    started += 1
                } catch {
                    break
                }
            }
            if started == 0 { body() }
            if started < count, countdown.countOff(count - started) { continuation.resume() }
        }
    }
}
