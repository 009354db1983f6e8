import CgroupFreezer
import Synchronization
import SystemPackage
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A container manager's own command-line tool (LXC's `lxc-info`, `lxc-freeze`), run by a source
/// whose manager must agree with what freezectl does. Written on posix_spawn rather than with
/// swift-subprocess: that package's default build brings full Foundation, and this module is in
/// the kernel-side freezectl, which links FoundationEssentials only (docs/performance.md).
///
/// The tool is looked up in the system's directories only (`/usr/sbin`, `/usr/bin`, `/sbin`,
/// `/bin`), never in the caller's PATH: freezectl runs as root, and a PATH entry the caller
/// controls must not choose the code that runs with its privileges. It gets no input, a fixed
/// environment, at most 64 KiB of each output, and a deadline, after which it is killed.
package struct SourceTool: Sendable {
    /// The system directories searched, in order.
    package static let directories: [FilePath] = ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]
    /// The most of each output kept; the rest is read and dropped.
    static let outputLimit = 64 << 10

    /// What a run left.
    package struct Output: Sendable {
        /// The exit status, or 128 + the signal that ended it.
        package var status: Int32
        package var standardOutput: String
        package var standardError: String
        /// The deadline passed (or the task was cancelled) and the tool was killed.
        package var killed: Bool
    }

    /// The source it serves, for errors.
    package let source: ContainerSource
    /// The tool's name (`lxc-info`).
    package let name: String

    package init(_ name: String, for source: ContainerSource) {
        self.name = name
        self.source = source
    }

    /// Where the tool is, or nil when no system directory has it.
    package var path: FilePath? {
        Self.directories.map { $0.appending(name) }.first { access($0.string, X_OK) == 0 }
    }

    /// Runs the tool with `arguments` and waits for it, at most `timeout`; a cancelled task kills
    /// it too. Throws `sourceUnavailable` when it is not installed, `sourceFailed` when it cannot
    /// be started.
    package func run(_ arguments: [String], timeout: Duration) async throws(ContainerCatalog.Error) -> Output {
        guard let path else {
            throw .sourceUnavailable(source: source.rawValue, path: Self.directories[1].appending(name),
                                     reason: "\(name) is not installed in \(Self.directories.map(\.string).joined(separator: ", "))")
        }
        let child = Child()
        let result: Result<Output, Errno> = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let started: Result<Void, Errno> = Result { () throws(Errno) in
                    try DetachedThread.start {
                        continuation.resume(returning: Self.spawnAndWait(path, arguments, timeout: timeout, child: child))
                    }
                }
                if case .failure(let errno) = started { continuation.resume(returning: .failure(errno)) }
            }
        } onCancel: {
            child.pid.withLock { pid in if pid > 0 { kill(pid, SIGKILL) } }
        }
        switch result {
        case .success(let output): return output
        case .failure(let errno):
            throw .sourceFailed(source: source.rawValue, path: path, reason: "cannot run \(name): \(errno)")
        }
    }

    /// The running tool's PID (0: none), for the cancellation handler to kill.
    private final class Child: Sendable {
        let pid = Mutex<pid_t>(0)
    }

    /// posix_spawn, both outputs read through pipes until they close or the deadline passes
    /// (then SIGKILL), waitpid. Blocks: runs on a thread of its own.
    private static func spawnAndWait(_ path: FilePath, _ arguments: [String], timeout: Duration, child: Child) -> Result<Output, Errno> {
        var outPipe: [Int32] = [-1, -1], errPipe: [Int32] = [-1, -1]
        guard pipe(&outPipe) == 0 else { return .failure(Errno(rawValue: errno)) }
        guard pipe(&errPipe) == 0 else {
            let failure = Errno(rawValue: errno)
            close(outPipe[0]); close(outPipe[1])
            return .failure(failure)
        }
        defer { close(outPipe[0]); close(errPipe[0]) }
        // The read ends must not reach the tool (nor any other child this process starts).
        for fd in outPipe + errPipe { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)
        // The tool starts as from a shell: no signal blocked, every signal at its default (the
        // concurrency runtime's threads block nearly all of them, and a child inherits the mask).
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t(), allSignals = sigset_t()
        sigemptyset(&noSignals)
        sigfillset(&allSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let argv = ([path.string] + arguments).map { strdup($0) } + [nil]
        let variables: [String] = ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C"]
        let environment = variables.map { strdup($0) } + [nil]
        defer { (argv + environment).forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = child.pid.withLock { slot -> Int32 in
            let rc = posix_spawn(&pid, path.string, &actions, &attributes, argv, environment)
            if rc == 0 { slot = pid }
            return rc
        }
        close(outPipe[1]); close(errPipe[1])
        guard spawned == 0 else { return .failure(Errno(rawValue: spawned)) }
        let (out, err, killed) = collect(outPipe[0], errPipe[0], pid: pid, timeout: timeout)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        child.pid.withLock { $0 = 0 }
        let exit = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return .success(Output(status: exit, standardOutput: String(decoding: out, as: UTF8.self),
                               standardError: String(decoding: err, as: UTF8.self), killed: killed))
    }

    /// Reads both pipes until both close; at the deadline the child is killed (its pipes then
    /// close). Each output keeps its first `outputLimit` bytes.
    private static func collect(_ outFD: Int32, _ errFD: Int32, pid: pid_t, timeout: Duration) -> ([UInt8], [UInt8], Bool) {
        let deadline = ContinuousClock.now.advanced(by: timeout)
        var outputs: [[UInt8]] = [[], []]
        var open = [outFD, errFD]
        var killed = false
        var buffer = [UInt8](repeating: 0, count: 4096)
        while open.contains(where: { $0 >= 0 }) {
            var fds = open.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            let left = ContinuousClock.now.duration(to: deadline)
            let wait = killed ? 1000 : Int32(min(max(0, left.milliseconds.rounded(.up)), 3_600_000))
            let ready = poll(&fds, nfds_t(fds.count), wait)
            if ready < 0 && errno == EINTR { continue }
            if ready == 0 {
                // The deadline passed: the tool is killed; its pipes close as it dies (a child it
                // left holding them is waited for at most one more second).
                if killed { break }
                kill(pid, SIGKILL)
                killed = true
                continue
            }
            for index in fds.indices where fds[index].fd >= 0 && fds[index].revents != 0 {
                let count = buffer.withUnsafeMutableBytes { read(fds[index].fd, $0.baseAddress, $0.count) }
                if count <= 0 {
                    if count < 0 && errno == EINTR { continue }
                    open[index] = -1
                } else if outputs[index].count < outputLimit {
                    outputs[index] += buffer[..<min(count, outputLimit - outputs[index].count)]
                }
            }
        }
        return (outputs[0], outputs[1], killed)
    }
}
