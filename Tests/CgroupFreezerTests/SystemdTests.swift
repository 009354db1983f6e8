import CgroupFreezer
import Foundation
import Testing

/// A real systemd as PID 1 of its own pid, mount and cgroup namespaces, seeing pure cgroup v2
/// (systemd 252 refuses FreezeUnit on the hybrid layout), with only the units given here plus
/// dbus (../shared/test-environments.md). `stop()` halts it and removes everything.
final class SystemdNamespace: @unchecked Sendable {
    let root: TestCgroup
    let units: ScratchDirectory
    private let process = Process()
    private(set) var pid: Int32 = 0
    /// With `hybrid`, a directory of the namespace in every v1 hierarchy too.
    private var v1Roots: [String] = []

    /// With `hybrid`, systemd sees this host's hybrid layout (where systemd 252 cannot freeze
    /// units); it is confined to a child cgroup of every hierarchy.
    init(services: [String: String], hybrid: Bool = false, units extra: [String: String] = [:]) throws {
        root = try TestCgroup(.v2)
        units = try ScratchDirectory()
        if hybrid { v1Roots = try Self.makeV1Roots(named: URL(fileURLWithPath: root.path).lastPathComponent) }
        let socketUnits = try Self.writeUnits(in: units.path, services: services, extra: extra)
        let boot = Self.bootScript(hybrid: hybrid, units: units.path)
        try boot.write(toFile: units.path + "/boot.sh", atomically: true, encoding: .utf8)
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        let enter = ([root.path] + v1Roots).map { "echo $$ > \($0)/cgroup.procs" }.joined(separator: " && ")
        process.arguments = ["-c", "\(enter) && exec unshare --pid --fork --mount --propagation private --cgroup --uts --net --ipc /bin/sh \(units.path)/boot.sh"]
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        // systemd is unshare's child.
        for _ in 0..<200 {
            let children = (try? String(contentsOfFile: "/proc/\(process.processIdentifier)/task/\(process.processIdentifier)/children", encoding: .utf8)) ?? ""
            if let child = children.split(separator: " ").first.flatMap({ Int32($0) }) { pid = child; break }
            usleep(10_000)
        }
        if pid == 0 {
            stop()
            Issue.record("systemd did not start")
            throw CancellationError()
        }
        for name in Array(services.keys) + socketUnits {
            for _ in 0..<300 where (try? inside("systemctl", "is-active", name))?.stdout.hasPrefix("active") != true { usleep(20_000) }
        }
    }

    /// A directory named `name` in every v1 hierarchy (a new cpuset given its parent's CPUs and
    /// memory nodes, since nothing could join one without them).
    static func makeV1Roots(named name: String) throws -> [String] {
        var roots: [String] = []
        for hierarchy in TestCgroup.layout.hierarchies where hierarchy.version == .v1 {
            let directory = hierarchy.mountPoint.appending(name).string
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
            roots.append(directory)
            // A new v1 cpuset has no CPUs or memory nodes: nothing could join it.
            for file in ["cpuset.cpus", "cpuset.mems"] where hierarchy.controllers.contains("cpuset") {
                let parent = (try? String(contentsOfFile: hierarchy.mountPoint.string + "/" + file, encoding: .utf8)) ?? ""
                try? parent.write(toFile: directory + "/" + file, atomically: false, encoding: .utf8)
            }
        }
        return roots
    }

    /// The unit files of the namespace's systemd: D-Bus, stub targets, the services and the
    /// extra units, wanted by freezectl-test.target. Returns the socket units among the extra.
    static func writeUnits(in directory: String, services: [String: String], extra: [String: String]) throws -> [String] {
        for name in ["dbus.socket", "dbus.service"] {
            try FileManager.default.copyItem(atPath: "/lib/systemd/system/" + name, toPath: directory + "/" + name)
        }
        for stub in ["sysinit", "basic", "sockets", "shutdown"] {
            try "[Unit]\nDefaultDependencies=no\n".write(toFile: "\(directory)/\(stub).target", atomically: true, encoding: .utf8)
        }
        let socketUnits = extra.keys.filter { $0.hasSuffix(".socket") }.sorted()
        try "[Unit]\nWants=dbus.socket \((services.keys.sorted() + socketUnits).joined(separator: " "))\n"
            .write(toFile: directory + "/freezectl-test.target", atomically: true, encoding: .utf8)
        for (name, text) in extra {
            try text.write(toFile: "\(directory)/\(name)", atomically: true, encoding: .utf8)
        }
        for (name, command) in services {
            try "[Service]\nExecStart=\(command)\n".write(toFile: "\(directory)/\(name)", atomically: true, encoding: .utf8)
        }
        return socketUnits
    }

