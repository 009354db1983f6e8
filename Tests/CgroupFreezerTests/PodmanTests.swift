import CgroupFreezer
import Foundation
import Testing

@Suite("podman containers through its API service", .serialized, .hostUnchanged)
struct PodmanTests {
    @Test("pause and unpause by label through podman's service: podman ps agrees; its runc containers resolve to podman")
    func pauseAndUnpauseByLabel() throws {
        let podman = try PodmanService()
        defer { podman.stop() }
        let web = try podman.run("--name", "fz-web", "--label", "auto_resume=true", "local/busybox", "sleep", "1000")
        try podman.run("--name", "fz-db", "--label", "tier=db", "local/busybox", "sleep", "1000")
        let env = podman.environment

        let pause = try freezectl("pause", "--filter", "label=auto_resume=true", "--format", "json", environment: env)
        #expect(pause.status == 0, "\(pause.stderr)")
        #expect(pause.jsonLines.map { $0["target"] as? String } == ["podman:\(web.prefix(12))"])
        #expect(pause.jsonLines.allSatisfy { $0["backend"] as? String == "podman" && $0["state"] as? String == "frozen" })
        #expect(try podman.names(filter: "status=paused") == ["fz-web"])
        #expect(try podman.names(filter: "status=running") == ["fz-db"])

        // podman runs its containers with runc's default root: named as runc, it is podman's.
        let asRunc = try #require(try freezectl("status", "runc:\(web)", "--format", "json", environment: env).jsonLines.first)
        #expect(asRunc["source"] as? String == "podman")
        #expect(asRunc["engine_state"] as? String == "paused")
        #expect(asRunc["drift"] as? Bool == false)

        let unpause = try freezectl("unpause", "--all", "--format", "json", environment: env)
        #expect(unpause.status == 0, "\(unpause.stderr)")
        #expect(Set(unpause.jsonLines.compactMap { $0["result"] as? String }) == ["ok", "already"])
        #expect(try podman.names(filter: "status=running") == ["fz-web", "fz-db"])
        #expect(try podman.names(filter: "status=paused").isEmpty)

        // Without the service, the runc container is refused as podman's, saying how to start it.
        let withoutService = try freezectl("pause", "runc:\(web)", environment: ["CONTAINER_HOST": "unix:///nonexistent/podman.sock"])
        #expect(withoutService.status == 2)
        #expect(withoutService.stderr.contains("belongs to podman"))
        #expect(withoutService.stderr.contains("podman.socket"))
        #expect(try podman.names(filter: "status=running") == ["fz-web", "fz-db"])
    }

    @Test("an unreachable podman socket is a clear error naming it and how to start the service")
    func unreachableSocket() throws {
        let result = try freezectl("pause", "podman:web", environment: ["CONTAINER_HOST": "unix:///nonexistent/podman.sock"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("podman is not available at /nonexistent/podman.sock"))
        #expect(result.stderr.contains("podman system service"))
        let tcp = try freezectl("pause", "podman:web", environment: ["CONTAINER_HOST": "tcp://127.0.0.1:8080"])
        #expect(tcp.status == 2)
        #expect(tcp.stderr.contains("only unix:// sockets are supported in CONTAINER_HOST"))
    }
}
