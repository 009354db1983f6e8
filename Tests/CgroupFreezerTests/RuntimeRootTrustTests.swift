import CgroupFreezer
import Foundation
import Testing

/// Root pausing a container by its runtime's state, where an unprivileged user wrote that state:
/// the state may name only cgroups that user owns, and a runtime root anyone may write is refused.
@Suite("Runtime roots: a state file a user can write names only what that user owns", .serialized, .hostUnchanged)
struct RuntimeRootTrustTests {
    static let nobody = (uid: 65534, gid: 65534)

    /// A runc state.json as runc writes it, naming `cgroup` (the v1 freezer's or v2's) and `pid`.
    func runcState(id: String, pid: Int32, cgroup: TestCgroup) throws -> String {
        let key = cgroup.hierarchy.version == .v1 ? "freezer" : ""
        return #"{"id":"\#(id)","init_process_pid":\#(pid),"init_process_start":\#(try procStartTime(pid)),"cgroup_paths":{"\#(key)":"\#(cgroup.path)"},"config":{"labels":["bundle=/nonexistent"]}}"#
    }

    /// `script` run by /bin/sh as nobody: how the state files are planted.
    func asNobody(_ script: String) throws {
        let result = try run("/bin/sh", ["-c", script], user: Self.nobody)
        try #require(result.status == 0, "as nobody: \(script): \(result.stderr)")
    }

    func code(_ result: CLIResult) -> String? {
        (result.jsonLines.first?["error"] as? [String: Any])?["code"] as? String
    }