    /// The script that boots systemd in the namespaces: proc, cgroupfs mounts of its own, /run.
    static func bootScript(hybrid: Bool, units: String) -> String {
        // systemd remounts /sys/fs/cgroup read-only and creates directories and init.scope there:
        // it must see cgroupfs mounts of its own, never the host's (a remount changes the
        // superblock, which a private mount namespace shares). In its cgroup namespace, a cgroup
        // mount is rooted at the namespace's cgroup, the child cgroup entered above.
        var cgroupMounts = "mount -t cgroup2 none /sys/fs/cgroup"
        if hybrid {
            cgroupMounts = "mount -t tmpfs -o mode=755 tmpfs /sys/fs/cgroup"
            for hierarchy in TestCgroup.layout.hierarchies {
                let name = hierarchy.mountPoint.lastComponent?.string ?? "unified"
                let controllers = hierarchy.controllers.sorted()
                let options = controllers.allSatisfy { $0.hasPrefix("name=") } ? ["none"] + controllers : controllers
                cgroupMounts += "\nmkdir /sys/fs/cgroup/\(name)\n" + (hierarchy.version == .v2
                    ? "mount -t cgroup2 none /sys/fs/cgroup/\(name)"
                    : "mount -t cgroup -o \(options.joined(separator: ",")) cgroup /sys/fs/cgroup/\(name)")
            }
        }
        return """
        set -e
        mount -t proc proc /proc
        mount --bind -o ro /proc/sys /proc/sys
        \(cgroupMounts)
        mount -t tmpfs tmpfs /run
        export SYSTEMD_UNIT_PATH=\(units)
        exec /lib/systemd/systemd --unit=freezectl-test.target systemd.firstboot=off
        """
    }

    /// Runs a command inside the namespaces (mount, cgroup, pid).
    func inside(_ arguments: String...) throws -> CLIResult {
        try inside(arguments)
    }

    func inside(_ arguments: [String]) throws -> CLIResult {
        try run("/usr/bin/nsenter", ["-t", String(pid), "-m", "-C", "-p", "--"] + arguments)
    }

    /// systemd's FreezerState of `unit`.
    func freezerState(_ unit: String) throws -> String {
        try inside("systemctl", "show", "-p", "FreezerState", "--value", unit).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func stop() {
        if pid > 0 { kill(pid, __libc_current_sigrtmin() + 15) }  // SIGRTMIN+15: systemd halts
        for _ in 0..<300 where process.isRunning { usleep(10_000) }
        // Killing the namespace's PID 1 kills everything in it.
        if process.isRunning, pid > 0 { kill(pid, SIGKILL) }
        for _ in 0..<300 where process.isRunning { usleep(10_000) }
        root.destroy()
        for directory in v1Roots {
            let subtree = (FileManager.default.enumerator(atPath: directory)?.allObjects as? [String] ?? [])
                .map { directory + "/" + $0 }.filter { (try? FileManager.default.attributesOfItem(atPath: $0)[.type] as? FileAttributeType) == .typeDirectory }
            for path in ([directory] + subtree).sorted(by: { $0.count > $1.count }) {
                for _ in 0..<100 where rmdir(path) != 0 && errno == EBUSY { usleep(10_000) }
            }
        }
        units.remove()
    }
}

@Suite("systemd units as targets", .serialized, .hostUnchanged)
struct SystemdTests {
    @Test("pause unit:NAME makes systemd's FreezerState frozen and stops the processes; unpause makes it running")
    func freezeUnitThroughSystemd() throws {
        let systemd = try SystemdNamespace(services: ["victim.service": "/bin/sh -c \"sleep 1000 & sleep 1000 & wait\""])
        defer { systemd.stop() }
        #expect(try systemd.freezerState("victim.service") == "running")
        let unitCgroup = systemd.root.path + "/system.slice/victim.service"

        let pause = try systemd.inside(freezectlBinary, "pause", "unit:victim.service", "--format", "json")
        #expect(pause.status == 0, "\(pause.stderr)")
        #expect(pause.jsonLines.first?["backend"] as? String == "systemd")
        #expect(pause.jsonLines.first?["state"] as? String == "frozen")
        #expect(try systemd.freezerState("victim.service") == "frozen")
        #expect(try String(contentsOfFile: unitCgroup + "/cgroup.events", encoding: .utf8).contains("frozen 1"))
        let pids = try String(contentsOfFile: unitCgroup + "/cgroup.procs", encoding: .utf8).split(separator: "\n").compactMap { Int32($0) }
        #expect(pids.count == 3)
        #expect(pids.allSatisfy { procShowsFrozen($0, .v2) == true })

        let status = try systemd.inside(freezectlBinary, "status", "unit:victim.service", "--format", "json")
        #expect(status.jsonLines.first?["engine_state"] as? String == "frozen")
        // A PID of the unit names its unit too (seen from the host, where these PIDs live).
        let byPID = try freezectl("status", "pid:\(try #require(pids.first))", "--format", "json")
        #expect(byPID.jsonLines.first?["unit"] as? String == "victim.service", "\(byPID.stdout)\(byPID.stderr)")

        let again = try systemd.inside(freezectlBinary, "pause", "unit:victim.service", "--format", "json")
        #expect(again.jsonLines.first?["result"] as? String == "already")

        let unpause = try systemd.inside(freezectlBinary, "unpause", "unit:victim.service")
        #expect(unpause.status == 0)
        #expect(try systemd.freezerState("victim.service") == "running")
        #expect(try String(contentsOfFile: unitCgroup + "/cgroup.events", encoding: .utf8).contains("frozen 0"))
    }

