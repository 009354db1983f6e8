import CgroupFreezer
import Foundation
import Testing

/// One line of /proc/PID/status, its value with the whitespace collapsed.
private func statusField(_ pid: Int32, _ key: String) -> String? {
    let text = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
    return text.split(separator: "\n").first { $0.hasPrefix(key + ":") }
        .map { $0.dropFirst(key.count + 1).trimmingCharacters(in: .whitespaces) }
}

/// The probe's report of itself: uid, capability sets, no_new_privs, freezer cgroup, and
/// whether freezectl's environment leaked in.
private let selfReport = #"echo "uid=$(id -u) eff=$(grep CapEff /proc/self/status | cut -f2) bnd=$(grep CapBnd /proc/self/status | cut -f2) nnp=$(grep NoNewPrivs /proc/self/status | cut -f2) secret=$(env | grep -c FREEZECTL_TEST_SECRET) cg=$(grep freezer /proc/self/cgroup | cut -d: -f3)""#

/// Issue 11: a probe "in the target" has the target's powers and no more; a container's cgroup is
/// the container's; the self-freeze guard holds through every backend.
@Suite("Targets' own powers: probes, container cgroups, self-freeze", .serialized, .hostUnchanged)
struct TargetPowerTests {
    @Test("a probe in a plain cgroup target runs with the target's uid, capabilities, no_new_privs, cgroup and a clean environment")
    func probeInCgroupTarget() throws {
        let cgroup = try TestCgroup(.v1)
        defer { cgroup.destroy() }
        let target = try cgroup.start("exec setpriv --reuid 65534 --regid 65534 --clear-groups --inh-caps=-all --bounding-set=-all,+kill --no-new-privs sleep 1000")
        try #require(eventually { statusField(target, "Uid")?.hasPrefix("65534") == true })
        #expect(try freezectl("pause", cgroup.path).status == 0)
        let result = try freezectl("unpause", cgroup.path, "--health-exec-in-target", "--health-cmd", selfReport, "--health-retries", "1",
                                   "--format", "json", environment: ["FREEZECTL_TEST_SECRET": "leaked"])
        #expect(result.status == 0, "\(result.stdout) \(result.stderr)")
        let output = ((result.jsonLines.first?["health"] as? [String: Any])?["last_output"] as? String) ?? ""
        #expect(output.contains("uid=65534"), "\(output)")
        #expect(output.contains("eff=0000000000000000") && output.contains("bnd=0000000000000020"), "\(output)")
        #expect(output.contains("nnp=1") && output.contains("secret=0"), "\(output)")
        #expect(output.contains("cg=\(cgroup.relativePath)"), "\(output)")
    }

    @Test("a probe in a runc container has the container's capabilities, no_new_privs and cgroup (runc exec)")
    func probeInRuncContainer() throws {
        let runc = try RuncContainers()
        defer { runc.destroy() }
        try runc.run("powers")
        let state = try runc.runc("state", "powers")
        let initPID = try #require((try JSONSerialization.jsonObject(with: Data(state.stdout.utf8)) as? [String: Any])?["pid"] as? Int32)
        #expect(try runc.runc("pause", "powers").status == 0)
        let result = try freezectl("unpause", "--runtime-root", runc.root, "runc:powers", "--health-exec-in-target",
                                   "--health-cmd", selfReport.replacingOccurrences(of: " | cut -f2", with: "").replacingOccurrences(of: " | cut -d: -f3", with: ""),
                                   "--health-retries", "1", "--format", "json", environment: ["FREEZECTL_TEST_SECRET": "leaked"])
        #expect(result.status == 0, "\(result.stdout) \(result.stderr)")
        let output = ((result.jsonLines.first?["health"] as? [String: Any])?["last_output"] as? String) ?? ""
        let initEff = try #require(statusField(initPID, "CapEff"))
        #expect(output.contains(initEff), "the container's CapEff \(initEff): \(output)")
        #expect(!output.contains("000001ffffffffff") && !output.contains("000001fffeffffff"), "not freezectl's full set: \(output)")
        #expect(output.contains("NoNewPrivs:\t\(try #require(statusField(initPID, "NoNewPrivs")))") || output.contains("NoNewPrivs: 1"), "\(output)")
        let initFreezer = try String(contentsOfFile: "/proc/\(initPID)/cgroup", encoding: .utf8).split(separator: "\n")
            .first { $0.contains(":freezer:") }.map { String($0.split(separator: ":")[2]) }
        #expect(output.contains(try #require(initFreezer)), "in the container's cgroup: \(output)")
        #expect(output.contains("secret=0"))
    }

