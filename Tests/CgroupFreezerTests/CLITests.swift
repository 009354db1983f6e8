import CgroupFreezer
import Foundation
import Testing

@Suite("freezectl pause, unpause and status on real cgroups", .serialized, .hostUnchanged)
struct CLITests {
    @Test("pause and unpause report JSON, are idempotent, and status agrees", arguments: [Hierarchy.Version.v1, .v2])
    func pauseUnpauseJSON(_ version: Hierarchy.Version) throws {
        let cgroup = try TestCgroup(version)
        defer { cgroup.destroy() }
        try cgroup.start("sleep 1000 & sleep 1000 & wait")
        cgroup.waitForProcesses(atLeast: 3)
        let target = "cgroup:\(cgroup.relativePath)"

        let pause = try freezectl("pause", target, "--format", "json")
        #expect(pause.status == 0, "\(pause.stderr)")
        let paused = try #require(pause.jsonLines.first)
        #expect(paused["target"] as? String == target)
        #expect(paused["cgroup"] as? String == cgroup.path)
        #expect(paused["backend"] as? String == version.rawValue)
        #expect(paused["result"] as? String == "ok")
        #expect(paused["state"] as? String == "frozen")
        #expect(paused["duration_ms"] is Double)
        #expect(paused["error"] == nil)
        #expect(cgroup.kernelFrozen)

        let again = try freezectl("pause", target, "--format", "json")
        #expect(again.status == 0)
        #expect(again.jsonLines.first?["result"] as? String == "already")

        let status = try freezectl("status", target, "--format", "json")
        #expect(status.status == 0)
        let line = try #require(status.jsonLines.first)
        #expect(line["state"] as? String == "frozen")
        #expect(line["self"] as? String == "frozen")
        #expect(line["backend"] as? String == version.rawValue)
        #expect(line["processes"] as? Int == 3)

        let listed = try freezectl("status", "--format", "json")
        #expect(listed.jsonLines.contains { $0["cgroup"] as? String == cgroup.path }, "status without targets lists the frozen cgroup")

        let unpause = try freezectl("unpause", target, "--format", "json")
        #expect(unpause.status == 0)
        #expect(unpause.jsonLines.first?["result"] as? String == "ok")
        #expect(unpause.jsonLines.first?["state"] as? String == "thawed")
        #expect(!cgroup.kernelFrozen)
        let unpauseAgain = try freezectl("unpause", target)
        #expect(unpauseAgain.status == 0)
        #expect(unpauseAgain.stdout.contains("already"))

        let after = try freezectl("status", "--format", "json")
        #expect(!after.jsonLines.contains { $0["cgroup"] as? String == cgroup.path }, "a thawed cgroup is not listed")
    }

    @Test("every target is processed even if another fails, in input order")
    func severalTargetsInInputOrder() throws {
        let first = try TestCgroup(.v2)
        defer { first.destroy() }
        let second = try TestCgroup(.v1)
        defer { second.destroy() }
        try first.start("sleep 1000")
        try second.start("sleep 1000")
        let missing = "/sys/fs/cgroup/unified/freezectl-test-missing-\(getpid())"

        let result = try freezectl("pause", first.path, missing, second.path, "--format", "json")
        #expect(result.status == 2, "a bad target makes the exit code 2")
        let lines = result.jsonLines
        #expect(lines.map { $0["target"] as? String } == [first.path, missing, second.path])
        #expect(lines.map { $0["result"] as? String } == ["ok", "error", "ok"])
        #expect((lines[1]["error"] as? [String: Any])?["code"] as? String == "not-found")
        #expect(first.kernelFrozen && second.kernelFrozen)
        #expect(!FileManager.default.fileExists(atPath: missing))

        let table = try freezectl("unpause", first.path, second.path)
        #expect(table.status == 0)
        let rows = table.stdout.split(separator: "\n").dropFirst()
        #expect(rows.first?.hasPrefix(first.path) == true)
        #expect(rows.last?.hasPrefix(second.path) == true)
        #expect(!first.kernelFrozen && !second.kernelFrozen)
    }

    @Test("pid:N freezes the cgroup of the process; the v1 root falls back to v2")
    func pidTarget() throws {
        let cgroup = try TestCgroup(.v2)
        defer { cgroup.destroy() }
        let pid = try cgroup.start("sleep 1000")
        let pause = try freezectl("pause", "pid:\(pid)", "--format", "json")
        #expect(pause.status == 0)
        #expect(pause.jsonLines.first?["cgroup"] as? String == cgroup.path)
        #expect(pause.jsonLines.first?["backend"] as? String == "v2")
        #expect(cgroup.kernelFrozen)
        #expect(try freezectl("unpause", "pid:\(pid)").status == 0)
        #expect(!cgroup.kernelFrozen)
    }

