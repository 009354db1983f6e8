import CgroupFreezer
import Foundation
import SystemPackage
import Testing

/// A scratch cgroup on the real kernel, in the v1 freezer hierarchy or the v2 hierarchy, with
/// helpers to start workloads in it. `destroy()` thaws it, kills every process in it and removes
/// it with its children; tests call it in a `defer`, so it runs when they fail too.
final class TestCgroup: @unchecked Sendable {
    let hierarchy: Hierarchy
    /// The path relative to the hierarchy root, e.g. `/freezectl-test-1234-5`.
    let relativePath: String
    let path: String

    static let layout: CgroupLayout = try! CgroupLayout.current()
    nonisolated(unsafe) private static var counter = 0

    /// Creates `/freezectl-test-<pid>-<n>` (or `/name`) in the hierarchy of `version`.
    init(_ version: Hierarchy.Version, name: String? = nil) throws {
        let hierarchy = try #require(version == .v1 ? Self.layout.freezer : Self.layout.unified,
                                     "no \(version) freezer hierarchy mounted")
        Self.counter += 1
        let name = name ?? "freezectl-test-\(getpid())-\(Self.counter)"
        self.hierarchy = hierarchy
        self.relativePath = "/" + name
        self.path = hierarchy.mountPoint.appending(name).string
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
    }

    private init(hierarchy: Hierarchy, relativePath: String, path: String) {
        self.hierarchy = hierarchy
        self.relativePath = relativePath
        self.path = path
    }

    /// The cgroup `relativePath` of every hierarchy where it exists, the freezer's and v2's first
    /// (thawed before anything is killed): for cgroups a test did not create, such as those of a
    /// daemon it killed, so that `destroy()` cleans them up.
    static func existing(_ relativePath: String) -> [TestCgroup] {
        let hierarchies = [layout.freezer, layout.unified].compactMap { $0 } +
            layout.hierarchies.filter { $0 != layout.freezer && $0 != layout.unified }
        return hierarchies.compactMap { hierarchy in
            let path = hierarchy.mountPoint.string + relativePath
            return FileManager.default.fileExists(atPath: path) ? TestCgroup(hierarchy: hierarchy, relativePath: relativePath, path: path) : nil
        }
    }

    /// Creates a child cgroup (removed by the parent's `destroy()`).
    func child(_ name: String) throws -> TestCgroup {
        let child = TestCgroup(hierarchy: hierarchy, relativePath: relativePath + "/" + name, path: path + "/" + name)
        try FileManager.default.createDirectory(atPath: child.path, withIntermediateDirectories: false)
        return child
    }

    func file(_ name: String) -> String { path + "/" + name }

    func read(_ name: String) -> String {
        ((try? String(contentsOfFile: file(name), encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func write(_ value: String, _ name: String) throws {
        try value.write(toFile: file(name), atomically: false, encoding: .utf8)
    }

    /// The freeze request as the kernel shows it: `freezer.self_freezing` or `cgroup.freeze`.
    var selfFrozen: Bool {
        hierarchy.version == .v1 ? read("freezer.self_freezing") == "1" : read("cgroup.freeze") == "1"
    }

    /// The effective state as the kernel shows it: `freezer.state` is FROZEN or `cgroup.events` has `frozen 1`.
    var kernelFrozen: Bool {
        hierarchy.version == .v1 ? read("freezer.state") == "FROZEN" : read("cgroup.events").contains("frozen 1")
    }

    /// Every PID in this cgroup and below.
    var pids: [Int32] {
        subtreeDirectories().flatMap { directory in
            // Read to EOF: kernfs reports a size of one page, and reading by size cuts cgroup.procs there.
            String(decoding: FileHandle(forReadingAtPath: directory + "/cgroup.procs")?.readDataToEndOfFile() ?? Data(), as: UTF8.self)
                .split(separator: "\n").compactMap { Int32($0) }
        }
    }

    /// Starts `/bin/sh -c script` after moving the shell into this cgroup; returns once it is inside.
    @discardableResult
    func start(_ script: String) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        let quoted = script.replacingOccurrences(of: "'", with: "'\\''")
        process.arguments = ["-c", "echo $$ > \(file("cgroup.procs")) && exec /bin/sh -c '\(quoted)'"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let pid = process.processIdentifier
        for _ in 0..<500 where !pids.contains(pid) { usleep(2000) }
        #expect(pids.contains(pid), "workload \(pid) did not enter \(path)")
        return pid
    }

    /// A tree of `workers` shells that keep forking (a `sleep` every 20 ms) and count in files
    /// under `counters`: 1 + 2 × workers processes most of the time.
    func startCountingTree(workers: Int, counters: ScratchDirectory) throws {
        try start("""
        i=0
        while [ $i -lt \(workers) ]; do
          ( n=0; while :; do sleep 0.02; n=$((n+1)); echo $n > \(counters.path)/c$i; done ) &
          i=$((i+1))
        done
        wait
        """)
    }

    /// A tree of `workers` shells spinning on the CPU. They all wait on a FIFO until the tree is
    /// complete and then start spinning together (forking 300 processes next to spinning ones
    /// would take minutes on two cores).
    func startBusyTree(workers: Int, scratch: ScratchDirectory) throws {
        let fifo = scratch.path + "/go"
        #expect(mkfifo(fifo, 0o600) == 0)
        try start("i=0; while [ $i -lt \(workers) ]; do ( read x < \(fifo); while :; do :; done ) & i=$((i+1)); done; wait")
        waitForProcesses(atLeast: workers + 1)
        // Opening the FIFO for writing releases every reader; closing it gives each one EOF.
        let fd = open(fifo, O_WRONLY)
        #expect(fd >= 0)
        close(fd)
    }

    /// Waits until at least `count` processes are in the subtree.
    func waitForProcesses(atLeast count: Int, seconds: Double = 20) {
        let end = Date().addingTimeInterval(seconds)
        while pids.count < count && Date() < end { usleep(10_000) }
    }

    /// Thaws, kills every process, and removes this cgroup and its children. Never throws.
    func destroy() {
        guard FileManager.default.fileExists(atPath: path) else { return }
        for directory in subtreeDirectories() {
            if hierarchy.version == .v1 {
                try? "THAWED".write(toFile: directory + "/freezer.state", atomically: false, encoding: .utf8)
            } else {
                try? "0".write(toFile: directory + "/cgroup.freeze", atomically: false, encoding: .utf8)
            }
        }
        let end = Date().addingTimeInterval(10)
        repeat {
            let remaining = pids
            if remaining.isEmpty { break }
            for pid in remaining { kill(pid, SIGKILL) }
            usleep(5000)
        } while Date() < end
        for directory in subtreeDirectories().reversed() {
            for _ in 0..<300 {
                if rmdir(directory) == 0 || errno == ENOENT { break }
                usleep(10_000)
            }
        }
        reapChildren()
    }

    /// This directory and every directory below it, parents first.
    private func subtreeDirectories() -> [String] {
        var result = [path]
        var index = 0
        while index < result.count {
            let directory = result[index]
            for name in ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).sorted() {
                var isDirectory: ObjCBool = false
                let child = directory + "/" + name
                if FileManager.default.fileExists(atPath: child, isDirectory: &isDirectory), isDirectory.boolValue {
                    result.append(child)
                }
            }
            index += 1
        }
        return result
    }
}

/// Reaps exited children of the test process that nobody waits for (the workload shells).
func reapChildren() {
    var status: Int32 = 0
    while waitpid(-1, &status, WNOHANG) > 0 {}
}

/// What /proc says about a process being frozen, read independently of the library:
/// a task frozen by the v1 freezer shows state D (TASK_FROZEN); one frozen by the v2 freezer
/// waits in the signal-delivery freezer trap (wchan get_signal / do_freezer_trap), or in vfork
/// for a frozen child.
/// nil when the process is gone or a zombie (it cannot run either way).
func procShowsFrozen(_ pid: Int32, _ version: Hierarchy.Version) -> Bool? {
    guard let state = procState(pid), state != "Z" else { return nil }
    switch version {
    case .v1:
        return state == "D"
    case .v2:
        guard let wchan = try? String(contentsOfFile: "/proc/\(pid)/wchan", encoding: .utf8) else { return nil }
        // A vfork parent whose child is frozen waits for it and counts as frozen
        // (cgroup_enter_frozen in kernel/fork.c); dash vforks to run `sleep`.
        return ["get_signal", "do_freezer_trap", "kernel_clone", "wait_for_vfork_done"].contains(wchan)
    }
}

/// The fields of /proc/PID/stat after the command name (element 0 is the state letter, 19 the
/// start time), read independently of the library; nil when the process is gone.
func procStatFields(_ pid: Int32) -> [String]? {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = stat.lastIndex(of: ")") else { return nil }
    return stat[stat.index(after: close)...].split(separator: " ").map(String.init)
}

/// The state letter of /proc/PID/stat, and the wchan, for messages.
func procState(_ pid: Int32) -> String? {
    procStatFields(pid)?.first
}

/// The start time of /proc/PID/stat (field 22): what runc records as `init_process_start`.
func procStartTime(_ pid: Int32) throws -> String {
    let fields = try #require(procStatFields(pid), "process \(pid) is gone")
    return try #require(fields.count > 19 ? fields[19] : nil, "no start time for \(pid)")
}

func procDescription(_ pid: Int32) -> String {
    let wchan = (try? String(contentsOfFile: "/proc/\(pid)/wchan", encoding: .utf8)) ?? "?"
    let cmdline = ((try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8)) ?? "?").replacingOccurrences(of: "\0", with: " ")
    return "\(pid) state \(procState(pid) ?? "gone") wchan \(wchan) cmd \(cmdline)"
}

/// A scratch directory under /tmp, removed by `remove()`.
struct ScratchDirectory {
    let path: String

    init() throws {
        path = "/tmp/freezectl-test-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func remove() { try? FileManager.default.removeItem(atPath: path) }

    /// The sum of the integers in every file of the directory: the counting tree's progress.
    var counterSum: Int {
        ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).reduce(0) { sum, name in
            sum + (Int(((try? String(contentsOfFile: path + "/" + name, encoding: .utf8)) ?? "")
                .trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0)
        }
    }
}
