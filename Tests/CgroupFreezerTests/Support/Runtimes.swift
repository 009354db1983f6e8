import Foundation
import Testing

/// Finds a program on PATH (or in sbin directories).
func which(_ name: String) -> String? {
    let path = (ProcessInfo.processInfo.environment["PATH"] ?? "") + ":/usr/sbin:/sbin:/usr/bin:/bin"
    return path.split(separator: ":").map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
}

/// A busybox root filesystem with the applets the test containers use.
func makeBusyboxRootfs(at directory: String) throws {
    let bin = directory + "/bin"
    try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
    let busybox = try #require(which("busybox"), "busybox-static is needed (apt-get install busybox-static)")
    try FileManager.default.copyItem(atPath: busybox, toPath: bin + "/busybox")
    for applet in ["sh", "sleep", "cat", "dd", "echo", "mkdir", "grep", "id"] {
        try FileManager.default.createSymbolicLink(atPath: bin + "/" + applet, withDestinationPath: "busybox")
    }
}

/// runc containers under a private state directory (`runc --root`), each from its own busybox
/// bundle. `destroy()` deletes them all with `runc delete -f`.
final class RuncContainers: @unchecked Sendable {
    let root: String
    let scratch: ScratchDirectory
    let runc: String
    private(set) var ids: [String] = []

    init() throws {
        runc = try #require(which("runc"), "runc is needed (apt-get install runc)")
        scratch = try ScratchDirectory()
        root = scratch.path + "/runc-root"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    }

    /// Runs a container `id` with `annotations` whose process is `script` (default: two sleeps),
    /// with host paths bound into it (`binds`: host path, path in the container); with
    /// `hostNetwork`, in the host's network namespace instead of a new one.
    func run(_ id: String, annotations: [String: String] = [:], script: String = "sleep 1000 & sleep 1000 & wait",
             memoryLimit: Int? = nil, binds: [(String, String)] = [], hostNetwork: Bool = false) throws {
        let bundle = scratch.path + "/bundle-" + id
        try makeBusyboxRootfs(at: bundle + "/rootfs")
        let spec = try CgroupFreezerTests.run(runc, ["spec", "--bundle", bundle])
        try #require(spec.status == 0, "runc spec: \(spec.stderr)")
        let configPath = bundle + "/config.json"
        var config = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: configPath))) as? [String: Any])
        var process = config["process"] as? [String: Any] ?? [:]
        process["terminal"] = false
        process["args"] = ["sh", "-c", script]
        config["process"] = process
        config["annotations"] = annotations
        var mounts = config["mounts"] as? [[String: Any]] ?? []
        for (source, destination) in binds {
            mounts.append(["destination": destination, "type": "bind", "source": source, "options": ["rbind", "rw"]])
        }
        config["mounts"] = mounts
        if hostNetwork {
            var linux = config["linux"] as? [String: Any] ?? [:]
            linux["namespaces"] = (linux["namespaces"] as? [[String: Any]] ?? []).filter { $0["type"] as? String != "network" }
            config["linux"] = linux
        }
        if let memoryLimit {
            var linux = config["linux"] as? [String: Any] ?? [:]
            var resources = linux["resources"] as? [String: Any] ?? [:]
            resources["memory"] = ["limit": memoryLimit]
            linux["resources"] = resources
            config["linux"] = linux
        }
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: configPath))
        ids.append(id)
        let result = try runDetaching(runc, ["--root", root, "run", "-d", "--bundle", bundle, id])
        try #require(result.status == 0, "runc run \(id): \(result.stderr)")
    }

    /// `runc list` as id -> status.
    func list() throws -> [String: String] {
        let result = try CgroupFreezerTests.run(runc, ["--root", root, "list", "--format", "json"])
        let entries = (try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]]) ?? []
        return Dictionary(uniqueKeysWithValues: entries.compactMap { entry in
            (entry["id"] as? String).map { ($0, entry["status"] as? String ?? "?") }
        })
    }

    /// The PIDs of container `id` (`runc ps`), the init first.
    func pids(_ id: String) throws -> [Int32] {
        let result = try CgroupFreezerTests.run(runc, ["--root", root, "ps", "--format", "json", id])
        return ((try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8))) as? [Int] ?? []).map { Int32($0) }.sorted()
    }

    func runc(_ arguments: String...) throws -> CLIResult {
        try CgroupFreezerTests.run(runc, ["--root", root] + arguments)
    }

    /// Thaws (runc delete -f kills a paused container too), deletes every container, removes the files.
    func destroy() {
        for id in ids {
            _ = try? CgroupFreezerTests.run(runc, ["--root", root, "resume", id])
            _ = try? CgroupFreezerTests.run(runc, ["--root", root, "delete", "-f", id])
        }
        reapChildren()
        scratch.remove()
    }
}

