#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Foundation

/// Processes of Benchmarks/memory-workload.c in a cgroup of their own, each holding `megabytes`
/// of anonymous memory; their standard output (the time each finished touching its memory) comes
/// to one pipe. `destroy()` thaws the cgroup, kills the processes and removes it; `Cleanup` runs
/// it on SIGINT/SIGTERM too.
final class MemoryWorkloads: @unchecked Sendable {
    let cgroup: String
    private(set) var pids: [pid_t] = []
    private let directories: [String]
    private var pipe: (read: Int32, write: Int32) = (-1, -1)
    private var cleanup = 0
    private let spawner: Spawner

    init(binary: String, cgroup: String, processes: Int, megabytes: Int, spawner: Spawner, scratch: String) throws {
        self.cgroup = cgroup
        self.spawner = spawner
        directories = (0..<processes).map { scratch + "/deep-\($0)" }
        guard mkdir(cgroup, 0o755) == 0 else { throw BenchError("mkdir \(cgroup): \(String(cString: strerror(errno)))") }
        cleanup = Cleanup.shared.add { [self] in destroy() }
        var fds: [Int32] = [-1, -1]
        guard Glibc.pipe(&fds) == 0 else { throw BenchError("pipe: \(String(cString: strerror(errno)))") }
        pipe = (fds[0], fds[1])
        // Only the workloads' standard output is the pipe's write end (posix_spawn's dup2 clears
        // the flag there): no other child of the harness keeps it open.
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        for directory in directories {
            try? FileManager.default.removeItem(atPath: directory)
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
            // The shell enters the cgroup, then becomes the workload: the workload is in it from its start.
            let started = try spawner.spawn("/bin/sh", ["-c", #"echo $$ > "$0/cgroup.procs" && exec "$1" "$2" "$3""#, cgroup, binary, "\(megabytes)", directory],
                                            standardOutput: pipe.write, standardError: nil)
            pids.append(started.pid)
        }
        let deadline = Date().addingTimeInterval(300)
        while !directories.allSatisfy({ FileManager.default.fileExists(atPath: $0 + "/ready") }) {
            try Cleanup.shared.checkInterrupted()
            guard Date() < deadline, pids.allSatisfy({ kill($0, 0) == 0 }) else { throw BenchError("the memory workloads did not fill their memory") }
            usleep(10_000)
        }
    }

    /// The resident memory of the workloads as the kernel counts it (VmRSS), in KiB.
    func residentKiB() -> Int {
        pids.reduce(0) { $0 + DaemonSuite.residentKiB($1) }
    }

    /// The wake of the frozen workloads: each is asked to touch all its memory (SIGUSR1, handled
    /// at the thaw), then `freezectl unpause [--prefetch]` runs. Seconds from the unpause's start
    /// to the last workload done (or the unpause's end, if later).
    func wake(freezectl: String, prefetch: Bool) throws -> Double {
        for pid in pids { kill(pid, SIGUSR1) }
        let start = Self.now()
        let unpause = try spawner.must(freezectl, ["unpause", "-q"] + (prefetch ? ["--prefetch"] : []) + [cgroup])
        let done = try readTimes().max() ?? 0
        return max(Double(done - start) / 1e9, unpause.seconds)
    }

    /// Every workload writes all its memory again (it runs and uses it: its pages are dirty,
    /// resident, and a reclaim must write them out anew); returns when all are done.
    func dirty() throws {
        for pid in pids { kill(pid, SIGUSR2) }
        _ = try readTimes()
    }

    /// One line per workload from the pipe: the CLOCK_MONOTONIC nanoseconds it finished at.
    private func readTimes() throws -> [Int64] {
        var text = ""
        var buffer = [UInt8](repeating: 0, count: 4096)
        while text.filter({ $0 == "\n" }).count < pids.count {
            var fd = pollfd(fd: pipe.read, events: Int16(POLLIN), revents: 0)
            guard poll(&fd, 1, 120_000) == 1 else { throw BenchError("the memory workloads did not answer within 120 s") }
            let count = read(pipe.read, &buffer, buffer.count)
            guard count > 0 else { throw BenchError("the memory workloads' pipe: \(String(cString: strerror(errno)))") }
            text += String(decoding: buffer.prefix(count), as: UTF8.self)
        }
        return text.split(separator: "\n").compactMap { Int64($0) }
    }

    static func now() -> Int64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Int64(time.tv_sec) * 1_000_000_000 + Int64(time.tv_nsec)
    }

    func destroy() {
        // Thawed first: a frozen process cannot die of SIGKILL until it is.
        _ = try? "THAWED".write(toFile: cgroup + "/freezer.state", atomically: false, encoding: .utf8)
        for pid in pids { kill(pid, SIGKILL) }
        for pid in pids { while waitpid(pid, nil, 0) < 0 && errno == EINTR {} }
        pids = []
        for _ in 0..<200 where rmdir(cgroup) != 0 && errno == EBUSY { usleep(5_000) }
        for fd in [pipe.read, pipe.write] where fd >= 0 { close(fd) }
        pipe = (-1, -1)
        directories.forEach { try? FileManager.default.removeItem(atPath: $0) }
        Cleanup.shared.remove(action: cleanup)
    }
}

/// Swap for the deep pause: the machine's own, or zram0 made swap for the run and put back as
/// it was found (swapoff, reset) by `remove`, also on SIGINT/SIGTERM.
struct BenchSwap {
    let made: Bool
    private var cleanup = 0

    static func setUp(spawner: Spawner) -> Result<BenchSwap, BenchError> {
        let swaps = (try? String(contentsOfFile: "/proc/swaps", encoding: .utf8)) ?? ""
        if swaps.split(separator: "\n").count > 1 { return .success(BenchSwap(made: false)) }
        let size = ((try? String(contentsOfFile: "/sys/block/zram0/disksize", encoding: .utf8)) ?? "absent").trimmingCharacters(in: .whitespacesAndNewlines)
        guard size == "0" else { return .failure(BenchError("no swap, and zram0 is absent or in use (disksize \(size)); docs/deep-pause.md says how to give the machine swap")) }
        var swap = BenchSwap(made: true)
        swap.cleanup = Cleanup.shared.add { [spawner] in BenchSwap(made: true).takeDown(spawner: spawner) }
        guard (try? "2G".write(toFile: "/sys/block/zram0/disksize", atomically: false, encoding: .utf8)) != nil,
              (try? spawner.run("/sbin/mkswap", ["/dev/zram0"]))?.status == 0,
              (try? spawner.run("/sbin/swapon", ["/dev/zram0"]))?.status == 0 else {
            swap.remove(spawner: spawner)
            return .failure(BenchError("zram0 could not be made swap (disksize, mkswap, swapon)"))
        }
        return .success(swap)
    }

    func remove(spawner: Spawner) {
        guard made else { return }
        takeDown(spawner: spawner)
        Cleanup.shared.remove(action: cleanup)
    }

    private func takeDown(spawner: Spawner) {
        _ = try? spawner.run("/sbin/swapoff", ["/dev/zram0"])
        _ = try? "1".write(toFile: "/sys/block/zram0/reset", atomically: false, encoding: .utf8)
    }
}
