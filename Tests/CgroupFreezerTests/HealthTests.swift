import CgroupFreezer
import HealthProbes
import Foundation
import Testing

/// A TCP port on 127.0.0.1 that nothing listens on right now.
private func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
    try #require(bound == 0)
    _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// Whether something accepts connections on 127.0.0.1:port. A SYN to a port that is bound but
/// not yet listening can go unanswered here (then connect retries for tens of seconds), so the
/// attempt is bounded.
private func isListening(_ port: Int) -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var bound = timeval(tv_sec: 0, tv_usec: 200_000)
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &bound, socklen_t(MemoryLayout<timeval>.size))
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = UInt16(port).bigEndian
    return withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    } == 0
}

/// An HTTP server on 127.0.0.1:port in `cgroup`, answering every GET with `status`. Debian's
/// python3, not a pyenv shim (a shim can stall for seconds on its rehash lock).
private func startServer(in cgroup: TestCgroup, port: Int, status: Int = 200, delay: Double = 0, wait: Bool = true) throws {
    let python = """
    import http.server, sys
    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(\(status)); self.end_headers(); self.wfile.write(b"status \(status)")
        def log_message(self, *a): pass
    http.server.HTTPServer(("127.0.0.1", \(port)), H).serve_forever()
    """
    try cgroup.start("sleep \(delay); exec /usr/bin/python3 -c '\(python.replacingOccurrences(of: "'", with: "'\\''"))'")
    if wait {
        // A deadline, not a count of tries: a refused connect returns at once, and python can
        // take seconds to start on a loaded machine.
        let deadline = ContinuousClock.now + .seconds(30)
        while !isListening(port) && ContinuousClock.now < deadline { usleep(25_000) }
        try #require(isListening(port), "the test server did not start on port \(port)")
    }
}

private func health(_ line: [String: Any]?) -> [String: Any] {
    line?["health"] as? [String: Any] ?? [:]
}

@Suite("Health checks after thaw", .serialized, .hostUnchanged)
struct HealthTests {
    @Test("while frozen a direct probe times out; unpause --health-http is healthy within 2 s of the thaw")
    func httpHealthyAfterThaw() async throws {
        let cgroup = try TestCgroup(.v2)
        defer { cgroup.destroy() }
        let port = try freePort()
        try startServer(in: cgroup, port: port)
        let url = "http://127.0.0.1:\(port)/"
        #expect(try freezectl("pause", cgroup.path).status == 0)

        let frozenProbe = await HealthProbe.http(url: url).run(context: ProbeContext(target: "t", cgroup: nil, pid: nil), timeout: .milliseconds(500))
        #expect(!frozenProbe.healthy)
        #expect(frozenProbe.output.contains("timed out"), "\(frozenProbe.output)")

        let result = try freezectl("unpause", cgroup.path, "--health-http", url, "--format", "json")
        #expect(result.status == 0, "\(result.stderr)")
        let report = health(result.jsonLines.first)
        #expect(report["status"] as? String == "healthy")
        #expect((report["time_to_healthy_ms"] as? Double ?? 9999) < 2000)
        #expect(report["last_output"] as? String == "HTTP 200")
        #expect(!cgroup.kernelFrozen)
    }

