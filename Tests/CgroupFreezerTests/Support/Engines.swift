import Foundation
import Testing

/// A real containerd with private state, root and socket, started for one test in a mount
/// namespace of its own and stopped by `stop()` (which kills and removes its tasks and
/// containers first, then the cgroups it made at the top of each hierarchy).
final class ContainerdDaemon: @unchecked Sendable {
    let directory: String
    let socket: String
    let ctr: String
    private let process = Process()
    private var containers: [(namespace: String, id: String)] = []

    /// What freezectl needs to find it.
    var environment: [String: String] { ["CONTAINERD_ADDRESS": socket] }

    /// containerd's PID (unshare execs it).
    var pid: Int32 { process.processIdentifier }

    init() throws {
        let containerd = try #require(which("containerd"), "containerd is needed (apt-get install docker.io)")
        ctr = try #require(which("ctr"))
        directory = "/tmp/fzc-\(getpid())-\(UUID().uuidString.prefix(6))"
        socket = directory + "/c.sock"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try "version = 2\n".write(toFile: directory + "/config.toml", atomically: true, encoding: .utf8)
        try makeBusyboxRootfs(at: directory + "/rootfs")
        try startInOwnMountNamespace(process, [containerd, "-c", directory + "/config.toml", "-a", socket,
                                               "--root", directory + "/root", "--state", directory + "/state"],
                                     log: directory + "/containerd.log")
        for _ in 0..<200 {
            if (try? ctr("-n", "default", "version"))?.status == 0 { return }
            usleep(50_000)
        }
        Issue.record("containerd did not answer: \((try? String(contentsOfFile: directory + "/containerd.log", encoding: .utf8)) ?? "")")
    }

    func ctr(_ arguments: String...) throws -> CLIResult {
        try CgroupFreezerTests.run(ctr, ["-a", socket] + arguments)
    }

    /// Runs `id` in `namespace` with `labels` (each container gets its own copy of the rootfs).
    func run(_ id: String, namespace: String = "k8s.io", labels: [String: String] = [:]) throws {
        let rootfs = directory + "/rootfs-\(namespace)-\(id)"
        let copy = try CgroupFreezerTests.run("/bin/cp", ["-a", directory + "/rootfs", rootfs])
        try #require(copy.status == 0, "cp: \(copy.stderr)")
        var arguments = ["-a", socket, "-n", namespace, "run", "-d"]
        for (key, value) in labels.sorted(by: { $0.key < $1.key }) { arguments += ["--label", "\(key)=\(value)"] }
        arguments += ["--rootfs", rootfs, id, "/bin/sh", "-c", "sleep 1000 & sleep 1000 & wait"]
        let result = try runDetaching(ctr, arguments)
        try #require(result.status == 0, "ctr run: \(result.stderr)")
        containers.append((namespace, id))
    }

    /// `ctr task ls` in `namespace`: task ID to STATUS (RUNNING, PAUSED).
    func tasks(namespace: String = "k8s.io") throws -> [String: String] {
        var tasks: [String: String] = [:]
        for line in try ctr("-n", namespace, "task", "ls").stdout.split(separator: "\n").dropFirst() {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            if fields.count >= 3 { tasks[String(fields[0])] = String(fields[2]) }
        }
        return tasks
    }

    /// The PIDs in a task's cgroup (`ctr task ps`).
    func pids(_ id: String, namespace: String = "k8s.io") throws -> [Int32] {
        try ctr("-n", namespace, "task", "ps", id).stdout.split(separator: "\n").dropFirst()
            .compactMap { $0.split(separator: " ", omittingEmptySubsequences: true).first.flatMap { Int32($0) } }
    }

