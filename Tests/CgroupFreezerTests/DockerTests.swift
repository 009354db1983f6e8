import CgroupFreezer
import Foundation
import Testing

@Suite("Docker containers through a real dockerd", .serialized, .hostUnchanged)
struct DockerTests {
    @Test("pause by label goes through the Engine API; unpause by label and memory; --direct shows drift")
    func dockerPauseUnpauseByLabelAndMemory() throws {
        let daemon = try DockerDaemon()
        defer { daemon.stop() }
        try daemon.importBusybox()
        try daemon.run("--name", "fz-low", "--label", "auto_resume=true", "-m", "512m", "local/busybox", "sleep", "1000")
        // About 10 MiB in /dev/shm (tmpfs pages count against the container) under a 12 MiB limit.
        try daemon.run("--name", "fz-high", "--label", "auto_resume=true", "-m", "12m", "--memory-swap", "12m", "local/busybox",
                       "sh", "-c", "dd if=/dev/zero of=/dev/shm/fill bs=1M count=10 && sleep 1000")
        try daemon.run("--name", "fz-other", "--label", "tier=db", "local/busybox", "sleep", "1000")
        let env = daemon.environment
        // Wait for fz-high's fill to be written.
        for _ in 0..<100 {
            let status = try freezectl("status", "docker:fz-high", "--format", "json", environment: env)
            if let percent = status.jsonLines.first?["memory_percent"] as? Double, percent > 80 { break }
            usleep(50_000)
        }

        let pause = try freezectl("pause", "--filter", "label=auto_resume=true", "--format", "json", environment: env)
        #expect(pause.status == 0, "\(pause.stderr)")
        #expect(pause.jsonLines.allSatisfy { $0["backend"] as? String == "docker" && $0["state"] as? String == "frozen" })
        #expect(try daemon.names(filter: "status=paused") == ["fz-low", "fz-high"])

        let unpause = try freezectl("unpause", "--all", "--filter", "label=auto_resume=true", "--filter", "memory-below=80%",
                                    "--format", "json", environment: env)
        #expect(unpause.status == 0, "\(unpause.stderr)")
        #expect(unpause.jsonLines.map { $0["name"] as? String } == ["fz-low"])
        #expect(try daemon.names(filter: "status=paused") == ["fz-high"])
        #expect(try daemon.names(filter: "status=running").isSuperset(of: ["fz-low", "fz-other"]))

        // Behind Docker's back: the cgroup is frozen, Docker still says running; status says so.
        let direct = try freezectl("pause", "--direct", "docker:fz-other", environment: env)
        #expect(direct.status == 0)
        #expect(direct.stderr.contains("stale"))
        let status = try freezectl("status", "fz-other", "--format", "json", environment: env)
        let line = try #require(status.jsonLines.first)
        #expect(line["state"] as? String == "frozen")
        #expect(line["engine_state"] as? String == "running")
        #expect(line["drift"] as? Bool == true)
        // Pausing it through the engine now would be refused by Docker; freezectl says why.
        let throughEngine = try freezectl("unpause", "fz-other", environment: env)
        #expect(throughEngine.status == 1)
        #expect(throughEngine.stderr.contains("behind Docker's back"))
        #expect(try freezectl("unpause", "--direct", "fz-other", environment: env).status == 0)
    }

    @Test("--atomic through the Engine API: a stopped container fails, the paused one is unpaused again")
    func dockerAtomicRollback() throws {
        let daemon = try DockerDaemon()
        defer { daemon.stop() }
        try daemon.importBusybox()
        try daemon.run("--name", "fz-run", "local/busybox", "sleep", "1000")
        try daemon.run("--name", "fz-exited", "local/busybox", "sh", "-c", "exit 0")
        let env = daemon.environment
        for _ in 0..<100 where try daemon.names(filter: "status=exited") != ["fz-exited"] { usleep(50_000) }

        let result = try freezectl("pause", "--atomic", "docker:fz-run", "docker:fz-exited", "--format", "json", environment: env)
        #expect(result.status == 1, "\(result.stderr)")
        #expect(result.jsonLines.map { $0["result"] as? String } == ["rolled-back", "error"])
        #expect((result.jsonLines.last?["error"] as? [String: Any])?["code"] as? String == "container-not-running")
        #expect(try daemon.names(filter: "status=paused").isEmpty)
        #expect(try daemon.names(filter: "status=running") == ["fz-run"])
    }
}