    @Test("a server answering 500 is unhealthy after the retries (exit 3); refreeze freezes it again")
    func unhealthyAndRefreeze() throws {
        let cgroup = try TestCgroup(.v2)
        defer { cgroup.destroy() }
        let port = try freePort()
        try startServer(in: cgroup, port: port, status: 500)
        let url = "http://127.0.0.1:\(port)/"
        #expect(try freezectl("pause", cgroup.path).status == 0)

        let failed = try freezectl("unpause", cgroup.path, "--health-http", url, "--health-interval", "100ms", "--format", "json")
        #expect(failed.status == 3, "\(failed.stderr)")
        let report = health(failed.jsonLines.first)
        #expect(report["status"] as? String == "unhealthy")
        #expect(report["attempts"] as? Int == 3)
        #expect((report["last_output"] as? String)?.hasPrefix("HTTP 500") == true)
        #expect(!cgroup.kernelFrozen, "fail leaves it thawed")

        #expect(try freezectl("pause", cgroup.path).status == 0)
        let refrozen = try freezectl("unpause", cgroup.path, "--health-http", url, "--health-interval", "100ms",
                                     "--health-retries", "2", "--on-unhealthy", "refreeze", "--format", "json")
        #expect(refrozen.status == 3)
        #expect(health(refrozen.jsonLines.first)["refrozen"] as? Bool == true)
        #expect(refrozen.jsonLines.first?["state"] as? String == "frozen")
        #expect(cgroup.kernelFrozen && cgroup.selfFrozen, "back to the frozen state it was in before")

        let ignored = try freezectl("unpause", cgroup.path, "--health-http", url, "--health-interval", "100ms",
                                    "--health-retries", "1", "--on-unhealthy", "ignore")
        #expect(ignored.status == 0)
        #expect(ignored.stdout.contains("unhealthy"))
        #expect(!cgroup.kernelFrozen)
    }

    @Test("an exec probe that overruns its timeout is killed with its children")
    func execProbeTimeoutKillsTheGroup() throws {
        let cgroup = try TestCgroup(.v2)
        defer { cgroup.destroy() }
        try cgroup.start("sleep 1000")
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let pids = scratch.path + "/pids"
        let command = "echo $$ >> \(pids); sleep 300 & echo $! >> \(pids); (sleep 300; :) & echo $! >> \(pids); wait"
        let result = try freezectl("unpause", cgroup.path, "--health-cmd", command, "--health-timeout", "300ms",
                                   "--health-retries", "1", "--format", "json")
        #expect(result.status == 3)
        #expect((health(result.jsonLines.first)["last_output"] as? String)?.contains("timed out after 300ms") == true)
        let started = try String(contentsOfFile: pids, encoding: .utf8).split(separator: "\n").compactMap { Int32($0) }
        #expect(started.count == 3)
        for pid in started {
            #expect(procState(pid) == nil || procState(pid) == "Z", "probe process \(pid) outlived the command: \(procDescription(pid))")
        }
    }

    @Test("exec probes get FREEZECTL_TARGET, FREEZECTL_CGROUP and FREEZECTL_PID")
    func execProbeEnvironment() throws {
        let cgroup = try TestCgroup(.v2)
        defer { cgroup.destroy() }
        let pid = try cgroup.start("sleep 1000")
        let result = try freezectl("unpause", cgroup.path, "--health-cmd", "echo $FREEZECTL_TARGET $FREEZECTL_CGROUP $FREEZECTL_PID", "--format", "json")
        #expect(result.status == 0)
        #expect(health(result.jsonLines.first)["last_output"] as? String == "\(cgroup.path) \(cgroup.path) \(pid)")
    }

    @Test("a TCP probe to a closed port fails fast")
    func tcpClosedPortFailsFast() throws {
        let cgroup = try TestCgroup(.v2)
        defer { cgroup.destroy() }
        let port = try freePort()
        let clock = ContinuousClock()
        let start = clock.now
        let result = try freezectl("unpause", cgroup.path, "--health-tcp", "127.0.0.1:\(port)", "--health-retries", "2",
                                   "--health-interval", "100ms", "--health-timeout", "5s", "--format", "json")
        let elapsed = start.duration(to: clock.now)
        #expect(result.status == 3)
        let report = health(result.jsonLines.first)
        #expect(report["attempts"] as? Int == 2)
        #expect((report["last_output"] as? String)?.contains("refused") == true, "\(report)")
        #expect(elapsed < .seconds(3), "refused at once, not after the 5 s timeout: \(elapsed)")
    }

