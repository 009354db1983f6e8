#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import SystemPackage

/// An exclusive flock(2) on a cgroup directory, held for one freeze or thaw, so that two
/// freezectl runs (or two tasks of one embedder) on one cgroup take turns. Without it a v1
/// retry loop that thaws and refreezes a stuck FREEZING cgroup could undo a concurrent request,
/// and a timed-out freeze could restore a state that a concurrent call had just changed.
///
/// flock works on any open file, cgroupfs directories included, and the kernel drops it when the
/// descriptor is closed, also when the process dies: a killed freezectl never leaves it held.
struct CgroupLock {
    private let fd: Int32

    /// Waits for the lock until `deadline`; throws `busy` naming the cgroup when another holder keeps it.
    init(_ cgroup: CgroupDirectory, deadline: ContinuousClock.Instant, timeout: Duration) async throws {
        let fd = open(cgroup.path.string, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else {
            let error = Errno(rawValue: errno)
            if error == .noSuchFileOrDirectory { throw CgroupLayout.Error.notFound(path: cgroup.path) }
            throw CgroupLayout.Error.io(path: cgroup.path, operation: "open (to lock)", errno: error)
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