    @Test("a runc exec probe that overruns its timeout leaves no process in the container")
    func runcProbeTimeout() throws {
        let runc = try RuncContainers()
        defer { runc.destroy() }
        try runc.run("slow-probe")
        #expect(try runc.runc("pause", "slow-probe").status == 0)
        let result = try freezectl("unpause", "--runtime-root", runc.root, "runc:slow-probe", "--health-exec-in-target",
                                   "--health-cmd", "exec sleep 4243", "--health-timeout", "300ms", "--health-retries", "1",
                                   "--format", "json")
        #expect(result.status == 3, "\(result.stdout) \(result.stderr)")
        #expect(((result.jsonLines.first?["health"] as? [String: Any])?["last_output"] as? String)?.contains("timed out") == true)
        #expect(eventually(seconds: 2) { processes(withCommandLine: ["sleep", "4243"]).isEmpty }, "the probe inside the container was killed")
    }

    @Test("a probe in a Docker container runs as docker exec: the container's CapEff, NoNewPrivs and cgroup")
    func probeInDockerContainer() throws {
        let daemon = try DockerDaemon()
        defer { daemon.stop() }
        try daemon.importBusybox()
        let id = try daemon.run("--name", "fz-probe", "--security-opt", "no-new-privileges", "local/busybox", "sleep", "1000")
        let inspect = try daemon.docker("inspect", "-f", "{{.State.Pid}}", id)
        let initPID = try #require(Int32(inspect.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(try daemon.docker("pause", "fz-probe").status == 0)
        let command = "grep -E 'CapEff|NoNewPrivs' /proc/self/status > /probe.out; grep freezer /proc/self/cgroup >> /probe.out; env >> /probe.out"
        let result = try freezectl("unpause", "docker:fz-probe", "--health-exec-in-target", "--health-cmd", command,
                                   "--health-retries", "1", "--format", "json",
                                   environment: daemon.environment.merging(["FREEZECTL_TEST_SECRET": "leaked"]) { $1 })
        #expect(result.status == 0, "\(result.stdout) \(result.stderr)")
        let report = try String(contentsOfFile: "/proc/\(initPID)/root/probe.out", encoding: .utf8)
        #expect(report.contains("CapEff:\t\(try #require(statusField(initPID, "CapEff")))"), "\(report)")
        #expect(report.contains("NoNewPrivs:\t1"), "\(report)")
        #expect(report.contains(id), "in the container's cgroup: \(report)")
        #expect(report.contains("FREEZECTL_TARGET=docker:fz-probe") && !report.contains("FREEZECTL_TEST_SECRET"), "\(report)")
    }

    @Test("a container whose init moved into a child cgroup is frozen whole, and its memory is the container's (runc and Docker --direct)")
    func initInChildCgroup() throws {
        let runc = try RuncContainers()
        defer { runc.destroy() }
        // 16 MiB in /dev/shm (charged to the container) under a 32 MiB limit, before the init moves.
        try runc.run("nested", script: "dd if=/dev/zero of=/dev/shm/fill bs=1M count=16 2>/dev/null; sleep 1000 & sleep 1000 & wait",
                     memoryLimit: 32 << 20)
        func memoryPercent() -> Double {
            ((try? freezectl("status", "--runtime-root", runc.root, "runc:nested", "--format", "json"))?.jsonLines.first?["memory_percent"] as? Double) ?? 0
        }
        try #require(eventually { memoryPercent() > 40 }, "the fill is charged to the container")
        let state = try runc.runc("state", "nested")
        let initPID = try #require((try JSONSerialization.jsonObject(with: Data(state.stdout.utf8)) as? [String: Any])?["pid"] as? Int32)
        let freezer = try #require(TestCgroup.layout.freezer)
        let cgroupPath = try String(contentsOfFile: "/proc/\(initPID)/cgroup", encoding: .utf8).split(separator: "\n")
            .first { $0.contains(":freezer:") }.map { freezer.mountPoint.string + String($0.split(separator: ":")[2]) }
        let container = try #require(cgroupPath)
        // The init moves itself into a child cgroup, as systemd in a container does; its children stay.
        try FileManager.default.createDirectory(atPath: container + "/init.scope", withIntermediateDirectories: false)
        defer { rmdir(container + "/init.scope") }
        try String(initPID).write(toFile: container + "/init.scope/cgroup.procs", atomically: false, encoding: .utf8)
        // And in the memory hierarchy: its own part there holds almost nothing.
        let memory = try #require(TestCgroup.layout.hierarchies.first { $0.controllers.contains("memory") })
        let memoryCgroup = try #require(try String(contentsOfFile: "/proc/\(initPID)/cgroup", encoding: .utf8).split(separator: "\n")
            .first { $0.contains(":memory:") }.map { memory.mountPoint.string + String($0.split(separator: ":")[2]) })
        try FileManager.default.createDirectory(atPath: memoryCgroup + "/init.scope", withIntermediateDirectories: false)
        defer { rmdir(memoryCgroup + "/init.scope") }
        try String(initPID).write(toFile: memoryCgroup + "/init.scope/cgroup.procs", atomically: false, encoding: .utf8)
        defer { try? String(initPID).write(toFile: memoryCgroup + "/cgroup.procs", atomically: false, encoding: .utf8) }
        #expect(memoryPercent() > 40, "the container's memory, not its init's child cgroup's")
        let pause = try freezectl("pause", "--runtime-root", runc.root, "runc:nested", "--format", "json")
        #expect(pause.status == 0, "\(pause.stderr)")
        #expect(pause.jsonLines.first?["cgroup"] as? String == container)
        let all = String(decoding: FileHandle(forReadingAtPath: container + "/cgroup.procs")?.readDataToEndOfFile() ?? Data(), as: UTF8.self)
            .split(separator: "\n").compactMap { Int32($0) } + [initPID]
        #expect(all.count >= 3 && all.allSatisfy { procShowsFrozen($0, .v1) != false }, "\(all.map(procDescription))")
        #expect(try runc.list()["nested"] == "paused")
        #expect(try freezectl("unpause", "--runtime-root", runc.root, "runc:nested").status == 0)
        // Move it back so that runc can delete the container.
        try String(initPID).write(toFile: container + "/cgroup.procs", atomically: false, encoding: .utf8)