    @Test("as root, --runtime-root of a world- or group-writable directory where nobody planted a runc state naming root's cgroup (its real init and start time): refused naming the directory and the rule, exit 2, nothing frozen; the same for freezectld --runtime-root")
    func writableRuntimeRootIsRefused() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let victim = try TestCgroup(.v1)
        defer { victim.destroy() }
        let pid = try victim.start("sleep 1000")
        let root = scratch.path + "/shared-root"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: false)
        chmod(scratch.path, 0o755)
        for mode: mode_t in [0o1777, 0o770] {
            chmod(root, mode)
            // Group-writable: nobody is let in through the group.
            chown(root, 0, gid_t(Self.nobody.gid))
            try asNobody("mkdir -p \(root)/evil && printf '%s' '\(try runcState(id: "evil", pid: pid, cgroup: victim))' > \(root)/evil/state.json")
            let paused = try freezectl("pause", "--runtime-root", root, "runc:evil", "--format", "json")
            #expect(paused.status == 2, "\(paused.stdout) \(paused.stderr)")
            #expect(code(paused) == "untrusted-state", "\(paused.stdout)")
            #expect(paused.stderr.contains(root) && paused.stderr.contains("writable by its owner alone"), "\(paused.stderr)")
            #expect(!victim.selfFrozen && !victim.kernelFrozen, "root's cgroup was not touched")
            #expect(procShowsFrozen(pid, .v1) == false)
            // A selection over that root reports the refusal instead of acting.
            let all = try freezectl("pause", "--runtime-root", root, "--all", "--format", "json")
            #expect(all.status == 2 && all.stdout.contains("untrusted-state"), "\(all.stdout) \(all.stderr)")
            #expect(!victim.selfFrozen)
            try FileManager.default.removeItem(atPath: root + "/evil")
        }

        // freezectld refuses to start with such a root: nothing listens.
        let daemon = URL(fileURLWithPath: freezectlBinary).deletingLastPathComponent().appendingPathComponent("freezectld").path
        let socket = scratch.path + "/d.sock"
        // (A daemon that starts anyway is killed by the wait, which records it.)
        let ended = try BackgroundProcess(daemon, ["--socket", socket, "--state-dir", scratch.path + "/state", "--runtime-root", root]).wait(seconds: 20)
        #expect(ended.exited && ended.status != 0 && ended.stderr.contains(root) && ended.stderr.contains("writable by its owner alone"), "\(ended.stderr)")
        #expect(!FileManager.default.fileExists(atPath: socket))
    }

    @Test("a runtime root nobody owns (rootless runc's, in the user's own directory): root pauses and unpauses nobody's container in a cgroup delegated to nobody; nobody's state naming root's cgroup, or naming it through a container directory nobody owns in root's runtime root, is refused (exit 2, untrusted-state naming uid 65534 and the cgroup); crun's status the same")
    func aUsersStateNamesOnlyTheUsersCgroups() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        chmod(scratch.path, 0o755)
        let victim = try TestCgroup(.v1)
        defer { victim.destroy() }
        let victimPID = try victim.start("sleep 1000")
        let delegated = try TestCgroup(.v1)
        defer { delegated.destroy() }
        let ownPID = try delegated.start("sleep 1000")
        for suffix in ["", "/freezer.state", "/cgroup.procs"] {
            #expect(chown(delegated.path + suffix, uid_t(Self.nobody.uid), gid_t(Self.nobody.gid)) == 0)
        }
        let userRoot = scratch.path + "/user-runc"
        try FileManager.default.createDirectory(atPath: userRoot, withIntermediateDirectories: false)
        chown(userRoot, uid_t(Self.nobody.uid), gid_t(Self.nobody.gid))
        chmod(userRoot, 0o700)
        try asNobody("""
            mkdir \(userRoot)/own \(userRoot)/evil && \
            printf '%s' '\(try runcState(id: "own", pid: ownPID, cgroup: delegated))' > \(userRoot)/own/state.json && \
            printf '%s' '\(try runcState(id: "evil", pid: victimPID, cgroup: victim))' > \(userRoot)/evil/state.json
            """)

        // The rootless container: its state names a cgroup nobody owns.
        let paused = try freezectl("pause", "--runtime-root", userRoot, "runc:own", "--format", "json")
        #expect(paused.status == 0, "\(paused.stdout) \(paused.stderr)")
        #expect(delegated.kernelFrozen && procShowsFrozen(ownPID, .v1) == true)
        #expect(try freezectl("unpause", "--runtime-root", userRoot, "runc:own").status == 0)
        #expect(!delegated.kernelFrozen)

        // nobody's state naming root's cgroup, with its real init and start time.
        let evil = try freezectl("pause", "--runtime-root", userRoot, "runc:evil", "--format", "json")
        #expect(evil.status == 2, "\(evil.stdout) \(evil.stderr)")
        #expect(code(evil) == "untrusted-state")
        #expect(evil.stderr.contains("uid 65534") && evil.stderr.contains(victim.path) && evil.stderr.contains("\(userRoot)/evil/state.json"), "\(evil.stderr)")
        #expect(!victim.selfFrozen && procShowsFrozen(victimPID, .v1) == false)
        // In a selection it is an item refused, and the user's own container is paused.
        let all = try freezectl("pause", "--runtime-root", userRoot, "--all", "--format", "json")
        #expect(all.status == 2, "\(all.stdout)")
        #expect(all.jsonLines.contains { ($0["error"] as? [String: Any])?["code"] as? String == "untrusted-state" })
        #expect(!victim.selfFrozen && delegated.kernelFrozen)
        #expect(try freezectl("unpause", "--runtime-root", userRoot, "runc:own").status == 0)

        // Root's runtime root, with a container directory nobody owns: the state is nobody's too.
        let rootRoot = scratch.path + "/root-runc"
        try FileManager.default.createDirectory(atPath: rootRoot + "/planted", withIntermediateDirectories: true)
        chmod(rootRoot, 0o711)
        chown(rootRoot + "/planted", uid_t(Self.nobody.uid), gid_t(Self.nobody.gid))
        try asNobody("printf '%s' '\(try runcState(id: "planted", pid: victimPID, cgroup: victim))' > \(rootRoot)/planted/state.json")
        let planted = try freezectl("pause", "--runtime-root", rootRoot, "runc:planted", "--format", "json")
        #expect(planted.status == 2 && code(planted) == "untrusted-state", "\(planted.stdout) \(planted.stderr)")
        #expect(!victim.selfFrozen)

        try checkCrunStateOfAnotherUser(scratch: scratch)
    }

    /// crun's status, written by nobody, naming root's v2 cgroup by its path: refused.
    func checkCrunStateOfAnotherUser(scratch: ScratchDirectory) throws {
        let victim2 = try TestCgroup(.v2)
        defer { victim2.destroy() }
        let victim2PID = try victim2.start("sleep 1000")
        let crunRoot = scratch.path + "/user-crun"
        try FileManager.default.createDirectory(atPath: crunRoot, withIntermediateDirectories: false)
        chown(crunRoot, uid_t(Self.nobody.uid), gid_t(Self.nobody.gid))
        try asNobody("""
            mkdir \(crunRoot)/cr && printf '%s' '{"pid": \(victim2PID), "process-start-time": \(try procStartTime(victim2PID)), "cgroup-path": "\(victim2.relativePath)", "bundle": "/nonexistent"}' > \(crunRoot)/cr/status
            """)
        let crun = try freezectl("pause", "--runtime-root", crunRoot, "crun:cr", "--format", "json")
        #expect(crun.status == 2 && code(crun) == "untrusted-state", "\(crun.stdout) \(crun.stderr)")
        #expect(!victim2.selfFrozen && procShowsFrozen(victim2PID, .v2) == false)
    }
}
