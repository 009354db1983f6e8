#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import CgroupFreezer
import Foundation

/// A read-only busybox root filesystem that every benchmark container shares.
func makeBusyboxRootfs(at directory: String) throws {
    let bin = directory + "/bin"
    try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
    guard let busybox = which("busybox") else { throw BenchError("busybox is needed: apt-get install busybox-static") }
    try FileManager.default.copyItem(atPath: busybox, toPath: bin + "/busybox")
    for applet in ["sh", "sleep", "mkdir", "echo"] {
        try FileManager.default.createSymbolicLink(atPath: bin + "/" + applet, withDestinationPath: "busybox")
    }
}

/// The v1 freezer state (or v2 `frozen`) of the cgroup a process is in, read from the kernel:
/// how the benchmark checks that a timed command really paused what it says it paused.
func kernelFrozen(pid: Int32, layout: CgroupLayout) -> Bool? {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/cgroup", encoding: .utf8) else { return nil }
    for line in text.split(separator: "\n") {
        let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
        guard fields.count == 3 else { continue }
        if let freezer = layout.freezer, fields[1].split(separator: ",").contains("freezer"),
           let directory = freezer.directory(forCgroupPath: String(fields[2])) {
            let state = try? String(contentsOfFile: directory.string + "/freezer.state", encoding: .utf8)
            return state?.hasPrefix("FROZEN")
        }
    }
    for line in text.split(separator: "\n") where line.hasPrefix("0::") {
        if let unified = layout.unified, let directory = unified.directory(forCgroupPath: String(line.dropFirst(3))) {
            let events = try? String(contentsOfFile: directory.string + "/cgroup.events", encoding: .utf8)
            return events?.contains("frozen 1")
        }
    }
    return nil
}

/// runc containers in a private state directory (`runc --root`), all from one bundle whose
/// annotations are the labels; `destroy()` resumes and deletes them.
final class RuncFleet: @unchecked Sendable {
    let runc: String
    let root: String
    let ids: [String]
    private(set) var pids: [Int32] = []
    private let spawner: Spawner
    private var cleanupToken = 0

    /// Starts `count` containers named `prefix-N`, each `sh` with two `sleep`s (three processes),
    /// or `script`; with `ownNetwork`, each in a network namespace of its own with its loopback up.
    init(count: Int, prefix: String, labels: [String: String], rootfs: String, scratch: String, spawner: Spawner,
         script: String = "sleep 1000000 & sleep 1000000 & wait", ownNetwork: Bool = false) throws {
        guard let runc = which("runc") else { throw BenchError("runc is needed: apt-get install runc") }
        self.runc = runc
        self.spawner = spawner
        root = scratch + "/runc-" + prefix
        ids = (0..<count).map { "\(prefix)-\($0)" }
        let bundle = scratch + "/bundle-" + prefix
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: bundle, withIntermediateDirectories: true)
        try spawner.must(runc, ["spec", "--bundle", bundle])
        let configPath = bundle + "/config.json"
        guard var config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: configPath))) as? [String: Any] else {
            throw BenchError("runc spec wrote no JSON object to \(configPath)")
        }
        var process = config["process"] as? [String: Any] ?? [:]
        process["terminal"] = false
        process["args"] = ["sh", "-c", script]
        config["process"] = process
        config["root"] = ["path": rootfs, "readonly": true]
        config["annotations"] = labels
        // No network namespace unless asked: creating and tearing down hundreds of them dominates
        // set-up time and plays no part in freezing (it does in a wake on traffic).
        if !ownNetwork, var linux = config["linux"] as? [String: Any], let namespaces = linux["namespaces"] as? [[String: Any]] {
            linux["namespaces"] = namespaces.filter { $0["type"] as? String != "network" }
            config["linux"] = linux
        }
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: configPath))
        cleanupToken = Cleanup.shared.add { [self] in destroy() }
        for id in ids {
            try spawner.must(runc, ["--root", root, "run", "-d", "--bundle", bundle, id])
            let state = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(root)/\(id)/state.json"))) as? [String: Any]
            guard let pid = state?["init_process_pid"] as? Int else { throw BenchError("runc state of \(id) has no init PID") }
            pids.append(Int32(pid))
            // runc leaves a new network namespace's loopback down.
            if ownNetwork { try spawner.must("/usr/bin/nsenter", ["--net=/proc/\(pid)/ns/net", "/usr/sbin/ip", "link", "set", "lo", "up"]) }
        }
    }

    func destroy() {
        for id in ids {
            _ = try? spawner.run(runc, ["--root", root, "resume", id])
            _ = try? spawner.run(runc, ["--root", root, "delete", "-f", id])
        }
        Cleanup.shared.remove(action: cleanupToken)
    }
}