    func stop() {
        // A containerd the test killed answers nothing: its tasks are the test's to clean up.
        // (Its own state, not Foundation's isRunning, which lags behind a SIGKILL.)
        let alive = procState(process.processIdentifier).map { $0 != "Z" } ?? false
        for (namespace, id) in containers where alive {
            _ = try? ctr("-n", namespace, "task", "resume", id)
            _ = try? ctr("-n", namespace, "task", "kill", "-s", "KILL", id)
        }
        for (namespace, id) in containers where alive {
            for _ in 0..<50 where (try? ctr("-n", namespace, "task", "rm", id))?.status != 0 { usleep(50_000) }
            _ = try? ctr("-n", namespace, "container", "rm", id)
        }
        stopDaemon(process, leftoversNaming: directory)
        reapChildren()
        try? FileManager.default.removeItem(atPath: directory)
        // containerd made /NAMESPACE/ID in every hierarchy; the IDs went with their tasks.
        let made = Set(containers.map(\.namespace)).flatMap { namespace in
            TestCgroup.layout.hierarchies.map { $0.mountPoint.appending(namespace).string }
        }
        // A killed task's processes leave its cgroup a moment later: retry until they are gone.
        _ = eventually(seconds: 10) {
            made.forEach(removeCgroupTree)
            return made.allSatisfy { !FileManager.default.fileExists(atPath: $0) }
        }
    }
}

/// podman with runtime runc and private storage, and its API service on a private socket, as
/// ../shared/test-environments.md says podman runs here. `stop()` removes the containers, the
/// service and the cgroups podman made.
final class PodmanService: @unchecked Sendable {
    let directory: String
    let socket: String
    let podman: String
    private let service = Process()

    /// What freezectl needs to find the service.
    var environment: [String: String] { ["CONTAINER_HOST": "unix://" + socket] }
    /// What the podman command needs (in local mode: the tests never set CONTAINER_HOST for it).
    private var podmanEnvironment: [String: String] { ["CONTAINERS_CONF": directory + "/containers.conf"] }
    private var storage: [String] { ["--root", directory + "/storage", "--runroot", directory + "/run", "--storage-driver", "vfs"] }

    init() throws {
        podman = try #require(which("podman"), "podman is needed (apt-get install podman)")
        directory = "/tmp/fzp-\(getpid())-\(UUID().uuidString.prefix(6))"
        socket = directory + "/podman.sock"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        try """
        [containers]
        netns = "none"
        default_ulimits = ["nofile=\(limit.rlim_max):\(limit.rlim_max)", "nproc=32768:32768"]
        [engine]
        runtime = "runc"
        cgroup_manager = "cgroupfs"
        events_logger = "file"
        """.write(toFile: directory + "/containers.conf", atomically: true, encoding: .utf8)
        try makeBusyboxRootfs(at: directory + "/rootfs")
        let tar = try CgroupFreezerTests.run("/bin/tar", ["-C", directory + "/rootfs", "-cf", directory + "/rootfs.tar", "."])
        try #require(tar.status == 0)
        let imported = try podman(["import", directory + "/rootfs.tar", "local/busybox"])
        try #require(imported.status == 0, "podman import: \(imported.stderr)")
        service.environment = ProcessInfo.processInfo.environment.merging(podmanEnvironment) { $1 }
        try startInOwnMountNamespace(service, [podman] + storage + ["system", "service", "--time=0", "unix://" + socket],
                                     log: directory + "/service.log")
        for _ in 0..<200 where !FileManager.default.fileExists(atPath: socket) { usleep(50_000) }
        try #require(FileManager.default.fileExists(atPath: socket), "podman system service did not start")
    }

    func podman(_ arguments: [String]) throws -> CLIResult {
        try CgroupFreezerTests.run(podman, storage + arguments, environment: podmanEnvironment)
    }

