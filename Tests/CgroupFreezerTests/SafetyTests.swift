import CgroupFreezer
import CRIUCheckpoint
import Foundation
import SystemPackage
import Testing

/// Issue 11's promises, each on the real kernel: nothing left frozen by a signal, a hang or a
/// closed pipe; nothing written through a file a container controls; bounded input.
@Suite("Safety: signals, hangs, hostile files, bounds", .serialized, .hostUnchanged)
struct SafetyTests {
    @Test("SIGINT during a v2 pause that cannot complete: thawed, --atomic rolls back, results printed and audited, exit 130")
    func sigintDuringPause() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let quick = try TestCgroup(.v1)
        defer { quick.destroy() }
        try quick.start("sleep 1000")
        let stuck = try TestCgroup(.v2)
        defer { stuck.destroy() }
        try stuck.start("sleep 1000")
        let fuse = try StuckOnFUSE(in: stuck, scratch: scratch)
        defer { fuse.stop() }
        let log = scratch.path + "/audit.jsonl"

        let pause = try BackgroundProcess(freezectlBinary, ["pause", quick.path, stuck.path, "--atomic", "--timeout", "60s",
                                                           "--audit-log", log, "--format", "json"])
        try #require(eventually { stuck.selfFrozen && quick.kernelFrozen }, "the freeze was written and the quick one done")
        usleep(200_000)
        #expect(!stuck.kernelFrozen, "the FUSE-blocked task keeps the v2 freeze from completing")
        pause.signal(SIGINT)
        let result = pause.wait(seconds: 15)
        #expect(result.exited && result.status == 130, "\(result.status) \(result.stderr)")
        #expect(!stuck.selfFrozen && !stuck.kernelFrozen, "the freeze in progress was undone")
        #expect(!quick.selfFrozen && !quick.kernelFrozen, "--atomic rolled back the finished one")
        let lines = result.stdout.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(lines.map { $0["result"] as? String } == ["rolled-back", "error"], "\(result.stdout)")
        #expect((lines.last?["error"] as? [String: Any])?["code"] as? String == "cancelled")
        let records = auditRecords(log)
        #expect(Set(records.map { "\($0["action"] ?? "") \($0["target"] ?? "") \($0["result"] ?? "")" }) ==
                ["pause \(quick.path) ok", "pause \(stuck.path) error", "unpause \(quick.path) ok"], "\(records)")
    }

    @Test("SIGTERM during a v2 pause that cannot complete: the cgroup's earlier state is back, exit 143")
    func sigtermDuringPause() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let stuck = try TestCgroup(.v2)
        defer { stuck.destroy() }
        try stuck.start("sleep 1000")
        let fuse = try StuckOnFUSE(in: stuck, scratch: scratch)
        defer { fuse.stop() }
        let pause = try BackgroundProcess(freezectlBinary, ["pause", stuck.path, "--timeout", "60s"])
        try #require(eventually { stuck.selfFrozen })
        pause.signal(SIGTERM)
        let result = pause.wait(seconds: 15)
        #expect(result.exited && result.status == 143, "\(result.status) \(result.stderr)")
        #expect(result.stderr.contains("SIGTERM") && result.stderr.contains("cancelled"), "\(result.stderr)")
        #expect(!stuck.selfFrozen && !stuck.kernelFrozen)
    }

    @Test("SIGINT during unpause --wait-healthy: audit records of the thaw are written, the probe is killed, exit 130")
    func sigintDuringHealthWait() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let cgroup = try TestCgroup(.v1)
        defer { cgroup.destroy() }
        try cgroup.start("sleep 1000")
        #expect(try freezectl("pause", cgroup.path).status == 0)
        let log = scratch.path + "/audit.jsonl"
        let unpause = try BackgroundProcess(freezectlBinary, ["unpause", cgroup.path, "--health-cmd", "exec sleep 4242",
                                                             "--health-timeout", "60s", "--wait-healthy", "60s", "--audit-log", log])
        try #require(eventually { !processes(withCommandLine: ["sleep", "4242"]).isEmpty }, "the probe runs")
        #expect(auditRecords(log).map { $0["action"] as? String } == ["unpause"], "recorded as soon as the thaw was done")
        unpause.signal(SIGINT)
        let result = unpause.wait(seconds: 15)
        #expect(result.exited && result.status == 130, "\(result.status) \(result.stderr)")
        #expect(processes(withCommandLine: ["sleep", "4242"]).isEmpty, "the probe's group was killed")
        #expect(auditRecords(log).first?["result"] as? String == "ok")
        #expect(!cgroup.kernelFrozen)
    }

    @Test("SIGHUP while a hung criu dumps: criu's group is killed, the tree thawed, exit 129")
    func sighupDuringHungDump() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let criu = try fakeCRIU(in: scratch)
        let (cgroup, _) = try tree(.v2)
        defer { cgroup.destroy() }
        let checkpoint = try BackgroundProcess(freezectlBinary, ["checkpoint", cgroup.path, "--images-dir", scratch.path + "/img",
                                                                "--criu", criu.path, "--criu-timeout", "3s"],
                                               environment: ["FAKE_CRIU_RECORD": criu.record, "FAKE_CRIU_MODE": "hang"])
        let criuPID = try hungCRIUPID(criu.record)
        #expect(cgroup.kernelFrozen, "frozen while criu dumps")
        checkpoint.signal(SIGHUP)
        let result = checkpoint.wait(seconds: 20)
        #expect(result.exited && result.status == 129, "\(result.status) \(result.stderr)")
        #expect(!cgroup.kernelFrozen && !cgroup.selfFrozen)
        #expect(eventually(seconds: 2) { procState(criuPID) == nil || procState(criuPID) == "Z" }, "criu was killed")
        #expect(processes(withCommandLine: ["sleep", "100000"]).isEmpty, "and its process group with it")
    }

    @Test("--criu-timeout on a hung criu: killed, thawed, exit 1 naming this run's log, never an earlier run's")
    func criuTimeout() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let criu = try fakeCRIU(in: scratch)
        let (cgroup, _) = try tree(.v1)
        defer { cgroup.destroy() }
        let images = scratch.path + "/img"
        try FileManager.default.createDirectory(atPath: images, withIntermediateDirectories: true)
        try "Error (criu/stale.c:1): a failure of an earlier run\n".write(toFile: images + "/dump.log", atomically: true, encoding: .utf8)
        let result = try freezectl("checkpoint", cgroup.path, "--images-dir", images, "--criu", criu.path, "--criu-timeout", "1s",
                                   environment: ["FAKE_CRIU_RECORD": criu.record, "FAKE_CRIU_MODE": "hang"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("abandoned after 1s") && result.stderr.contains(images + "/dump.log"), "\(result.stderr)")
        #expect(!result.stderr.contains("earlier run") && !result.stdout.contains("earlier run"))
        #expect(!cgroup.kernelFrozen && !cgroup.selfFrozen)
        #expect(processes(withCommandLine: ["sleep", "100000"]).isEmpty)
    }

    @Test("a closed stdout (| head -c 1) during a dump: no SIGPIPE, the tree is thawed, exit 0")
    func closedStdoutDuringDump() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let criu = try fakeCRIU(in: scratch)
        let (cgroup, _) = try tree(.v1)
        defer { cgroup.destroy() }
        let log = scratch.path + "/audit.jsonl"
        let status = scratch.path + "/status"
        let command = "{ \(freezectlBinary) checkpoint \(cgroup.path) --images-dir \(scratch.path)/img --criu \(criu.path) --audit-log \(log); echo $? > \(status); } | head -c 1 >/dev/null"
        let result = try run("/bin/sh", ["-c", command], environment: ["FAKE_CRIU_RECORD": criu.record, "FAKE_CRIU_MODE": "slow", "FAKE_CRIU_SLEEP": "1"])
        #expect(result.status == 0)
        #expect((try? String(contentsOfFile: status, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) == "0", "\(result.stderr)")
        #expect(!cgroup.kernelFrozen && !cgroup.selfFrozen)
        #expect(auditRecords(log).map { $0["result"] as? String } == ["ok"])
    }

    @Test("a thaw that fails after the dump is an error naming the cgroup and its state, never 'thawed'")
    func thawFailureAfterDump() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let criu = try fakeCRIU(in: scratch)
        let parent = try TestCgroup(.v1)
        defer { parent.destroy() }
        let child = try parent.child("job")
        let root = try child.start("sleep 1000 & sleep 1000 & wait")
        child.waitForProcesses(atLeast: 3)
        let checkpoint = try BackgroundProcess(freezectlBinary, ["checkpoint", child.path, "--images-dir", scratch.path + "/img",
                                                                "--criu", criu.path, "--pid", String(root)],
                                               environment: ["FAKE_CRIU_RECORD": criu.record, "FAKE_CRIU_MODE": "slow", "FAKE_CRIU_SLEEP": "1"])
        try #require(eventually { FileManager.default.fileExists(atPath: criu.record + "/started") })
        // Someone freezes the parent while CRIU dumps: the child's thaw cannot take effect.
        try parent.write("FROZEN", "freezer.state")
        let result = checkpoint.wait(seconds: 20)
        try parent.write("THAWED", "freezer.state")
        #expect(result.exited && result.status == 1, "\(result.status) \(result.stderr)")
        #expect(result.stderr.contains("could not be thawed") && result.stderr.contains(child.path)
                && result.stderr.contains("frozen-by-parent"), "\(result.stderr)")
        let thawSteps = result.stdout.split(separator: "\n").filter { $0.hasPrefix("thaw") }
        #expect(thawSteps.count == 1 && thawSteps.allSatisfy { $0.contains("failed") }, "never reported thawed: \(result.stdout)")
    }

    @Test("checkpoint of a paused target leaves it paused")
    func checkpointKeepsPause() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let criu = try fakeCRIU(in: scratch)
        let (cgroup, _) = try tree(.v2)
        defer { cgroup.destroy() }
        #expect(try freezectl("pause", cgroup.path).status == 0)
        let result = try freezectl("checkpoint", cgroup.path, "--images-dir", scratch.path + "/img", "--criu", criu.path,
                                   environment: ["FAKE_CRIU_RECORD": criu.record])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("stays frozen"))
        #expect(cgroup.kernelFrozen && cgroup.selfFrozen, "still paused after the checkpoint")
        #expect(cgroup.pids.allSatisfy { procShowsFrozen($0, .v2) != false })
    }

    @Test("restore --paused needs --cgroup; with it the stopped tree is frozen before it is continued")
    func restorePaused() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let criu = try fakeCRIU(in: scratch)
        let images = scratch.path + "/img"
        try FileManager.default.createDirectory(atPath: images, withIntermediateDirectories: true)
        let bare = try freezectl("restore", "--images-dir", images, "--criu", criu.path, "--paused")
        #expect(bare.status == 2 && bare.stderr.contains("--cgroup"), "\(bare.stderr)")
        #expect(!FileManager.default.fileExists(atPath: criu.record + "/argv"), "criu never ran")

        let cgroup = try TestCgroup(.v1)
        defer { cgroup.destroy() }
        let result = try freezectl("restore", "--images-dir", images, "--criu", criu.path, "--paused", "--cgroup", cgroup.path,
                                   environment: ["FAKE_CRIU_RECORD": criu.record])
        #expect(result.status == 0, "\(result.stderr)")
        #expect((try? String(contentsOfFile: criu.record + "/argv", encoding: .utf8))?.contains("--leave-stopped") == true)
        #expect(cgroup.kernelFrozen)
        let pids = cgroup.pids
        #expect(pids.count == 3)
        #expect(try freezectl("unpause", cgroup.path).status == 0)
        // Continued while frozen: after the thaw they sleep (S), not stopped (T).
        #expect(eventually(seconds: 2) { pids.allSatisfy { procState($0) == "S" } }, "\(pids.map(procDescription))")
        for pid in pids { kill(pid, SIGKILL) }
    }

    @Test("the restore marker: a planted symlink or FIFO is replaced, never followed; a huge count restarts; the owner is the directory's")
    func markerIsWrittenSafely() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let directory = scratch.path + "/app"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let outside = scratch.path + "/outside"
        try "precious\n".write(toFile: outside, atomically: true, encoding: .utf8)
        let marker = directory + "/restored.json"

        try FileManager.default.createSymbolicLink(atPath: marker, withDestinationPath: outside)
        let first = try RestoreMarker.record(at: FilePath(marker), imagesDir: "/img", initPID: 1, criuVersion: "4.1")
        #expect(first.restoreCount == 1)
        #expect(try String(contentsOfFile: outside, encoding: .utf8) == "precious\n", "nothing written through the symlink")
        #expect((try FileManager.default.attributesOfItem(atPath: marker)[.type] as? FileAttributeType) == .typeRegular)

        try FileManager.default.removeItem(atPath: marker)
        #expect(mkfifo(marker, 0o666) == 0)
        let afterFIFO = try RestoreMarker.record(at: FilePath(marker), imagesDir: "/img", initPID: 1, criuVersion: nil)
        #expect(afterFIFO.restoreCount == 1, "a FIFO is neither read (no hang) nor trusted")
        #expect((try FileManager.default.attributesOfItem(atPath: marker)[.type] as? FileAttributeType) == .typeRegular)

        try #"{"restore_count":9223372036854775807,"images_dir":"/img","restored_at":"x"}"#.write(toFile: marker, atomically: true, encoding: .utf8)
        #expect(try RestoreMarker.record(at: FilePath(marker), imagesDir: "/img", initPID: 1, criuVersion: nil).restoreCount == 1)
        #expect(try RestoreMarker.record(at: FilePath(marker), imagesDir: "/img", initPID: 1, criuVersion: nil).restoreCount == 2)

        // A directory the restored program owns: the marker is its, not root's.
        #expect(chown(directory, 65534, 65534) == 0)
        try RestoreMarker.record(at: FilePath(marker), imagesDir: "/img", initPID: 1, criuVersion: nil)
        let attributes = try FileManager.default.attributesOfItem(atPath: marker)
        #expect(attributes[.ownerAccountID] as? Int == 65534)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["restored.json"], "no temporary left")

        // Through the hook CRIU runs, with the symlink planted again.
        try FileManager.default.removeItem(atPath: marker)
        try FileManager.default.createSymbolicLink(atPath: marker, withDestinationPath: outside)
        let hook = try freezectl("criu-hook", environment: ["CRTOOLS_SCRIPT_ACTION": "post-restore", "FREEZECTL_MARKER": marker,
                                                            "FREEZECTL_IMAGES_DIR": "/img", "CRTOOLS_INIT_PID": "42"])
        #expect(hook.status == 0, "\(hook.stderr)")
        #expect(try String(contentsOfFile: outside, encoding: .utf8) == "precious\n")
    }

    @Test("--audit-log that is a symlink is refused; with --audit-required nothing is frozen")
    func auditLogSymlink() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let cgroup = try TestCgroup(.v1)
        defer { cgroup.destroy() }
        try cgroup.start("sleep 1000")
        let outside = scratch.path + "/outside"
        try "precious\n".write(toFile: outside, atomically: true, encoding: .utf8)
        let log = scratch.path + "/audit.jsonl"
        try FileManager.default.createSymbolicLink(atPath: log, withDestinationPath: outside)
        let refused = try freezectl("pause", cgroup.path, "--audit-log", log, "--audit-required")
        #expect(refused.status == 1 && refused.stderr.contains("symlink"), "\(refused.stderr)")
        #expect(!cgroup.selfFrozen)
        let warned = try freezectl("pause", cgroup.path, "--audit-log", log)
        #expect(warned.status == 0 && warned.stderr.contains("symlink"))
        #expect(try String(contentsOfFile: outside, encoding: .utf8) == "precious\n")
        #expect(try freezectl("unpause", cgroup.path).status == 0)
    }

    @Test("a cgroup of 2000 processes is counted right (cgroup.procs read whole)")
    func largeCgroup() throws {
        let cgroup = try TestCgroup(.v1)
        defer { cgroup.destroy() }
        try cgroup.start("i=0; while [ $i -lt 1999 ]; do sleep 1000 & i=$((i+1)); done; wait")
        cgroup.waitForProcesses(atLeast: 2000, seconds: 60)
        let expected = cgroup.pids
        try #require(expected.count == 2000)
        let status = try freezectl("status", cgroup.path, "--format", "json")
        #expect(status.jsonLines.first?["processes"] as? Int == 2000)
        #expect(Set((status.jsonLines.first?["pids"] as? [Int] ?? []).map(Int32.init)) == Set(expected))
    }

    @Test("durations out of range, negative or below a microsecond, and a huge --parallel, are usage errors (exit 2, no signal)",
          arguments: [["pause", "--timeout", "9999999999h"], ["pause", "--timeout", "0.0001us"], ["pause", "--timeout", "-5s"],
                      ["pause", "--timeout", "25h"], ["unpause", "--health-cmd", "true", "--health-interval", "9999999999h"],
                      ["unpause", "--health-cmd", "true", "--health-timeout", "-1ms"], ["pause", "--parallel", "100000"],
                      ["checkpoint", "--images-dir", "/tmp/x", "--criu-timeout", "1e300s"]])
    func boundedInput(_ arguments: [String]) throws {
        let cgroup = try TestCgroup(.v2)
        defer { cgroup.destroy() }
        let option = arguments[arguments.count - 2]
        let result = try run(freezectlBinary, [arguments[0], cgroup.path] + arguments.dropFirst())
        #expect(result.status == 2, "\(result.stderr)")
        #expect(result.stderr.contains(option), "names the option: \(result.stderr)")
        #expect(!cgroup.selfFrozen)
    }

    @Test("DOCKER_HOST=tcp://... does not concern a cgroup target")
    func dockerHostIrrelevantToCgroups() throws {
        let cgroup = try TestCgroup(.v1)
        defer { cgroup.destroy() }
        let env = ["DOCKER_HOST": "tcp://127.0.0.1:2375"]
        #expect(try freezectl("status", cgroup.path, environment: env).status == 0)
        #expect(try freezectl("pause", cgroup.path, environment: env).status == 0)
        #expect(try freezectl("unpause", cgroup.path, environment: env).status == 0)
        let docker = try freezectl("pause", "docker:x", environment: env)
        #expect(docker.status == 2 && docker.stderr.contains("unix://"))
    }

    @Test("--all with a dockerd that answers errors: a reported failure (exit 1, socket and cause); the runc containers are paused all the same")
    func brokenDockerUnderAll() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let runc = try RuncContainers()
        defer { runc.destroy() }
        try runc.run("fine")
        let socket = scratch.path + "/d.sock"
        // A daemon that is there but broken: every request gets 500. Like dockerd, it outlives a
        // client that connects and hangs up without a request (freezectl asks the socket for its
        // listener's PID that way, while its list request is under way).
        let server = try BackgroundProcess("/usr/bin/python3", ["-c", """
            import socket
            s = socket.socket(socket.AF_UNIX); s.bind("\(socket)"); s.listen()
            body = b'{"message":"daemon broken"}'
            while True:
                c, _ = s.accept()
                try:
                    if c.recv(65536):
                        c.sendall(b"HTTP/1.1 500 Internal Server Error\\r\\nContent-Type: application/json\\r\\nContent-Length: %d\\r\\nConnection: close\\r\\n\\r\\n%s" % (len(body), body))
                except OSError:
                    pass
                c.close()
            """])
        defer { server.signal(SIGKILL); _ = server.wait(seconds: 5) }
        try #require(eventually { FileManager.default.fileExists(atPath: socket) })
        let env = ["DOCKER_HOST": "unix://" + socket]
        let pause = try freezectl("pause", "--all", "--runtime-root", runc.root, "--format", "json", environment: env)
        #expect(pause.status == 1, "\(pause.stdout) \(pause.stderr)")
        #expect(pause.stderr.contains(socket) && pause.stderr.contains("daemon broken"), "\(pause.stderr)")
        #expect(try runc.list()["fine"] == "paused", "the source that works is acted on")
        #expect(try freezectl("unpause", "--runtime-root", runc.root, "runc:fine").status == 0)
    }

    @Test("10 CLIs racing pause and unpause on one v1 and one v2 cgroup: every answer true, never left FREEZING",
          arguments: [Hierarchy.Version.v1, .v2])
    func racingClients(_ version: Hierarchy.Version) throws {
        let cgroup = try TestCgroup(version)
        defer { cgroup.destroy() }
        try cgroup.start("while :; do sleep 0.01 & wait; done")
        let failures = LockedList()
        DispatchQueue.concurrentPerform(iterations: 10) { client in
            for round in 0..<15 {
                let verb = (client + round) % 2 == 0 ? "pause" : "unpause"
                guard let result = try? freezectl(verb, cgroup.path, "--format", "json") else { failures.append("\(verb) did not run"); continue }
                let state = result.jsonLines.first?["state"] as? String
                if result.status != 0 || state != (verb == "pause" ? "frozen" : "thawed") {
                    failures.append("\(verb): exit \(result.status) state \(state ?? "-") \(result.stderr)")
                }
            }
        }
        #expect(failures.items.isEmpty, "\(failures.items.prefix(5))")
        let final = try freezectl("status", cgroup.path, "--format", "json").jsonLines.first
        let state = final?["state"] as? String
        #expect(state == "frozen" || state == "thawed")
        #expect((final?["self"] as? String) == (state == "frozen" ? "frozen" : "thawed"))
    }

    @Test("table output escapes control characters from a container's labels")
    func tableEscapesControlCharacters() throws {
        let runc = try RuncContainers()
        defer { runc.destroy() }
        try runc.run("escape-me", annotations: ["note": "a\u{1B}[2Jb\nFORGED"])
        let status = try freezectl("status", "--runtime-root", runc.root, "runc:escape-me")
        #expect(status.status == 0)
        #expect(!status.stdout.contains("\u{1B}") && !status.stdout.contains("\nFORGED"), "\(status.stdout)")
        #expect(status.stdout.contains("\\u{1B}[2Jb\\nFORGED"))
    }
}

/// Strings appended from several threads.
final class LockedList: @unchecked Sendable {
    private let lock = NSLock()
    private var list: [String] = []
    func append(_ item: String) { lock.withLock { list.append(item) } }
    var items: [String] { lock.withLock { list } }
}