/// A dockerd of the benchmark's own (private data, exec root and socket), a busybox image and
/// labelled containers; `stop()` removes them all and stops the daemon.
final class DockerFleet: @unchecked Sendable {
    let docker: String
    let directory: String
    let socket: String
    private let daemon = Process()
    private let spawner: Spawner
    private let layout: CgroupLayout
    private var cleanupToken = 0

    var environment: [String: String] { ["DOCKER_HOST": "unix://" + socket] }

    init(rootfs: String, spawner: Spawner, layout: CgroupLayout) throws {
        guard let dockerd = which("dockerd"), let docker = which("docker") else {
            throw BenchError("docker.io is not installed")
        }
        self.docker = docker
        self.spawner = spawner
        self.layout = layout
        // A short path: the socket path must fit in sun_path.
        directory = "/tmp/fzb-docker-\(getpid())"
        socket = directory + "/docker.sock"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try launchDaemon(daemon, dockerd, ["--iptables=false", "--ip-masq=false", "--bridge=none", "--storage-driver=overlay2",
                                           "--exec-opt", "native.cgroupdriver=cgroupfs", "--data-root", directory + "/data",
                                           "--exec-root", directory + "/exec", "--pidfile", directory + "/dockerd.pid",
                                           "-H", "unix://" + socket], log: directory + "/dockerd.log")
        cleanupToken = Cleanup.shared.add { [self] in stop() }
        try waitUntilAnswering(tries: 300, stop: stop, failure: "dockerd did not answer; see \(directory)/dockerd.log") { [spawner, environment] in
            (try? spawner.run(docker, ["info"], extraEnvironment: environment))?.status == 0
        }
        try spawner.must("/bin/tar", ["-C", rootfs, "-cf", directory + "/rootfs.tar", "."])
        try spawner.must(docker, ["import", "--change", "CMD [\"/bin/sh\"]", directory + "/rootfs.tar", "local/busybox"],
                         extraEnvironment: environment)
    }

    /// Starts `count` containers with `label`; returns their full IDs and init PIDs.
    func start(count: Int, label: String) throws -> [(id: String, pid: Int32)] {
        var started: [(String, Int32)] = []
        for _ in 0..<count {
            try Cleanup.shared.checkInterrupted()
            guard let id = spawner.output(docker, ["run", "-d", "--network", "none", "--label", label, "local/busybox",
                                                   "sh", "-c", "sleep 1000000 & sleep 1000000 & wait"], extraEnvironment: environment),
                  let pid = spawner.output(docker, ["inspect", "-f", "{{.State.Pid}}", id], extraEnvironment: environment).flatMap({ Int32($0) })
            else { throw BenchError("docker run failed; see \(directory)/dockerd.log") }
            started.append((id, pid))
        }
        return started
    }

    func stop() {
        if let ids = spawner.output(docker, ["ps", "-aq"], extraEnvironment: environment)?.split(separator: "\n").map(String.init), !ids.isEmpty {
            _ = try? spawner.run(docker, ["unpause"] + ids, extraEnvironment: environment)
            _ = try? spawner.run(docker, ["rm", "-f"] + ids, extraEnvironment: environment)
        }
        if daemon.isRunning {
            daemon.terminate()
            daemon.waitUntilExit()
        }
        // Unmount what dockerd left below its directory (overlays, the data-root bind), deepest first.
        let mounts = ((try? String(contentsOfFile: "/proc/self/mounts", encoding: .utf8)) ?? "")
            .split(separator: "\n").compactMap { $0.split(separator: " ").dropFirst().first.map(String.init) }
            .filter { $0.hasPrefix(directory) }.sorted { $0.count > $1.count }
        for mount in mounts { umount2(mount, Int32(MNT_DETACH)) }
        try? FileManager.default.removeItem(atPath: directory)
        // dockerd with the cgroupfs driver leaves an empty `docker` cgroup in every hierarchy.
        for hierarchy in layout.hierarchies { rmdir(hierarchy.mountPoint.appending("docker").string) }
        Cleanup.shared.remove(action: cleanupToken)
    }
}

/// A containerd of the benchmark's own (private root, state and socket, in its own mount
/// namespace) and labelled tasks in namespace k8s.io made with `ctr run`; `stop()` kills and
/// removes them and stops the daemon.
final class ContainerdFleet: @unchecked Sendable {
    let ctr: String
    let directory: String
    let socket: String
    private let daemon = Process()
    private let spawner: Spawner
    private let layout: CgroupLayout
    private let rootfs: String
    private var cleanupToken = 0
    private var ids: [String] = []