@Suite("Docker containers read without an inspect each", .serialized, .hostUnchanged)
struct DockerListingTests {
    @Test("the cgroup and PID come from runc's state under dockerd's exec root: the same as docker inspect says")
    func sameCgroupsAsInspect() throws {
        let daemon = try DockerDaemon()
        defer { daemon.stop() }
        try daemon.importBusybox()
        let ids = try (0..<3).map { try daemon.run("--name", "fz-list-\($0)", "local/busybox", "sleep", "1000") }
        let env = daemon.environment
        let direct = try freezectl("pause", "--direct", "--all", "--format", "json", environment: env)
        #expect(direct.status == 0, "\(direct.stderr)")
        for id in ids {
            let line = try #require(direct.jsonLines.first { ($0["id"] as? String) == id })
            #expect(line["cgroup"] as? String == "/sys/fs/cgroup/freezer/docker/\(id)")
            let pid = try daemon.docker("inspect", "-f", "{{.State.Pid}}", id).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            let procs = try String(contentsOfFile: "/sys/fs/cgroup/freezer/docker/\(id)/cgroup.procs", encoding: .utf8)
            #expect(procs.split(separator: "\n").contains(Substring(pid)), "\(pid) not in \(procs)")
            #expect(procShowsFrozen(Int32(pid) ?? 0, .v1) == true)
        }
        #expect(try freezectl("unpause", "--direct", "--all", environment: env).status == 0)
    }

    @Test("a container with its own --cgroup-parent is found from its state, the others by dockerd's naming; memory filters read them all")
    func ownCgroupParent() throws {
        let daemon = try DockerDaemon()
        let parent = "fzt-parent-\(getpid())"
        defer {
            daemon.stop()
            for hierarchy in TestCgroup.layout.hierarchies { removeCgroupTree(hierarchy.mountPoint.appending(parent).string) }
        }
        try daemon.importBusybox()
        let plain = try (0..<2).map { try daemon.run("--name", "fz-plain-\($0)", "--label", "set=naming", "local/busybox", "sleep", "1000") }
        let own = try daemon.run("--name", "fz-own", "--cgroup-parent", "/" + parent, "--label", "set=naming", "local/busybox", "sleep", "1000")
        let env = daemon.environment
        let direct = try freezectl("pause", "--direct", "--filter", "label=set=naming", "--format", "json", environment: env)
        #expect(direct.status == 0, "\(direct.stderr)")
        defer { _ = try? freezectl("unpause", "--direct", "--filter", "label=set=naming", environment: env) }
        let expected = Dictionary(uniqueKeysWithValues: plain.map { ($0, "/sys/fs/cgroup/freezer/docker/\($0)") }
            + [(own, "/sys/fs/cgroup/freezer/\(parent)/\(own)")])
        for (id, cgroup) in expected {
            let line = try #require(direct.jsonLines.first { ($0["id"] as? String) == id })
            #expect(line["cgroup"] as? String == cgroup)
            let pid = try daemon.docker("inspect", "-f", "{{.State.Pid}}", id).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(procShowsFrozen(Int32(pid) ?? 0, .v1) == true, "\(id) in \(cgroup)")
        }
        // Memory is read from each container's cgroup, whichever way it was found.
        let below = try freezectl("status", "--filter", "label=set=naming", "--filter", "memory-below=100", "--format", "json", environment: env)
        #expect(Set(below.jsonLines.compactMap { $0["id"] as? String }) == Set(expected.keys), "\(below.stdout) \(below.stderr)")
        let above = try freezectl("status", "--filter", "label=set=naming", "--filter", "memory-above=100", "--format", "json", environment: env)
        #expect(above.jsonLines.isEmpty, "\(above.stdout)")
        #expect(try freezectl("unpause", "--direct", "--filter", "label=set=naming", environment: env).status == 0)
        for id in expected.keys {
            let pid = try daemon.docker("inspect", "-f", "{{.State.Pid}}", id).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(procShowsFrozen(Int32(pid) ?? 0, .v1) == false)
        }
    }

    @Test("containers removed while freezectl lists them: every run answers truthfully and nothing stays frozen")
    func containersRemovedMidCall() async throws {
        let daemon = try DockerDaemon()
        defer { daemon.stop() }
        try daemon.importBusybox()
        let ids = try (0..<8).map { try daemon.run("--name", "fz-gone-\($0)", "local/busybox", "sleep", "1000") }
        let env = daemon.environment
        let remover = Task.detached {
            for id in ids { _ = try? daemon.docker("rm", "-f", id) }
        }
        var runs = 0
        repeat {
            let status = try freezectl("status", "--all", "--format", "json", environment: env)
            #expect(status.status == 0, "\(status.stdout) \(status.stderr)")
            let direct = try freezectl("pause", "--direct", "--all", "--format", "json", environment: env)
            // A container removed between the list and the write fails alone, saying it is gone.
            for line in direct.jsonLines where line["result"] as? String == "error" {
                let code = (line["error"] as? [String: Any])?["code"] as? String
                #expect(["container-not-running", "not-found", "no-such-process", "cgroup-removed"].contains(code ?? ""), "\(line)")
            }
            _ = try freezectl("unpause", "--direct", "--all", environment: env)
            runs += 1
        } while try daemon.docker("ps", "-q").stdout.contains(where: \.isHexDigit) && runs < 40
        await remover.value
        #expect(runs >= 1)
    }
}
