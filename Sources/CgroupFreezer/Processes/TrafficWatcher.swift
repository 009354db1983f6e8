import CLinuxSupport
import Synchronization
import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// Wakes on traffic (issue 34): watches the sockets of frozen targets and says which target got
/// the first packet: a connection waiting on a listening socket, data on an established one, a
/// datagram, a peer that hung up. Event-driven: one epoll set for every watched target, on one
/// thread of its own that sleeps in epoll_wait; nothing is polled.
///
/// A frozen process cannot take its queued connections and data, so the kernel keeps them: the
/// sockets stay readable until the target is thawed and reads them. The watcher holds copies of
/// the target's socket descriptors (pidfd_getfd: the same open sockets, not new ones) only to wait
/// on them; it never reads, writes, accepts or shuts one down, and closes its copies when the
/// target is unwatched or has woken.
public final class TrafficWatcher: Sendable {
    /// What woke a target.
    public struct Activity: Sendable, Equatable {
        /// The watch it belongs to (`watch(_:)`'s answer).
        public let watch: UInt64
        /// The socket that became readable: `tcp`, `udp`, `unix`, ... with its local port, and
        /// whether it listens.
        public let socket: SocketKind
        /// When epoll said so: the wake's latency is measured from here.
        public let at: ContinuousClock.Instant
    }

    /// A socket as the wake event names it.
    public struct SocketKind: Sendable, Equatable, CustomStringConvertible {
        public let protocolName: String
        public let port: Int
        public let listening: Bool

        public var description: String {
            (port > 0 ? "\(protocolName)/\(port)" : protocolName) + (listening ? " (listening)" : "")
        }
    }

    /// Why a target cannot be watched.
    public enum Error: FreezectlError, Equatable {
        /// pidfd_getfd or epoll failed (EPERM: no ptrace access to the target's processes).
        case unavailable(String, errno: Errno)
        /// More sockets than one target may make the watcher hold.
        case tooManySockets(Int)

        public var code: String { "traffic-watch" }

        public var message: String {
            switch self {
            case .unavailable(let what, let errno): return "the target's sockets cannot be watched: \(what): \(errno)"
            case .tooManySockets(let count): return "the target holds \(count) sockets, more than the \(TrafficWatcher.socketLimit) one target may have watched"
            }
        }

        public var errno: Errno? {
            if case .unavailable(_, let errno) = self { return errno }
            return nil
        }
    }

    /// The most sockets of one target the watcher holds a descriptor for.
    public static let socketLimit = 4096

    private struct Watched: Sendable {
        var descriptors: [Int32]
        var sockets: [SocketKind]
    }

    private struct State: Sendable {
        var watches: [UInt64: Watched] = [:]
        var nextWatch: UInt64 = 1
        var stopped = false
    }

    private let epoll: Int32
    /// Written by `stop()`: wakes the thread out of epoll_wait.
    private let stopEvent: Int32
    private let state = Mutex(State())
    private let continuation: AsyncStream<Activity>.Continuation
    /// The first packet of each watched target, once; a watch ends with it. One consumer for the
    /// watcher's life: an iteration that ends (its task cancelled) ends the stream.
    public let activity: AsyncStream<Activity>

    /// Key of the stop event in the epoll set; sockets' keys are a watch and an index below 2^20.
    private static let stopKey: UInt64 = 0

    public init() throws(Error) {
        epoll = clinux_epoll_create()
        guard epoll >= 0 else { throw .unavailable("epoll_create1", errno: Errno(rawValue: Glibc.errno)) }
        stopEvent = clinux_eventfd()
        guard stopEvent >= 0, clinux_epoll_add(epoll, stopEvent, CLINUX_EPOLLIN, Self.stopKey) == 0 else {
            let errno = Errno(rawValue: Glibc.errno)
            Glibc.close(epoll)
            throw .unavailable("eventfd", errno: errno)
        }
        (activity, continuation) = AsyncStream.makeStream(bufferingPolicy: .unbounded)
        do {
            try DetachedThread.start { [self] in run() }
        } catch {
            Glibc.close(epoll)
            Glibc.close(stopEvent)
            throw .unavailable("pthread_create", errno: error)
        }
    }

    /// Watches every socket the processes of `target`'s tree hold (a frozen target's: they cannot
    /// open others meanwhile). Returns the watch's key, which `activity` names when the first
    /// packet comes; a socket already readable (data queued before the freeze) reports at once.
    public func watch(_ target: FreezerTarget, freezer: CgroupFreezer) throws(Error) -> UInt64 {
        let descriptors = try Self.copySockets(of: target, freezer: freezer)
        let id = state.withLock { state -> UInt64 in
            defer { state.nextWatch += 1 }
            return state.nextWatch
        }
        var sockets: [SocketKind] = []
        for (index, fd) in descriptors.enumerated() {
            sockets.append(Self.kind(of: fd))
            guard clinux_epoll_add(epoll, fd, CLINUX_EPOLLIN | CLINUX_EPOLLRDHUP, id << 20 | UInt64(index) + 1) == 0 else {
                let errno = Errno(rawValue: Glibc.errno)
                descriptors.forEach { Glibc.close($0) }
                throw .unavailable("epoll_ctl", errno: errno)
            }
        }
        state.withLock { $0.watches[id] = Watched(descriptors: descriptors, sockets: sockets) }
        return id
    }

