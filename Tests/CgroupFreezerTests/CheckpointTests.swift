import CgroupFreezer
import CRIUCheckpoint
import Foundation
import Testing

/// The stand-in criu from Fixtures, copied executable into `scratch`, with a record directory.
func fakeCRIU(in scratch: ScratchDirectory) throws -> (path: String, record: String) {
    let source = try #require(Bundle.module.path(forResource: "Fixtures/fake-criu", ofType: nil))
    let path = scratch.path + "/criu"
    try FileManager.default.copyItem(atPath: source, toPath: path)
    chmod(path, 0o755)
    let record = scratch.path + "/record"
    try FileManager.default.createDirectory(atPath: record, withIntermediateDirectories: true)
    return (path, record)
}

/// The PID of the stand-in criu hung in a dump (mode `hang`), once it has said it (10 s at most).
func hungCRIUPID(_ record: String) throws -> Int32 {
    let file = record + "/criu.pid"
    func pid() -> Int32? {
        // Absent until the stand-in has renamed it into place; nil, then, and the wait goes on.
        Int32(((try? String(contentsOfFile: file, encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines))
    }
    try #require(eventually { pid() != nil }, "the stand-in criu wrote \(file)")
    return try #require(pid())
}

/// A tree of a shell and two sleeps in a fresh cgroup; returns the cgroup and the root PID.
func tree(_ version: Hierarchy.Version) throws -> (TestCgroup, Int32) {
    let cgroup = try TestCgroup(version)
    let root = try cgroup.start("sleep 1000 & sleep 1000 & wait")
    cgroup.waitForProcesses(atLeast: 3)
    return (cgroup, root)
}

/// Moves one child of `root` to the hierarchy's root cgroup: a stray, as after some restores.
private func moveOneChildOut(of root: Int32, from cgroup: TestCgroup) throws -> Int32 {
    let children = try String(contentsOfFile: "/proc/\(root)/task/\(root)/children", encoding: .utf8)
        .split(separator: " ").compactMap { Int32($0) }
    let child = try #require(children.first)
    try String(child).write(toFile: cgroup.hierarchy.mountPoint.string + "/cgroup.procs", atomically: false, encoding: .utf8)
    return child
}

/// A criu whose `criu check` passes (FREEZECTL_CRIU, then PATH), for the round trip.
private let workingCRIU: String? = {
    guard let criu = ProcessInfo.processInfo.environment["FREEZECTL_CRIU"] ?? which("criu"),
          (try? run(criu, ["check"]))?.status == 0 else { return nil }
    return criu
}()

/// A criu whose check fails on a kernel with [vvar_vclock] (Debian's 3.17 on 6.13+).
private let brokenCRIUOnVvarKernel: String? = {
    // /proc files report size 0: read to EOF, not by size.
    let maps = String(decoding: FileHandle(forReadingAtPath: "/proc/self/maps")?.readDataToEndOfFile() ?? Data(), as: UTF8.self)
    guard let criu = which("criu"), maps.contains("[vvar_vclock]"), (try? run(criu, ["check"]))?.status != 0 else { return nil }
    return criu
}()

@Suite("Checkpoint, restore, the tree check and the restore marker", .serialized, .hostUnchanged)
struct CheckpointTests {
    @Test("verify finds a child moved out of the cgroup, and --repair moves it back", arguments: [Hierarchy.Version.v1, .v2])
    func verifyAndRepair(_ version: Hierarchy.Version) throws {
        let (cgroup, root) = try tree(version)
        defer { cgroup.destroy() }
        let stray = try moveOneChildOut(of: root, from: cgroup)
        defer { kill(stray, SIGKILL) }

        let found = try freezectl("verify", cgroup.path, "--format", "json")
        #expect(found.status == 1)
        let strays = try #require(found.jsonLines.first?["strays"] as? [[String: Any]])
        #expect(strays.map { $0["pid"] as? Int } == [Int(stray)])
        #expect((strays.first?["command"] as? String)?.contains("sleep 1000") == true)
        #expect(strays.first?["cgroup"] as? String == cgroup.hierarchy.mountPoint.string)
        #expect(found.stderr.contains("\(stray)") && found.stderr.contains("--repair"))

        let repaired = try freezectl("verify", cgroup.path, "--repair")
        #expect(repaired.status == 0)
        #expect(cgroup.pids.contains(stray), "moved back into the cgroup")
        #expect(try freezectl("verify", cgroup.path).status == 0)
    }

    @Test("checkpoint refuses a tree with strays before touching anything; --repair-tree moves them in and dumps")
    func checkpointWithStrays() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let criu = try fakeCRIU(in: scratch)
        let (cgroup, root) = try tree(.v1)
        defer { cgroup.destroy() }
        let stray = try moveOneChildOut(of: root, from: cgroup)
        defer { kill(stray, SIGKILL) }
        let env = ["FAKE_CRIU_RECORD": criu.record]

        let refused = try freezectl("checkpoint", cgroup.path, "--images-dir", scratch.path + "/img", "--criu", criu.path, environment: env)
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("outside \(cgroup.path)") && refused.stderr.contains("\(stray)"))
        #expect(!FileManager.default.fileExists(atPath: criu.record + "/argv"), "criu was not run")
        #expect(!cgroup.selfFrozen)

        let repaired = try freezectl("checkpoint", cgroup.path, "--images-dir", scratch.path + "/img", "--criu", criu.path,
                                     "--repair-tree", "--format", "json", environment: env)
        #expect(repaired.status == 0, "\(repaired.stderr)")
        #expect(cgroup.pids.contains(stray))
        #expect(repaired.jsonLines.contains { $0["step"] as? String == "verify" && ($0["detail"] as? String)?.contains("moved") == true })
    }

    @Test("a zombie of the tree (exited, never reaped: /proc shows it in the root cgroup) is no stray for verify or checkpoint", arguments: [Hierarchy.Version.v1, .v2])
    func zombieIsNoStray(_ version: Hierarchy.Version) throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let criu = try fakeCRIU(in: scratch)
        let cgroup = try TestCgroup(version)
        defer { cgroup.destroy() }
        // The shell's child exits at once; the shell becomes `sleep`, which never reaps it.
        let root = try cgroup.start("true & exec sleep 1000")
        try #require(eventually {
            let children = (try? String(contentsOfFile: "/proc/\(root)/task/\(root)/children", encoding: .utf8)) ?? ""
            return children.split(separator: " ").contains { Int32($0).flatMap(procState) == "Z" }
        }, "the tree has its zombie")
        #expect(try freezectl("verify", cgroup.path).status == 0)
        let checkpoint = try freezectl("checkpoint", cgroup.path, "--images-dir", scratch.path + "/img", "--criu", criu.path,
                                       environment: ["FAKE_CRIU_RECORD": criu.record])
        #expect(checkpoint.status == 0, "\(checkpoint.stderr)")
    }

    @Test("a stray that keeps forking while checkpoint --repair-tree moves it: the repair reads the tree again until nothing is outside, so a checkpoint right after finds no stray; the tree's exited children (zombies, which /proc shows in the root cgroup) are no strays", arguments: [Hierarchy.Version.v1, .v2])
    func checkpointAfterRepairingAForkingStray(_ version: Hierarchy.Version) throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let criu = try fakeCRIU(in: scratch)
        let fifo = scratch.path + "/go"
        #expect(mkfifo(fifo, 0o600) == 0)
        let cgroup = try TestCgroup(version)
        defer { cgroup.destroy() }
        // The root's second child forks short sleeps without reaping them (zombies pile up until
        // its `wait`) once the FIFO opens: moved out first, it is a stray that forks while it is
        // moved back.
        let root = try cgroup.start("sleep 1000 & ( read x < \(fifo); i=0; while [ $i -lt 3000 ]; do sleep 1 & i=$((i+1)); done; wait ) & wait")
        cgroup.waitForProcesses(atLeast: 3)
        let children = try String(contentsOfFile: "/proc/\(root)/task/\(root)/children", encoding: .utf8).split(separator: " ").compactMap { Int32($0) }
        // The subshell is a fork of the root shell (its command is `sh`), the other child `sleep`.
        let forker = try #require(children.first { (try? String(contentsOfFile: "/proc/\($0)/comm", encoding: .utf8)) == "sh\n" })
        try String(forker).write(toFile: cgroup.hierarchy.mountPoint.string + "/cgroup.procs", atomically: false, encoding: .utf8)
        defer { kill(forker, SIGKILL) }
        let go = open(fifo, O_WRONLY)
        #expect(go >= 0)
        close(go)
        usleep(100_000)
        let env = ["FAKE_CRIU_RECORD": criu.record]
        let repaired = try freezectl("checkpoint", cgroup.path, "--images-dir", scratch.path + "/img1", "--criu", criu.path, "--repair-tree", environment: env)
        #expect(repaired.status == 0, "\(repaired.stderr)")
        let again = try freezectl("checkpoint", cgroup.path, "--images-dir", scratch.path + "/img2", "--criu", criu.path, environment: env)
        #expect(again.status == 0, "a checkpoint right after the repair found strays: \(again.stderr)")
        #expect(procState(forker) != nil, "the stray was still forking during both checkpoints")
        #expect(!cgroup.kernelFrozen)
    }

    @Test("a checkpoint freezes, dumps with --freeze-cgroup, and thaws; each step is reported", arguments: [Hierarchy.Version.v1, .v2])
    func checkpointSequence(_ version: Hierarchy.Version) throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let criu = try fakeCRIU(in: scratch)
        let (cgroup, root) = try tree(version)
        defer { cgroup.destroy() }
        let images = scratch.path + "/img"
        let result = try freezectl("checkpoint", cgroup.path, "--images-dir", images, "--criu", criu.path, "--format", "json",
                                   environment: ["FAKE_CRIU_RECORD": criu.record])
        #expect(result.status == 0, "\(result.stderr)")
        let steps = result.jsonLines.filter { $0["status"] as? String != "started" }.map { "\($0["step"] ?? "")=\($0["status"] ?? "")" }
        #expect(steps == ["preflight=ok", "verify=ok", "freeze=ok", "dump=ok", "thaw=ok"])
        let argv = try String(contentsOfFile: criu.record + "/argv", encoding: .utf8)
        #expect(argv.contains("dump --tree \(root) --images-dir \(images) --freeze-cgroup \(cgroup.path)"))
        #expect(argv.contains("--leave-running") && argv.contains("-v4"))
        let during = try String(contentsOfFile: criu.record + "/state-during-dump", encoding: .utf8)
        #expect(during.contains("FROZEN") || during.contains("frozen 1"), "the tree held still while criu looked: \(during)")
        #expect(FileManager.default.fileExists(atPath: images + "/inventory.img"))
        #expect(!cgroup.kernelFrozen, "thawed after the dump")
    }

    @Test("a container's init is the default root of its tree")
    func containerInitIsTheRoot() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let criu = try fakeCRIU(in: scratch)
        let runc = try RuncContainers()
        defer { runc.destroy() }
        try runc.run("ckpt-me")
        let state = try runc.runc("state", "ckpt-me")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(state.stdout.utf8)) as? [String: Any])
        let initPID = try #require(json["pid"] as? Int)
        let result = try freezectl("checkpoint", "--runtime-root", runc.root, "runc:ckpt-me", "--images-dir", scratch.path + "/img",
                                   "--criu", criu.path, environment: ["FAKE_CRIU_RECORD": criu.record])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try String(contentsOfFile: criu.record + "/argv", encoding: .utf8).contains("--tree \(initPID) "))
        #expect(try runc.list()["ckpt-me"] == "running")
    }

    @Test("the health check runs after the checkpoint's thaw; unhealthy exits 3")
    func healthAfterCheckpoint() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let criu = try fakeCRIU(in: scratch)
        let (cgroup, _) = try tree(.v2)
        defer { cgroup.destroy() }
        let healthy = try freezectl("checkpoint", cgroup.path, "--images-dir", scratch.path + "/a", "--criu", criu.path,
                                    "--health-cmd", "test \"$FREEZECTL_CGROUP\" = \(cgroup.path)", "--format", "json",
                                    environment: ["FAKE_CRIU_RECORD": criu.record])
        #expect(healthy.status == 0, "\(healthy.stderr)")
        #expect(healthy.jsonLines.last?["step"] as? String == "health" && healthy.jsonLines.last?["status"] as? String == "ok")
        let unhealthy = try freezectl("checkpoint", cgroup.path, "--images-dir", scratch.path + "/b", "--criu", criu.path,
                                      "--health-cmd", "exit 1", "--health-retries", "1", "--format", "json",
                                      environment: ["FAKE_CRIU_RECORD": criu.record])
        #expect(unhealthy.status == 3)
        #expect(unhealthy.jsonLines.last?["status"] as? String == "failed")
        #expect(!cgroup.kernelFrozen)
    }

    @Test("a failing dump leaves the cgroup thawed and quotes CRIU's log")
    func failingDump() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let criu = try fakeCRIU(in: scratch)
        let (cgroup, _) = try tree(.v2)
        defer { cgroup.destroy() }
        let images = scratch.path + "/img"
        let result = try freezectl("checkpoint", cgroup.path, "--images-dir", images, "--criu", criu.path,
                                   environment: ["FAKE_CRIU_RECORD": criu.record, "FAKE_CRIU_MODE": "fail"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("Error (criu/cr-dump.c:1432): Unseizable non-zombie PID 4242 found"))
        #expect(result.stderr.contains(images + "/dump.log"))
        #expect(!cgroup.kernelFrozen && !cgroup.selfFrozen)
    }

    @Test("SIGINT during a slow dump lets criu finish within the grace, then thaws, then exits 130")
    func interruptDuringDump() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let criu = try fakeCRIU(in: scratch)
        let (cgroup, _) = try tree(.v1)
        defer { cgroup.destroy() }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: freezectlBinary)
        process.arguments = ["checkpoint", cgroup.path, "--images-dir", scratch.path + "/img", "--criu", criu.path]
        process.environment = ProcessInfo.processInfo.environment.merging(
            ["FAKE_CRIU_RECORD": criu.record, "FAKE_CRIU_MODE": "slow", "FAKE_CRIU_SLEEP": "2"]) { $1 }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer { if process.isRunning { process.terminate() } }
        for _ in 0..<500 where !FileManager.default.fileExists(atPath: criu.record + "/started") { usleep(10_000) }
        try #require(FileManager.default.fileExists(atPath: criu.record + "/started"))
        #expect(cgroup.kernelFrozen, "frozen while criu dumps")
        kill(process.processIdentifier, SIGINT)
        usleep(300_000)
        #expect(process.isRunning, "freezectl waits for criu instead of dying")
        process.waitUntilExit()
        #expect(process.terminationReason == .exit && process.terminationStatus == 130)
        #expect(FileManager.default.fileExists(atPath: criu.record + "/done"), "criu was let finish")
        #expect(!cgroup.kernelFrozen && !cgroup.selfFrozen)
    }

    @Test("criu-hook writes the marker on post-restore, atomically, counting restores")
    func hookWritesMarker() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let marker = scratch.path + "/restored.json"
        let base = ["FREEZECTL_MARKER": marker, "CRTOOLS_IMAGE_DIR": scratch.path, "FREEZECTL_IMAGES_DIR": "/var/ckpt/web",
                    "FREEZECTL_CRIU_VERSION": "4.1"]
        for action in ["pre-restore", "setup-namespaces", "pre-dump", "post-dump"] {
            #expect(try freezectl("criu-hook", environment: base.merging(["CRTOOLS_SCRIPT_ACTION": action]) { $1 }).status == 0)
        }
        #expect(!FileManager.default.fileExists(atPath: marker), "other actions have no effect")

        for count in 1...2 {
            let result = try freezectl("criu-hook", environment: base.merging(["CRTOOLS_SCRIPT_ACTION": "post-restore", "CRTOOLS_INIT_PID": "4242"]) { $1 })
            #expect(result.status == 0, "\(result.stderr)")
            let data = try Data(contentsOf: URL(fileURLWithPath: marker))
            let json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
            #expect(json["restore_count"] as? Int == count)
            #expect(json["images_dir"] as? String == "/var/ckpt/web")
            #expect(json["init_pid"] as? Int == 4242)
            #expect(json["criu_version"] as? String == "4.1")
            #expect((json["restored_at"] as? String).flatMap { ISO8601DateFormatter().date(from: $0) } != nil, "RFC 3339")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.path).filter { $0.hasSuffix(".tmp") }.isEmpty)
        let consumed = try RestoreMarker.consume(at: .init(marker))
        #expect(consumed?.restoreCount == 2)
        #expect(!FileManager.default.fileExists(atPath: marker))

        let unwritable = try freezectl("criu-hook", environment: base.merging(
            ["CRTOOLS_SCRIPT_ACTION": "post-restore", "FREEZECTL_MARKER": scratch.path + "/no/such/dir/m.json"]) { $1 })
        #expect(unwritable.status == 1, "the marker's own failure is reported")
    }

    @Test("restore runs criu with freezectl as action script, moves the tree into the cgroup, writes the marker")
    func restoreIntoCgroup() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let criu = try fakeCRIU(in: scratch)
        let cgroup = try TestCgroup(.v2)
        defer { cgroup.destroy() }
        let images = scratch.path + "/img"
        try FileManager.default.createDirectory(atPath: images, withIntermediateDirectories: true)
        let marker = scratch.path + "/marker.json"
        let result = try freezectl("restore", "--images-dir", images, "--criu", criu.path, "--cgroup", cgroup.path,
                                   "--marker", marker, "--format", "json", environment: ["FAKE_CRIU_RECORD": criu.record])
        #expect(result.status == 0, "\(result.stderr)")
        let done = try #require(result.jsonLines.first { $0["step"] as? String == "done" })
        let root = try #require(Int32((done["detail"] as? String ?? "").split(separator: " ").last ?? ""))
        defer { kill(-root, SIGKILL); kill(root, SIGKILL) }
        #expect(cgroup.pids.contains(root), "the restored tree is in the cgroup")
        #expect(cgroup.pids.count >= 3)
        let argv = try String(contentsOfFile: criu.record + "/argv", encoding: .utf8)
        #expect(argv.contains("restore --restore-detached --pidfile"))
        #expect(argv.contains("--action-script \(freezectlBinary)"))
        let json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: marker))) as? [String: Any])
        #expect(json["restore_count"] as? Int == 1)
        #expect(json["init_pid"] as? Int == Int(root))
        #expect(json["images_dir"] as? String == images)
        #expect(!cgroup.kernelFrozen)
    }

    @Test("the preflight explains the vvar_vclock failure of a real criu check",
          .enabled(if: brokenCRIUOnVvarKernel != nil, "needs a criu whose check fails on a kernel with [vvar_vclock]"))
    func preflightExplainsVvarVclock() throws {
        let criu = try #require(brokenCRIUOnVvarKernel)
        let (cgroup, _) = try tree(.v2)
        defer { cgroup.destroy() }
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let result = try freezectl("checkpoint", cgroup.path, "--images-dir", scratch.path + "/img", "--criu", criu)
        #expect(result.status == 1)
        #expect(result.stderr.contains("[vvar_vclock]") && result.stderr.contains("CRIU before 4.1"), "\(result.stderr)")
        #expect(result.stderr.contains("Error ("), "quotes criu check's own output")
        #expect(!cgroup.selfFrozen, "nothing was frozen before the preflight passed")
    }

    @Test("with a working CRIU: checkpoint, kill, restore, and do it again",
          .enabled(if: workingCRIU != nil, "needs a CRIU whose `criu check` passes (FREEZECTL_CRIU or PATH); Debian's 3.17 fails on kernels 6.13+"))
    func realCRIURoundTrip() throws {
        let criu = try #require(workingCRIU)
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let cgroup = try TestCgroup(.v2)
        defer { cgroup.destroy() }
        // A session leader with only stdio (a descriptor inherited from the test runner would be an
        // external resource CRIU refuses to dump), detached from the runner by setsid -f.
        let workload = #"for fd in /proc/$$/fd/*; do n=${fd##*/}; [ "$n" -gt 2 ] && eval "exec $n>&-"; done; sleep 1000 & sleep 1000 & wait"#
        let started = try runDetaching("/bin/sh", ["-c", "echo $$ > \(cgroup.file("cgroup.procs")) && exec setsid -f /bin/bash -c '\(workload)' </dev/null >/dev/null 2>&1"])
        try #require(started.status == 0)
        cgroup.waitForProcesses(atLeast: 3)
        let marker = scratch.path + "/marker.json"
        for round in 1...2 {
            let images = scratch.path + "/img\(round)"
            let dump = try freezectl("checkpoint", cgroup.path, "--images-dir", images, "--criu", criu)
            #expect(dump.status == 0, "\(dump.stdout)\(dump.stderr)")
            let pids = cgroup.pids
            #expect(pids.count >= 3, "still running after --leave-running")
            for pid in pids { kill(pid, SIGKILL) }
            // The restore needs the same PIDs: wait until they are gone, zombies included.
            for _ in 0..<500 where pids.contains(where: { procState($0) != nil }) { usleep(10_000) }
            let restore = try freezectl("restore", "--images-dir", images, "--criu", criu, "--cgroup", cgroup.path,
                                        "--marker", marker)
            #expect(restore.status == 0, "\(restore.stdout)\(restore.stderr)")
            #expect(Set(cgroup.pids) == Set(pids), "the same tree, in the cgroup")
            #expect(!cgroup.kernelFrozen)
            #expect(try RestoreMarker.read(at: .init(marker))?.restoreCount == round)
        }
    }
}
