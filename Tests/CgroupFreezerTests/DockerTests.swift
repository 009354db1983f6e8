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