    @Test("where systemd cannot freeze (hybrid layout), the unit's cgroup is frozen directly and a warning says so")
    func hybridFallback() throws {
        let systemd = try SystemdNamespace(services: ["victim.service": "/bin/sh -c \"sleep 1000 & sleep 1000 & wait\""], hybrid: true)
        defer { systemd.stop() }
        let pause = try systemd.inside(freezectlBinary, "pause", "unit:victim.service", "--format", "json")
        #expect(pause.status == 0, "\(pause.stderr)")
        #expect(pause.stderr.contains("does not support freezing") && pause.stderr.contains("written directly"))
        let line = try #require(pause.jsonLines.first)
        #expect(line["state"] as? String == "frozen")
        #expect(line["backend"] as? String != "systemd", "the direct backend did it")
        #expect(try systemd.freezerState("victim.service") == "running", "systemd never knew")
        // The kernel's own word, read inside the namespace where the cgroup path is valid.
        let cgroup = try #require(line["cgroup"] as? String)
        let kernel = try systemd.inside("/bin/sh", "-c", "cat \(cgroup)/cgroup.events \(cgroup)/freezer.state 2>/dev/null")
        #expect(kernel.stdout.contains("frozen 1") || kernel.stdout.contains("FROZEN"), "\(cgroup): \(kernel.stdout)")

        let unpause = try systemd.inside(freezectlBinary, "unpause", "unit:victim.service", "--format", "json")
        #expect(unpause.status == 0)
        #expect(unpause.jsonLines.first?["result"] as? String == "ok", "not 'already': the cgroup was frozen although systemd said running")
        #expect(unpause.jsonLines.first?["state"] as? String == "thawed")
    }

    @Test("freezectl inside a unit's cgroup refuses to freeze that unit through FreezeUnit (exit 1)")
    func unitSelfFreeze() throws {
        let systemd = try SystemdNamespace(services: ["victim.service": "/bin/sleep 1000"])
        defer { systemd.stop() }
        let procs = "/sys/fs/cgroup/system.slice/victim.service/cgroup.procs"
        let result = try systemd.inside("/bin/sh", "-c", "echo $$ > \(procs) && exec \(freezectlBinary) pause unit:victim.service")
        #expect(result.status == 1, "\(result.stderr)")
        #expect(result.stderr.contains("contains this process"), "\(result.stderr)")
        #expect(try systemd.freezerState("victim.service") == "running")
    }