    @Test("failures during the start period do not count")
    func startPeriod() throws {
        let cgroup = try TestCgroup(.v2)
        defer { cgroup.destroy() }
        let port = try freePort()
        try startServer(in: cgroup, port: port, delay: 3, wait: false)
        let url = "http://127.0.0.1:\(port)/"
        let without = try freezectl("unpause", cgroup.path, "--health-http", url, "--health-retries", "1",
                                    "--health-timeout", "300ms", "--format", "json")
        #expect(without.status == 3, "no start period: the first failure counts")
        let with = try freezectl("unpause", cgroup.path, "--health-http", url, "--health-retries", "1",
                                 "--health-interval", "200ms", "--health-timeout", "300ms", "--health-start-period", "20s",
                                 "--format", "json")
        #expect(with.status == 0, "\(with.stderr)")
        let report = health(with.jsonLines.first)
        #expect(report["status"] as? String == "healthy")
        #expect((report["attempts"] as? Int ?? 0) > 1, "it failed during the start period first")
    }

    @Test("three targets, one unhealthy: the others are reported healthy, exit 3")
    func batchOneUnhealthy() throws {
        let good1 = try TestCgroup(.v2, name: "freezectl-test-\(getpid())-good1")
        defer { good1.destroy() }
        let bad = try TestCgroup(.v1, name: "freezectl-test-\(getpid())-bad")
        defer { bad.destroy() }
        let good2 = try TestCgroup(.v2, name: "freezectl-test-\(getpid())-good2")
        defer { good2.destroy() }
        for cgroup in [good1, bad, good2] {
            try cgroup.start("sleep 1000")
            try cgroup.write(cgroup.hierarchy.version == .v1 ? "FROZEN" : "1", cgroup.hierarchy.version == .v1 ? "freezer.state" : "cgroup.freeze")
        }
        let result = try freezectl("unpause", good1.path, bad.path, good2.path, "--health-retries", "1",
                                   "--health-cmd", "case \"$FREEZECTL_TARGET\" in *-bad) sleep 0.5; exit 1;; esac", "--format", "json")
        #expect(result.status == 3)
        #expect(result.jsonLines.map { health($0)["status"] as? String } == ["healthy", "unhealthy", "healthy"])
        #expect(!good1.kernelFrozen && !bad.kernelFrozen && !good2.kernelFrozen)
    }

    @Test("--health-exec-in-target runs the command in the container's namespaces")
    func execInTarget() throws {
        let runc = try RuncContainers()
        defer { runc.destroy() }
        try runc.run("probe-me")
        #expect(try runc.runc("pause", "probe-me").status == 0)
        // Only the container's busybox root has /bin/busybox and no /etc/os-release.
        let command = "test -x /bin/busybox && test ! -e /etc/os-release && echo inside"
        let result = try freezectl("unpause", "--runtime-root", runc.root, "runc:probe-me", "--health-exec-in-target",
                                   "--health-cmd", command, "--format", "json")
        #expect(result.status == 0, "\(result.stdout) \(result.stderr)")
        #expect(health(result.jsonLines.first)["last_output"] as? String == "inside")
        let onHost = try freezectl("unpause", "--runtime-root", runc.root, "runc:probe-me", "--health-retries", "1",
                                   "--health-cmd", command, "--format", "json")
        #expect(onHost.status == 3, "on the host the same command fails")
    }

    @Test("the library's waitUntilHealthy can be cancelled, and kills its probe")
    func waitUntilHealthyIsCancellable() async throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let pidFile = scratch.path + "/pid"
        let probe = HealthProbe.exec(command: "echo $$ > \(pidFile); sleep 300", inTarget: false)
        let task = Task {
            try await probe.waitUntilHealthy(policy: HealthPolicy(timeout: .seconds(60)), context: ProbeContext(target: "t", cgroup: nil, pid: nil))
        }
        for _ in 0..<200 where !FileManager.default.fileExists(atPath: pidFile) { try await Task.sleep(for: .milliseconds(10)) }
        task.cancel()
        await #expect(throws: CgroupFreezer.Error.cancelled) { try await task.value }
        let pid = try #require(Int32(try String(contentsOfFile: pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
        try await Task.sleep(for: .milliseconds(100))
        #expect(procState(pid) == nil || procState(pid) == "Z")
    }
}
