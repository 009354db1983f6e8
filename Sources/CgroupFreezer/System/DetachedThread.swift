#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
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