    /// The number of sockets a watch holds (0 once it ended).
    public func socketCount(_ watch: UInt64) -> Int {
        state.withLock { $0.watches[watch]?.descriptors.count ?? 0 }
    }

    /// Stops watching (the target was thawed some other way, or went away); its descriptors are closed.
    public func unwatch(_ watch: UInt64) {
        guard let watched = state.withLock({ $0.watches.removeValue(forKey: watch) }) else { return }
        close(watched)
    }

    /// Ends the thread and every watch; `activity` finishes.
    public func stop() {
        guard state.withLock({ state -> Bool in
            defer { state.stopped = true }
            return !state.stopped
        }) else { return }
        var one: UInt64 = 1
        _ = Glibc.write(stopEvent, &one, 8)
    }

    private func close(_ watched: Watched) {
        for fd in watched.descriptors {
            _ = clinux_epoll_delete(epoll, fd)
            Glibc.close(fd)
        }
    }

    /// The thread: waits for readable sockets, reports each watch once and ends it.
    private func run() {
        var keys = [UInt64](repeating: 0, count: 64)
        var events = [UInt32](repeating: 0, count: 64)
        loop: while true {
            let count = clinux_epoll_wait(epoll, &keys, &events, 64, -1)
            guard count >= 0 else { break }
            let now = ContinuousClock.now
            for index in 0..<Int(count) {
                if keys[index] == Self.stopKey { break loop }
                let watch = keys[index] >> 20, socket = Int(keys[index] & 0xfffff) - 1
                guard let watched = state.withLock({ $0.watches.removeValue(forKey: watch) }) else { continue }
                close(watched)
                continuation.yield(Activity(watch: watch, socket: watched.sockets[socket], at: now))
            }
        }
        let left = state.withLock { state in
            defer { state.watches = [:] }
            return Array(state.watches.values)
        }
        left.forEach(close)
        Glibc.close(epoll)
        Glibc.close(stopEvent)
        continuation.finish()
    }

    /// Copies of the sockets the tree's processes hold, each once (by inode). Each process is
    /// reached through a pidfd opened before its cgroup is checked: a PID reused by a process
    /// outside the target is never touched (holding a copy of someone else's listening socket
    /// would keep its port bound), and every copy is checked to be a socket.
    private static func copySockets(of target: FreezerTarget, freezer: CgroupFreezer) throws(Error) -> [Int32] {
        var seen: Set<String> = []
        var copies: [Int32] = []
        for pid in freezer.processes(of: target) {
            let pidfd = clinux_pidfd_open(pid)
            guard pidfd >= 0 else { continue }
            defer { Glibc.close(pidfd) }
            guard freezer.isInTree(pid, of: target), case .success(let entries) = Syscall.symbolicLinks(of: FilePath("/proc/\(pid)/fd")) else { continue }
            for entry in entries {
                guard let fd = Int32(entry), let target = Syscall.linkTarget(FilePath("/proc/\(pid)/fd/\(entry)")),
                      target.hasPrefix("socket:["), seen.insert(target).inserted else { continue }
                let copy = clinux_pidfd_getfd(pidfd, fd)
                guard copy >= 0 else {
                    let errno = Errno(rawValue: Glibc.errno)
                    // Closed since it was listed, or the process exited: not a socket to watch.
                    if errno == .badFileDescriptor || errno == .noSuchProcess { continue }
                    copies.forEach { Glibc.close($0) }
                    throw .unavailable("pidfd_getfd of process \(pid)'s descriptor \(fd)", errno: errno)
                }
                var info = stat()
                guard fstat(copy, &info) == 0, info.st_mode & S_IFMT == S_IFSOCK else {
                    Glibc.close(copy)
                    continue
                }
                copies.append(copy)
                if copies.count > socketLimit {
                    copies.forEach { Glibc.close($0) }
                    throw .tooManySockets(copies.count)
                }
            }
        }
        return copies
    }

    private static func kind(of fd: Int32) -> SocketKind {
        var info = clinux_socket_info()
        guard clinux_socket_info(fd, &info) == 0 else { return SocketKind(protocolName: "socket", port: 0, listening: false) }
        let name: String
        switch (info.family, info.protocol) {
        case (Int32(AF_UNIX), _): name = "unix"
        case (_, Int32(IPPROTO_TCP)): name = "tcp"
        case (_, Int32(IPPROTO_UDP)): name = "udp"
        default: name = "socket"
        }
        return SocketKind(protocolName: name, port: Int(info.port), listening: info.listening != 0)
    }
}