/// A real dockerd with private data, exec and socket paths, started for one test and stopped by
/// `stop()` (which also removes its containers, mounts and the empty cgroups it leaves).
final class DockerDaemon: @unchecked Sendable {
    let directory: String
    let socket: String
    private let process = Process()
    let docker: String

    var environment: [String: String] { ["DOCKER_HOST": "unix://" + socket] }

    init() throws {
        let dockerd = try #require(which("dockerd"), "docker.io is needed (apt-get install docker.io)")
        docker = try #require(which("docker"))
        // A short path: the socket path must fit in sun_path.
        directory = "/tmp/fzd-\(getpid())-\(UUID().uuidString.prefix(6))"
        socket = directory + "/docker.sock"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        // In a mount namespace of its own: its overlay and bind mounts never appear on the host
        // and go with it (unshare without --fork execs dockerd, so its PID is dockerd's).
        process.executableURL = URL(fileURLWithPath: "/usr/bin/unshare")
        process.arguments = ["--mount", "--propagation", "private", dockerd, "--iptables=false", "--ip-masq=false", "--bridge=none", "--storage-driver=overlay2",
                             "--exec-opt", "native.cgroupdriver=cgroupfs", "--data-root", directory + "/data",
                             "--exec-root", directory + "/exec", "--pidfile", directory + "/dockerd.pid",
                             "-H", "unix://" + socket]
        let log = FileHandle(forWritingAtPath: directory + "/dockerd.log") ?? {
            FileManager.default.createFile(atPath: directory + "/dockerd.log", contents: nil)
            return FileHandle(forWritingAtPath: directory + "/dockerd.log")!
        }()
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        try process.run()
        for _ in 0..<300 {
            if (try? docker("info"))?.status == 0 { return }
            usleep(50_000)
        }
        Issue.record("dockerd did not answer: \((try? String(contentsOfFile: directory + "/dockerd.log", encoding: .utf8)) ?? "")")
    }

    func docker(_ arguments: String...) throws -> CLIResult {
        try CgroupFreezerTests.run(docker, arguments, environment: environment)
    }

    /// Imports a busybox image as `local/busybox`.
    func importBusybox() throws {
        let rootfs = directory + "/rootfs"
        try makeBusyboxRootfs(at: rootfs)
        let tar = try CgroupFreezerTests.run("/bin/tar", ["-C", rootfs, "-cf", directory + "/rootfs.tar", "."])
        try #require(tar.status == 0)
        let imported = try docker("import", "--change", "CMD [\"/bin/sh\"]", directory + "/rootfs.tar", "local/busybox")
        try #require(imported.status == 0, "docker import: \(imported.stderr)")
    }

    /// Runs a detached container and returns its ID.
    @discardableResult
    func run(_ arguments: String...) throws -> String {
        let result = try runDetaching(docker, ["run", "-d"] + arguments, environment: environment)
        try #require(result.status == 0, "docker run: \(result.stderr)")
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Names of the containers `docker ps` shows with `filter` (e.g. status=paused).
    func names(filter: String) throws -> Set<String> {
        let result = try docker("ps", "--filter", filter, "--format", "{{.Names}}")
        return Set(result.stdout.split(separator: "\n").map(String.init))
    }

    func stop() {
        if let ids = try? docker("ps", "-aq").stdout.split(separator: "\n"), !ids.isEmpty {
            for id in ids {
                _ = try? docker("unpause", String(id))
            }
            _ = try? CgroupFreezerTests.run(docker, ["rm", "-f"] + ids.map(String.init), environment: environment)
        }
        stopDaemon(process, leftoversNaming: directory)
        // Unmount what dockerd left below its directory (overlay mounts, the data-root bind), deepest first.
        let mounts = ((try? String(contentsOfFile: "/proc/self/mounts", encoding: .utf8)) ?? "")
            .split(separator: "\n").compactMap { $0.split(separator: " ").dropFirst().first.map(String.init) }
            .filter { $0.hasPrefix(directory) }.sorted { $0.count > $1.count }
        for mount in mounts { umount2(mount, Int32(MNT_DETACH)) }
        try? FileManager.default.removeItem(atPath: directory)
        // dockerd with the cgroupfs driver leaves an empty `docker` cgroup in every hierarchy, and
        // a container removed while it exited may leave its child a moment longer (the kernel
        // releases a cgroup after its last process): children first, retried briefly.
        for _ in 0..<20 {
            var left = false
            for hierarchy in TestCgroup.layout.hierarchies {
                let parent = hierarchy.mountPoint.appending("docker").string
                guard FileManager.default.fileExists(atPath: parent) else { continue }
                for child in (try? FileManager.default.contentsOfDirectory(atPath: parent)) ?? [] {
                    rmdir(parent + "/" + child)
                }
                if rmdir(parent) != 0 { left = true }
            }
            if !left { break }
            usleep(50_000)
        }
    }
}
