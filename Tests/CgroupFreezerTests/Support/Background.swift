import Foundation
import Testing

/// A freezectl (or other) process running while the test acts on it: signalled, then waited for.
/// Output goes to files, so a process whose reader is gone is what a test makes on purpose only.
final class BackgroundProcess: @unchecked Sendable {
    let process = Process()
    private let scratch: ScratchDirectory

    init(_ command: String, _ arguments: [String], environment: [String: String] = [:]) throws {
        scratch = try ScratchDirectory()
        FileManager.default.createFile(atPath: scratch.path + "/out", contents: nil)
        FileManager.default.createFile(atPath: scratch.path + "/err", contents: nil)
        process.executableURL = URL(fileURLWithPath: command)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle(forWritingAtPath: scratch.path + "/out")
        process.standardError = FileHandle(forWritingAtPath: scratch.path + "/err")
        try process.run()
    }

    var pid: Int32 { process.processIdentifier }

    /// What it wrote on standard output so far.
    var stdoutSoFar: String { (try? String(contentsOfFile: scratch.path + "/out", encoding: .utf8)) ?? "" }

    /// What it wrote on standard error so far.
    var stderrSoFar: String { (try? String(contentsOfFile: scratch.path + "/err", encoding: .utf8)) ?? "" }

    func signal(_ number: Int32) { kill(process.processIdentifier, number) }

    /// Waits up to `seconds`; a process still running then is killed and the test fails.
    func wait(seconds: Double) -> (status: Int32, exited: Bool, stdout: String, stderr: String) {
        let end = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < end { usleep(10_000) }
        if process.isRunning {
            Issue.record("\(process.arguments ?? []) still runs after \(seconds) s")
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        defer { scratch.remove() }
        return (process.terminationStatus, process.terminationReason == .exit,
                (try? String(contentsOfFile: scratch.path + "/out", encoding: .utf8)) ?? "",
                (try? String(contentsOfFile: scratch.path + "/err", encoding: .utf8)) ?? "")
    }
}

/// Waits until `condition` holds, up to `seconds`; returns whether it did.
@discardableResult
func eventually(seconds: Double = 10, _ condition: () -> Bool) -> Bool {
    let end = Date().addingTimeInterval(seconds)
    while !condition() {
        if Date() >= end { return false }
        usleep(10_000)
    }
    return true
}

/// A process in `cgroup` that the v2 freezer cannot freeze (../shared/test-environments.md): it
/// is blocked on a FUSE mount whose server never answers, mounted in a mount namespace of its
/// own (the host's mount table never sees it). `stop()` kills it and the namespace goes with it.
final class StuckOnFUSE: @unchecked Sendable {
    private let holder = Process()
    let stuck: Int32

    init(in cgroup: TestCgroup, scratch: ScratchDirectory) throws {
        let directory = scratch.path + "/fuse"
        let pidFile = scratch.path + "/stuck.pid"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        // fd 3 is the FUSE connection: held open by the final `sleep`, never read, so every
        // request on the mount waits for ever. `mount -i`: the kernel's mount itself, not
        // fuse3's /sbin/mount.fuse helper (podman brings it), which would not take fd=3.
        let script = """
        exec 3<>/dev/fuse
        mount -i -t fuse -o fd=3,rootmode=40000,user_id=0,group_id=0 freezectl-test \(directory)
        sh -c 'echo $$ > \(cgroup.file("cgroup.procs")); exec stat \(directory)/x' </dev/null >/dev/null 2>&1 &
        echo $! > \(pidFile)
        exec sleep 1000
        """
        holder.executableURL = URL(fileURLWithPath: "/usr/bin/unshare")
        holder.arguments = ["--mount", "--propagation", "private", "/bin/sh", "-c", script]
        holder.standardInput = FileHandle.nullDevice
        holder.standardOutput = FileHandle.nullDevice
        holder.standardError = FileHandle.nullDevice
        try holder.run()
        var pid: Int32 = 0
        eventually { pid = Int32(((try? String(contentsOfFile: pidFile, encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0; return pid > 0 }
        stuck = pid
        let blocked = pid > 0 && eventually { cgroup.pids.contains(pid) && procState(pid) == "D" }
        guard blocked else {
            // Not set up: nothing else will stop the holder.
            let description = pid > 0 ? procDescription(pid) : "the FUSE holder did not start"
            stop()
            try #require(Bool(false), "\(description) is not blocked on FUSE")
            return
        }
    }

    func stop() {
        // 0 would signal this process's own group.
        if stuck > 0 { kill(stuck, SIGKILL) }
        holder.terminate()
        holder.waitUntilExit()
        eventually { procState(stuck) == nil || procState(stuck) == "Z" }
        reapChildren()
    }
}

/// The JSON records of an audit log.
func auditRecords(_ path: String) -> [[String: Any]] {
    ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n").compactMap {
        try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
    }
}

/// PIDs whose command line is exactly `arguments`.
func processes(withCommandLine arguments: [String]) -> [Int32] {
    let wanted = arguments.joined(separator: "\0") + "\0"
    return ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { Int32($0) }.filter { pid in
        (try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8)) == wanted
    }
}

/// A freezectld of a test's own: its socket, state directory and audit log in `scratch`.
/// `start()` returns once it answers (a killed daemon's socket file stays behind); `cleanUp()`,
/// in a `defer`, kills one still running, also when the test fails.
final class TestDaemon: @unchecked Sendable {
    let socket: String
    let state: String
    let auditLog: String
    private(set) var process: BackgroundProcess?
    /// More of freezectld's options (a policy, the socket's group).
    var options: [String] = []

    init(in scratch: ScratchDirectory) {
        socket = scratch.path + "/freezectl.sock"
        state = scratch.path + "/state"
        auditLog = scratch.path + "/audit.jsonl"
    }

    var arguments: [String] { ["--socket", socket, "--state-dir", state, "--audit-log", auditLog] + options }

    /// Starts it (again) and waits until it answers.
    func start() throws {
        process = try BackgroundProcess(DaemonTests.binary, arguments)
        try #require(eventually(seconds: 20) {
            (try? run("/usr/bin/curl", ["-sf", "-o", "/dev/null", "--unix-socket", socket, "http://localhost/v1/leases"]))?.status == 0
        }, "freezectld did not answer on \(socket)")
    }

    /// Sends `number` and waits for the daemon to end.
    @discardableResult
    func stop(_ number: Int32) -> (status: Int32, exited: Bool, stdout: String, stderr: String)? {
        guard let process else { return nil }
        process.signal(number)
        return process.wait(seconds: 10)
    }

    func cleanUp() {
        if let process, process.process.isRunning { stop(SIGKILL) }
    }
}