    var environment: [String: String] { ["CONTAINERD_ADDRESS": socket] }

    init(rootfs: String, spawner: Spawner, layout: CgroupLayout) throws {
        guard let containerd = which("containerd"), let ctr = which("ctr") else {
            throw BenchError("containerd is not installed (it comes with docker.io)")
        }
        self.ctr = ctr
        self.spawner = spawner
        self.layout = layout
        self.rootfs = rootfs
        directory = "/tmp/fzb-containerd-\(getpid())"
        socket = directory + "/c.sock"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try "version = 2\n".write(toFile: directory + "/config.toml", atomically: true, encoding: .utf8)
        // In a mount namespace of its own: its rootfs mounts never appear on the host.
        try launchDaemon(daemon, "/usr/bin/unshare", ["--mount", "--propagation", "private", containerd, "-c", directory + "/config.toml",
                                                     "-a", socket, "--root", directory + "/root", "--state", directory + "/state"],
                         log: directory + "/containerd.log")
        cleanupToken = Cleanup.shared.add { [self] in stop() }
        try waitUntilAnswering(tries: 200, stop: stop, failure: "containerd did not answer; see \(directory)/containerd.log") { [spawner, socket] in
            (try? spawner.run(ctr, ["-a", socket, "version"]))?.status == 0
        }
    }

    /// Starts `count` tasks labelled `label` (each from its own copy of the rootfs); returns their
    /// IDs and init PIDs.
    func start(count: Int, label: String) throws -> [(id: String, pid: Int32)] {
        var started: [(String, Int32)] = []
        for index in 0..<count {
            try Cleanup.shared.checkInterrupted()
            let id = "fzb-\(label.split(separator: "=").last ?? "")-\(index)"
            let copy = directory + "/rootfs-" + id
            try spawner.must("/bin/cp", ["-a", rootfs, copy])
            try spawner.must(ctr, ["-a", socket, "-n", "k8s.io", "run", "-d", "--label", label, "--rootfs", copy, id,
                                   "/bin/sh", "-c", "sleep 1000000 & sleep 1000000 & wait"])
            ids.append(id)
            let tasks = spawner.output(ctr, ["-a", socket, "-n", "k8s.io", "task", "ls"]) ?? ""
            guard let pid = tasks.split(separator: "\n").first(where: { $0.hasPrefix(id + " ") })?
                .split(separator: " ", omittingEmptySubsequences: true).dropFirst().first.flatMap({ Int32($0) }) else {
                throw BenchError("ctr run \(id) started no task; see \(directory)/containerd.log")
            }
            started.append((id, pid))
        }
        return started
    }

    /// Kills and removes every task and container started so far.
    func removeAll() {
        for id in ids {
            _ = try? spawner.run(ctr, ["-a", socket, "-n", "k8s.io", "task", "resume", id])
            _ = try? spawner.run(ctr, ["-a", socket, "-n", "k8s.io", "task", "kill", "-s", "KILL", id])
        }
        for id in ids {
            for _ in 0..<50 where (try? spawner.run(ctr, ["-a", socket, "-n", "k8s.io", "task", "rm", id]))?.status != 0 { usleep(50_000) }
            _ = try? spawner.run(ctr, ["-a", socket, "-n", "k8s.io", "container", "rm", id])
        }
        ids = []
    }

    func stop() {
        removeAll()
        if daemon.isRunning {
            daemon.terminate()
            daemon.waitUntilExit()
        }
        try? FileManager.default.removeItem(atPath: directory)
        // containerd made /k8s.io/ID in every hierarchy; the IDs went with their tasks.
        for hierarchy in layout.hierarchies { rmdir(hierarchy.mountPoint.appending("k8s.io").string) }
        Cleanup.shared.remove(action: cleanupToken)
    }
}

/// Starts a daemon the benchmark owns, its output in `log`, no standard input.
func launchDaemon(_ process: Process, _ executable: String, _ arguments: [String], log path: String) throws {
    _ = FileManager.default.createFile(atPath: path, contents: nil)
    let log = FileHandle(forWritingAtPath: path)
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.standardOutput = log
    process.standardError = log
    process.standardInput = FileHandle.nullDevice
    try process.run()
}

/// Polls `answers` every 50 ms until it is true; stops the daemon and throws `failure` after
/// `tries`, or when the benchmark is interrupted meanwhile.
func waitUntilAnswering(tries: Int, stop: () -> Void, failure: String, _ answers: () -> Bool) throws {
    for _ in 0..<tries {
        if Cleanup.shared.isInterrupted { stop(); throw Cleanup.Interrupted() }
        if answers() { return }
        usleep(50_000)
    }
    stop()
    throw BenchError(failure)
}