    @Test("a FreezeUnit that does not complete within --timeout is undone with ThawUnit and reported")
    func freezeUnitTimeout() throws {
        // The unit holds a process the v2 freezer cannot freeze: blocked on a FUSE mount (in
        // systemd's own mount namespace) whose server never answers; systemd then never answers FreezeUnit.
        let stuck = "/bin/sh -c 'exec 3<>/dev/fuse; mkdir -p /run/fz; mount -i -t fuse -o fd=3,rootmode=40000,user_id=0,group_id=0 fz /run/fz; stat /run/fz/x & exec sleep 1000'"
        let systemd = try SystemdNamespace(services: ["stuck.service": stuck])
        defer { systemd.stop() }
        let cgroup = systemd.root.path + "/system.slice/stuck.service"
        #expect(eventually {
            let procs = String(decoding: FileHandle(forReadingAtPath: cgroup + "/cgroup.procs")?.readDataToEndOfFile() ?? Data(), as: UTF8.self)
            return procs.split(separator: "\n").compactMap { Int32($0) }.contains { procState($0) == "D" }
        }, "a process of the unit is blocked on FUSE")
        let result = try systemd.inside(freezectlBinary, "pause", "unit:stuck.service", "--timeout", "2s", "--format", "json")
        #expect(result.status == 1, "\(result.stdout) \(result.stderr)")
        #expect(result.stderr.contains("did not complete within 2s") && result.stderr.contains("ThawUnit undid it"), "\(result.stderr)")
        #expect(eventually(seconds: 5) { (try? String(contentsOfFile: cgroup + "/cgroup.freeze", encoding: .utf8))?.hasPrefix("0") == true },
                "the unit's cgroup is not left asked to freeze")
        #expect(eventually(seconds: 5) { (try? systemd.freezerState("stuck.service")) == "running" })
    }

    @Test("a missing unit is a clear error; without a system bus too")
    func unitErrors() throws {
        let systemd = try SystemdNamespace(services: ["present.service": "/bin/sleep 1000"])
        defer { systemd.stop() }
        let missing = try systemd.inside(freezectlBinary, "pause", "unit:absent.service")
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("absent.service not loaded"))
        #expect(missing.stderr.contains("systemctl list-units"))

        let noBus = try freezectl("pause", "unit:present.service", environment: ["DBUS_SYSTEM_BUS_ADDRESS": "unix:path=/tmp/freezectl-no-bus"])
        #expect(noBus.status == 2)
        #expect(noBus.stderr.contains("system bus"))
    }

    @Test("socket activation: contrib/systemd's socket unit starts freezectld on the first connection; pause and status of a unit work through it; stopping the service leaves the socket to systemd, which starts it again")
    func socketActivation() throws {
        let root = repositoryRoot + "/contrib/systemd/"
        // The units as shipped, but for the binary's path and the sandboxing that would hide the
        // build tree (PrivateTmp, ProtectHome, ProtectSystem).
        let service = try String(contentsOfFile: root + "freezectld.service", encoding: .utf8)
            .split(separator: "\n", omittingEmptySubsequences: false)
            .filter { !["PrivateTmp=", "ProtectHome=", "ProtectSystem=", "ReadWritePaths="].contains(where: $0.hasPrefix) }
            .joined(separator: "\n")
            .replacingOccurrences(of: "/usr/local/bin/freezectld", with: DaemonTests.binary)
            .replacingOccurrences(of: "[Service]", with: "[Service]\nStandardError=file:/run/freezectld.err")
        let socketUnit = try String(contentsOfFile: root + "freezectld.socket", encoding: .utf8)
        let systemd = try SystemdNamespace(services: ["victim.service": "/bin/sleep 1000"],
                                           units: ["freezectld.service": service, "freezectld.socket": socketUnit])
        defer { systemd.stop() }
        #expect(try systemd.inside("systemctl", "is-active", "freezectld.service").stdout.hasPrefix("inactive"), "not started before a connection")
        let socket = "/run/freezectl/freezectl.sock"
        func curl(_ method: String, _ path: String, _ body: String? = nil) throws -> CLIResult {
            var arguments = ["/usr/bin/curl", "-s", "--unix-socket", socket, "-X", method, "-w", "\n%{http_code}", "http://localhost" + path]
            if let body { arguments += ["-H", "Content-Type: application/json", "-d", body] }
            return try systemd.inside(arguments)
        }
        let paused = try curl("POST", "/v1/pause", #"{"targets": ["unit:victim.service"]}"#)
        let diagnosis = {
            ((try? systemd.inside("systemctl", "status", "--no-pager", "-l", "freezectld.socket", "freezectld.service"))?.stdout ?? "")
                + ((try? systemd.inside("/bin/cat", "/run/freezectld.err"))?.stdout ?? "")
        }
        #expect(paused.stdout.hasSuffix("200") && paused.stdout.contains(#""result":"ok""#), "\(paused.stdout)\(paused.stderr)\n\(diagnosis())")
        #expect(try systemd.freezerState("victim.service") == "frozen")
        #expect(try systemd.inside("systemctl", "is-active", "freezectld.service").stdout.hasPrefix("active"))
        let status = try curl("GET", "/v1/status?target=unit:victim.service")
        #expect(status.stdout.contains(#""state":"frozen""#), "\(status.stdout)")
        #expect(try curl("POST", "/v1/unpause", #"{"targets": ["unit:victim.service"]}"#).stdout.hasSuffix("200"))
        #expect(try systemd.freezerState("victim.service") == "running")
        // The socket is systemd's: stopping the service leaves it, and the next connection starts it again.
        #expect(try systemd.inside("systemctl", "stop", "freezectld.service").status == 0)
        #expect(try systemd.inside("/usr/bin/test", "-S", socket).status == 0)
        #expect(try curl("GET", "/v1/leases").stdout.hasSuffix("200"))
    }
}
