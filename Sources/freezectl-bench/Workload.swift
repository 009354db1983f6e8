#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import CKernelFloor
import CgroupFreezer
import Foundation

/// A scratch cgroup in the v1 freezer hierarchy and one in cgroup v2, holding the same sleeping
/// processes, so that one process tree serves both backends. `destroy()` thaws both, kills the
/// processes and removes the directories; `Cleanup` calls it on SIGINT/SIGTERM too.
final class SleeperCgroups: @unchecked Sendable {
    let v1: String?
    let v2: String?
    private(set) var pids: [pid_t] = []

    init(layout: CgroupLayout, name: String, processes: Int) throws {
        v1 = layout.freezer.map { $0.mountPoint.appending(name).string }
        v2 = layout.unified.map { $0.mountPoint.appending(name).string }
        let directories = [v1, v2].compactMap { $0 }
        guard !directories.isEmpty else { throw BenchError("no v1 freezer and no cgroup v2 is mounted") }
        for (index, directory) in directories.enumerated() where mkdir(directory, 0o755) != 0 {
            let reason = String(cString: strerror(errno))
            directories.prefix(index).forEach { rmdir($0) }
            throw BenchError("mkdir \(directory): \(reason)")
        }
        Cleanup.shared.add(self)
        var paths = directories.map { strdup($0 + "/cgroup.procs") }
        defer { paths.forEach { free($0) } }
        var started = [pid_t](repeating: 0, count: processes)
        let count = paths.withUnsafeMutableBufferPointer { buffer in
            buffer.withMemoryRebound(to: UnsafePointer<CChar>?.self) { rebound in
                kf_spawn_sleepers(Int32(processes), rebound.baseAddress, Int32(directories.count), &started)
            }
        }
        pids = Array(started.prefix(max(0, Int(count))))
        guard count == processes else {
            destroy()
            throw BenchError("started \(max(0, count)) of \(processes) sleeping processes (\(count < 0 ? String(cString: strerror(-count)) : "fork failed"))")
        }
    }

    func destroy() {
        if let v1 { _ = kf_v1_thaw(v1 + "/freezer.state") }
        if let v2 { _ = kf_v2_set(v2 + "/cgroup.freeze", v2 + "/cgroup.events", 0) }
        for pid in pids { kill(pid, SIGKILL) }
        for pid in pids { while waitpid(pid, nil, 0) < 0 && errno == EINTR {} }
        pids = []
        for directory in [v1, v2].compactMap({ $0 }) {
            // The kernel removes a task from its cgroups shortly after it is reaped.
            for _ in 0..<200 where rmdir(directory) != 0 && errno == EBUSY { usleep(5_000) }
        }
        Cleanup.shared.remove(self)
    }
}

/// What the benchmark must undo, also when it is interrupted: sleeping process trees,
/// containers, dockerd. SIGINT and SIGTERM only raise a flag; the benchmark's own thread stops at
/// its next step (`checkInterrupted`) and undoes everything on its way out, so the undoing never
/// races the work it undoes.
final class Cleanup: @unchecked Sendable {
    static let shared = Cleanup()
    private let lock = NSLock()
    private var sleepers: [ObjectIdentifier: SleeperCgroups] = [:]
    private var actions: [(id: Int, run: () -> Void)] = []
    private var nextID = 0
    private var interrupted = false
    private var signalSources: [DispatchSourceSignal] = []

    struct Interrupted: Error, CustomStringConvertible {
        var description: String { "interrupted" }
    }

    var isInterrupted: Bool { lock.withLock { interrupted } }

    /// Throws `Interrupted` once SIGINT or SIGTERM arrived.
    func checkInterrupted() throws {
        if isInterrupted { throw Interrupted() }
    }

    func add(_ cgroups: SleeperCgroups) { lock.withLock { sleepers[ObjectIdentifier(cgroups)] = cgroups } }
    func remove(_ cgroups: SleeperCgroups) { _ = lock.withLock { sleepers.removeValue(forKey: ObjectIdentifier(cgroups)) } }

    /// Registers an undo step; returns a token for `remove(action:)`.
    func add(_ run: @escaping () -> Void) -> Int {
        lock.withLock {
            nextID += 1
            actions.append((nextID, run))
            return nextID
        }
    }

    func remove(action id: Int) { lock.withLock { actions.removeAll { $0.id == id } } }

    /// Undoes everything still registered, newest first.
    func runAll() {
        let (cgroups, steps) = lock.withLock { (Array(sleepers.values), actions.reversed()) }
        cgroups.forEach { $0.destroy() }
        steps.forEach { $0.run() }
        lock.withLock { actions = [] }
    }

    /// SIGINT or SIGTERM: note it; the benchmark stops at its next step and cleans up.
    func installSignalHandlers() {
        for signalNumber in [SIGINT, SIGTERM] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler { [self] in
                FileHandle.standardError.write(Data("freezectl-bench: interrupted; cleaning up after the current step\n".utf8))
                lock.withLock { interrupted = true }
            }
            source.resume()
            signalSources.append(source)
        }
    }
}
