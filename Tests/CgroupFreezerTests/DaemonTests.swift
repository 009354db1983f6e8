import Foundation
import Testing

/// freezectld on a private socket, asked with curl as an orchestrator in any language would.
@Suite("freezectld: the API over a unix socket", .serialized, .hostUnchanged)
struct DaemonTests {
    static var binary: String {
        URL(fileURLWithPath: freezectlBinary).deletingLastPathComponent().appendingPathComponent("freezectld").path
    }

    /// `curl` against the daemon's socket: the body and the HTTP status.
    func request(_ socket: String, _ method: String, _ path: String, body: String? = nil,
                 user: (uid: Int, gid: Int)? = nil) throws -> (status: Int, body: String) {
        var arguments = ["-s", "--unix-socket", socket, "-X", method, "-w", "\n%{http_code}", "http://localhost" + path]
        if let body { arguments += ["-H", "Content-Type: application/json", "-d", body] }
        let result = try run("/usr/bin/curl", arguments, user: user)
        var lines = result.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let status = Int(lines.popLast() ?? "") ?? 0
        return (status, lines.joined(separator: "\n"))
    }

    func object(_ text: String) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:]
    }

    @Test("pause, status and unpause a real cgroup through the API; 207 for a partial failure, 400 for bad input, 403 for a caller no policy allows; the socket is 0660 and gone after SIGTERM")
    func pauseStatusUnpause() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let cgroup = try TestCgroup(.v2)
        defer { cgroup.destroy() }
        try cgroup.start("sleep 1000")
        let socket = scratch.path + "/run/freezectl.sock"
        let daemon = try BackgroundProcess(Self.binary, ["--socket", socket])
        defer { if daemon.process.isRunning { daemon.signal(SIGKILL); _ = daemon.wait(seconds: 5) } }
        #expect(eventually(seconds: 20) { FileManager.default.fileExists(atPath: socket) })
        // Bound with the umask's mode (no one else may connect), then 0660 once the server runs.
        #expect(eventually(seconds: 5) { ((try? FileManager.default.attributesOfItem(atPath: socket)[.posixPermissions]) as? Int) == 0o660 })

        let paused = try request(socket, "POST", "/v1/pause", body: #"{"targets": ["cgroup:\#(cgroup.relativePath)"], "timeout": "5s"}"#)
        #expect(paused.status == 200, "\(paused.body)")
        let pausedResult = (object(paused.body)["results"] as? [[String: Any]])?.first
        #expect(pausedResult?["result"] as? String == "ok" && pausedResult?["state"] as? String == "frozen")
        #expect(cgroup.kernelFrozen, "the kernel says frozen")

        let status = try request(socket, "GET", "/v1/status?target=cgroup:\(cgroup.relativePath)")
        #expect(status.status == 200 && object(status.body)["state"] as? String == "frozen", "\(status.body)")

        let unpaused = try request(socket, "POST", "/v1/unpause", body: #"{"targets": ["cgroup:\#(cgroup.relativePath)", "/nonexistent"]}"#)
        #expect(unpaused.status == 207, "\(unpaused.body)")
        let results = object(unpaused.body)["results"] as? [[String: Any]] ?? []
        #expect(results.count == 2 && results[0]["state"] as? String == "thawed")
        #expect((results.last?["error"] as? [String: Any])?["code"] as? String == "not-found")
        #expect(!cgroup.kernelFrozen)

        let bad = try request(socket, "POST", "/v1/pause", body: #"{"targets": ["bad!"]}"#)
        #expect(bad.status == 400 && bad.body.contains("bad!"), "\(bad.body)")
        #expect(!cgroup.selfFrozen, "nothing was done for a bad request")

        // A caller the policy does not name: let nobody's group connect, then expect a refusal.
        #expect(chown(socket, 0, 65534) == 0)
        let refused = try request(socket, "POST", "/v1/pause", body: #"{"targets": ["cgroup:\#(cgroup.relativePath)"]}"#, user: (65534, 65534))
        #expect(refused.status == 403 && refused.body.contains("uid 65534"), "\(refused.body)")
        #expect(!cgroup.selfFrozen, "nothing was done for a refused request")

        daemon.signal(SIGTERM)
        let ended = daemon.wait(seconds: 10)
        #expect(ended.exited && ended.status == 0, "\(ended.stderr)")
        #expect(!FileManager.default.fileExists(atPath: socket))
    }
}