        let daemon = try DockerDaemon()
        defer { daemon.stop() }
        try daemon.importBusybox()
        let id = try daemon.run("--name", "fz-nested", "local/busybox", "sh", "-c", "sleep 1000 & sleep 1000 & wait")
        let dockerInit = try #require(Int32(try daemon.docker("inspect", "-f", "{{.State.Pid}}", id).stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
        let dockerCgroup = freezer.mountPoint.string + "/docker/" + id
        try FileManager.default.createDirectory(atPath: dockerCgroup + "/init.scope", withIntermediateDirectories: false)
        defer { rmdir(dockerCgroup + "/init.scope") }
        try String(dockerInit).write(toFile: dockerCgroup + "/init.scope/cgroup.procs", atomically: false, encoding: .utf8)
        let direct = try freezectl("pause", "--direct", "docker:fz-nested", "--format", "json", environment: daemon.environment)
        #expect(direct.status == 0, "\(direct.stderr)")
        #expect(direct.jsonLines.first?["cgroup"] as? String == dockerCgroup)
        let others = String(decoding: FileHandle(forReadingAtPath: dockerCgroup + "/cgroup.procs")?.readDataToEndOfFile() ?? Data(), as: UTF8.self)
            .split(separator: "\n").compactMap { Int32($0) }
        #expect(others.count == 2 && others.allSatisfy { procShowsFrozen($0, .v1) == true }, "\(others.map(procDescription))")
        #expect(try freezectl("unpause", "--direct", "docker:fz-nested", environment: daemon.environment).status == 0)
        try String(dockerInit).write(toFile: dockerCgroup + "/cgroup.procs", atomically: false, encoding: .utf8)
    }

    @Test("freezectl inside a Docker container's cgroup refuses to pause it through the Engine API (exit 1)")
    func dockerSelfFreeze() throws {
        let daemon = try DockerDaemon()
        defer { daemon.stop() }
        try daemon.importBusybox()
        let id = try daemon.run("--name", "fz-self", "local/busybox", "sleep", "1000")
        let freezer = try #require(TestCgroup.layout.freezer)
        let procs = freezer.mountPoint.string + "/docker/" + id + "/cgroup.procs"
        let result = try run("/bin/sh", ["-c", "echo $$ > \(procs) && exec \(freezectlBinary) pause docker:fz-self"], environment: daemon.environment)
        #expect(result.status == 1, "\(result.stderr)")
        #expect(result.stderr.contains("contains this process"), "\(result.stderr)")
        #expect(try daemon.names(filter: "status=paused").isEmpty)
    }

    @Test("a Docker container removed while --all is being read is skipped; the others are paused")
    func dockerContainerRemovedDuringAll() throws {
        let daemon = try DockerDaemon()
        defer { daemon.stop() }
        try daemon.importBusybox()
        try daemon.run("--name", "fz-stays", "--label", "race=1", "local/busybox", "sleep", "1000")
        // Containers that come and go while freezectl lists and inspects them.
        let churn = try BackgroundProcess("/bin/sh", ["-c", "i=0; while [ $i -lt 40 ]; do \(daemon.docker) run -d --rm --label race=1 local/busybox sleep 0.2 >/dev/null 2>&1; i=$((i+1)); done"],
                                          environment: daemon.environment)
        var failures: [String] = []
        for _ in 0..<8 {
            let pause = try freezectl("pause", "--filter", "label=race=1", "--format", "json", environment: daemon.environment)
            let stays = pause.jsonLines.first { $0["name"] as? String == "fz-stays" }
            // A container gone before its inspect is not selected; the selection itself never fails.
            if stays?["state"] as? String != "frozen" || pause.jsonLines.contains(where: { $0["target"] as? String == "--filter" }) {
                failures.append("\(pause.status): \(pause.stderr)")
            }
            _ = try freezectl("unpause", "docker:fz-stays", environment: daemon.environment)
        }
        _ = churn.wait(seconds: 120)
        #expect(failures.isEmpty, "\(failures)")
    }
}