    @Test("refuses to freeze its own cgroup or an ancestor of it", arguments: [Hierarchy.Version.v1, .v2])
    func selfFreezeIsRefused(_ version: Hierarchy.Version) throws {
        let cgroup = try TestCgroup(version)
        defer { cgroup.destroy() }
        let inner = try cgroup.child("inner")
        for target in [inner.path, cgroup.path] {
            let result = try run("/bin/sh", ["-c", "echo $$ > \(inner.file("cgroup.procs")) && exec \(freezectlBinary) pause \(target) --format json"])
            #expect(result.status == 1, "\(result.stderr)")
            #expect((result.jsonLines.first?["error"] as? [String: Any])?["code"] as? String == "self-freeze")
            #expect(result.stderr.contains("would freeze itself"))
            #expect(!cgroup.selfFrozen && !inner.selfFrozen && !inner.kernelFrozen)
        }
    }

    @Test("a freeze that misses its deadline is thawed again and reported as a timeout", arguments: [Hierarchy.Version.v1, .v2])
    func deadlineMissedEndsThawed(_ version: Hierarchy.Version) throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let cgroup = try TestCgroup(version)
        defer { cgroup.destroy() }
        try cgroup.startBusyTree(workers: 300, scratch: scratch)
        try #require(cgroup.pids.count >= 301)

        // 300 spinning processes cannot all pass the freezer within 1 µs. freezectl runs with a
        // real-time priority (chrt) so that it starts and checks at once instead of waiting its
        // turn behind the spinners; should the kernel ever be that fast, undo and try again.
        var timedOut = false
        for _ in 0..<5 where !timedOut {
            let result = try run("/usr/bin/chrt", ["-f", "50", freezectlBinary, "pause", cgroup.path, "--timeout", "1us", "--format", "json"])
            if result.status == 0 {
                _ = try run("/usr/bin/chrt", ["-f", "50", freezectlBinary, "unpause", cgroup.path])
                continue
            }
            timedOut = true
            #expect(result.status == 1, "\(result.stderr)")
            let error = try #require(result.jsonLines.first?["error"] as? [String: Any])
            #expect(error["code"] as? String == "timeout")
            #expect((error["message"] as? String)?.contains("processes were not frozen") == true)
            #expect(result.jsonLines.first?["state"] as? String == "thawed")
            #expect(!cgroup.selfFrozen, "the freeze request was withdrawn")
            #expect(!cgroup.kernelFrozen)
            if version == .v1 { #expect(cgroup.read("freezer.state") == "THAWED") }
        }
        #expect(timedOut, "the deadline was never missed")
    }

    @Test("status of an unpaused target and of the empty host")
    func statusTable() throws {
        let cgroup = try TestCgroup(.v2)
        defer { cgroup.destroy() }
        try cgroup.start("sleep 1000")
        let result = try freezectl("status", cgroup.path)
        #expect(result.status == 0)
        let header = try #require(result.stdout.split(separator: "\n").first)
        #expect(header.contains("STATE") && header.contains("SELF") && header.contains("PROCS"))
        #expect(result.stdout.contains("thawed"))
        let quiet = try freezectl("pause", cgroup.path, "-q")
        #expect(quiet.status == 0 && quiet.stdout.isEmpty)
        #expect(cgroup.kernelFrozen)
        #expect(try freezectl("unpause", cgroup.path, "--quiet").stdout.isEmpty)
    }

    @Test("every subcommand's help reads as prose: no literal line-continuation backslashes",
          arguments: ["pause", "unpause", "status", "checkpoint", "restore", "verify"])
    func helpText(subcommand: String) throws {
        let help = try freezectl(subcommand, "--help")
        #expect(help.status == 0)
        #expect(help.stdout.contains("USAGE: freezectl \(subcommand)"))
        #expect(!help.stdout.contains("\\"), "\(subcommand) --help shows a backslash:\n\(help.stdout)")
    }

    @Test("freezectl pauses a cgroup alone; what needs an engine goes to freezectl-engines, and its absence is said")
    func kernelSideAloneAndTheHandover() throws {
        // freezectl copied without freezectl-engines beside it: the kernel-side routes need nothing else.
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let alone = scratch.path + "/freezectl"
        try FileManager.default.copyItem(atPath: freezectlBinary, toPath: alone)
        let cgroup = try TestCgroup(.v2)
        defer { cgroup.destroy() }
        try cgroup.start("sleep 1000")
        #expect(try run(alone, ["pause", "-q", cgroup.path]).status == 0)
        #expect(cgroup.kernelFrozen)
        #expect(try run(alone, ["status", "-q", cgroup.path]).status == 0)
        #expect(try run(alone, ["unpause", "-q", cgroup.path]).status == 0)
        #expect(!cgroup.kernelFrozen)

        // A health check needs the probes: handed over, and without freezectl-engines a clear error
        // naming it, with nothing written (the cgroup stays as it was).
        try #require(try run(alone, ["pause", "-q", cgroup.path]).status == 0)
        let missing = try run(alone, ["unpause", cgroup.path, "--health-cmd", "true"])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("freezectl-engines") && missing.stderr.contains("next step"), "\(missing.stderr)")
        #expect(cgroup.kernelFrozen, "nothing is done before the handover")

        // With freezectl-engines beside it (the build tree), the same command runs there.
        let handed = try freezectl("unpause", cgroup.path, "--health-cmd", "true", "--format", "json")
        #expect(handed.status == 0, "\(handed.stderr)")
        #expect(handed.jsonLines.first?["health"] != nil, "\(handed.stdout)")
        #expect(!cgroup.kernelFrozen)
    }
}