    /// Runs a detached container and returns its ID.
    @discardableResult
    func run(_ arguments: String...) throws -> String {
        // Foundation's Process learns of an exit when a descriptor it gives the child closes;
        // conmon, which podman leaves running, would inherit it and hold it: python's
        // close_fds keeps it out of podman.
        let result = try runDetaching("/usr/bin/python3", ["-c", "import subprocess, sys; sys.exit(subprocess.run(sys.argv[1:], close_fds=True).returncode)",
                                                           podman] + storage + ["run", "-d"] + arguments,
                                      environment: podmanEnvironment)
        try #require(result.status == 0, "podman run: \(result.stderr)")
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Names of the containers `podman ps` shows with `filter` (e.g. status=paused).
    func names(filter: String) throws -> Set<String> {
        let result = try podman(["ps", "--filter", filter, "--format", "{{.Names}}"])
        return Set(result.stdout.split(separator: "\n").map(String.init))
    }

    func stop() {
        _ = try? podman(["unpause", "--all"])
        _ = try? podman(["rm", "-f", "--all", "-t", "0"])
        stopDaemon(service, leftoversNaming: directory)
        reapChildren()
        // vfs storage keeps read-only layers: make them removable first. The service's last
        // writes into its storage can race its exit (seen once): retry until the directory is gone.
        _ = eventually(seconds: 10) {
            _ = try? CgroupFreezerTests.run("/bin/chmod", ["-R", "u+w", directory])
            try? FileManager.default.removeItem(atPath: directory)
            return !FileManager.default.fileExists(atPath: directory)
        }
        // podman's conmon processes leave their cgroup (libpod_parent/conmon) a moment after the
        // containers are removed: retry until every hierarchy's copy is gone.
        let parents = TestCgroup.layout.hierarchies.map { $0.mountPoint.appending("libpod_parent").string }
        _ = eventually(seconds: 10) {
            parents.forEach(removeCgroupTree)
            return parents.allSatisfy { !FileManager.default.fileExists(atPath: $0) }
        }
    }
}

/// Removes an empty cgroup and its empty descendants, deepest first (rmdir only: a cgroup that
/// still holds processes stays).
func removeCgroupTree(_ path: String) {
    for name in (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [] {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path + "/" + name, isDirectory: &isDirectory), isDirectory.boolValue {
            removeCgroupTree(path + "/" + name)
        }
    }
    rmdir(path)
}

/// Starts a daemon of a test in a mount namespace of its own (its mounts never appear on the
/// host and go with it; unshare without --fork execs it, so the process is the daemon), its
/// output in `log`.
func startInOwnMountNamespace(_ process: Process, _ command: [String], log path: String) throws {
    FileManager.default.createFile(atPath: path, contents: nil)
    let log = FileHandle(forWritingAtPath: path)
    process.executableURL = URL(fileURLWithPath: "/usr/bin/unshare")
    process.arguments = ["--mount", "--propagation", "private"] + command
    process.standardOutput = log
    process.standardError = log
    process.standardInput = FileHandle.nullDevice
    try process.run()
}

/// Stops a daemon a test started (dockerd, containerd, podman's service) and the shims it left
/// behind. containerd's shims outlive their daemon by design, and Foundation's `Process` sees an
/// exit only once every copy of its exit-watch descriptor is closed, which a shim holds (seen: a
/// test hung after a container's removal raced its daemon's stop). So once the daemon itself has
/// exited, the processes that name the test's directory on their command line are killed, then
/// Foundation is waited for.
func stopDaemon(_ process: Process, leftoversNaming directory: String) {
    // A daemon a test killed has exited already; its leftovers are killed all the same.
    let pid = process.processIdentifier
    if process.isRunning {
        process.terminate()
        _ = eventually(seconds: 20) { [pid] in procState(pid) == nil || procState(pid) == "Z" }
    }
    let own = getpid()
    let names = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    for other in names.compactMap({ Int32($0) }) where other != own && other != pid {
        guard let cmdline = try? String(contentsOfFile: "/proc/\(other)/cmdline", encoding: .utf8),
              cmdline.contains(directory) else { continue }
        kill(other, SIGKILL)
    }
    process.waitUntilExit()
}
