import CgroupFreezer
import Foundation
import SystemPackage
import Testing

/// The wake on traffic's primitive (issue 34): a frozen target's sockets watched without reading
/// them; the first packet names the target, and after the thaw the client gets its answer.
@Suite("Traffic watcher: the first packet to a frozen target", .serialized, .hostUnchanged)
struct TrafficWatcherTests {
    /// Everything a watcher reports, collected by one task for the whole test (a consumer that
    /// stopped iterating would end the watcher's stream).
    final class Reports: @unchecked Sendable {
        private let lock = NSLock()
        private var seen: [TrafficWatcher.Activity] = []
        private var taken = 0

        init(_ watcher: TrafficWatcher) {
            Task { for await activity in watcher.activity { lock.withLock { seen.append(activity) } } }
        }

        /// The next report not taken yet, waiting up to `seconds`.
        func next(seconds: Double) -> TrafficWatcher.Activity? {
            var found: TrafficWatcher.Activity?
            eventually(seconds: seconds) {
                lock.withLock {
                    guard taken < seen.count else { return false }
                    (found, taken) = (seen[taken], taken + 1)
                    return true
                }
            }
            return found
        }
    }

    @Test("a frozen runc container serving HTTP: nothing reported while nobody calls; a request wakes it (tcp/8080, listening), and after the thaw the client gets the page")
    func httpRequestWakes() throws {
        let runc = try RuncContainers()
        defer { runc.destroy() }
        try runc.run("web", script: "mkdir -p /dev/shm/www && echo hello-freezectl > /dev/shm/www/index.html && exec /bin/busybox httpd -f -p 8080 -h /dev/shm/www")
        let pid = try #require(try runc.pids("web").first)
        let busybox = try #require(which("busybox"))
        // runc leaves the loopback of the container's new network namespace down.
        #expect(try run("/usr/bin/nsenter", ["--net=/proc/\(pid)/ns/net", "/usr/sbin/ip", "link", "set", "lo", "up"]).status == 0)
        let get = ["--net=/proc/\(pid)/ns/net", busybox, "wget", "-q", "-O-", "http://127.0.0.1:8080/index.html"]
        try #require(eventually(seconds: 10) { (try? run("/usr/bin/nsenter", get))?.stdout == "hello-freezectl\n" }, "httpd answers")

        #expect(try freezectl("pause", "--runtime-root", runc.root, "runc:web").status == 0)
        let watcher = try TrafficWatcher()
        defer { watcher.stop() }
        let reports = Reports(watcher)
        let freezer = try CgroupFreezer()
        let status = try freezectl("status", "--runtime-root", runc.root, "runc:web", "--format", "json")
        let cgroup = try #require(status.jsonLines.first?["cgroup"] as? String)
        let watch = try watcher.watch(try freezer.target(for: .directory(FilePath(cgroup))), freezer: freezer)
        #expect(watcher.socketCount(watch) >= 1)
        #expect(reports.next(seconds: 0.3) == nil, "nobody called: nothing to report")

        let client = try BackgroundProcess("/usr/bin/nsenter", get)
        let activity = reports.next(seconds: 5)
        #expect(activity?.watch == watch && activity?.socket.description == "tcp/8080 (listening)", "\(String(describing: activity))")
        #expect(watcher.socketCount(watch) == 0, "a watch ends with its first packet")
        #expect(try runc.list() == ["web": "paused"], "the watcher only tells; it thaws nothing")
        #expect(try freezectl("unpause", "--runtime-root", runc.root, "runc:web").status == 0)
        let answered = client.wait(seconds: 10)
        #expect(answered.status == 0 && answered.stdout == "hello-freezectl\n", "the queued request served after the thaw: \(answered)")
    }

    @Test("a datagram to a frozen UDP server in a network namespace of its own wakes it (udp/9000); an unwatched target reports nothing")
    func datagramWakes() throws {
        let cgroup = try TestCgroup(.v1)
        defer { cgroup.destroy() }
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let server = """
        import socket, os
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 9000))
        open("\(scratch.path)/ready", "w").close()
        while True:
            data, peer = s.recvfrom(100)
            with open("\(scratch.path)/got", "a") as f:
                f.write(data.decode())
        """
        try server.write(toFile: scratch.path + "/server.py", atomically: true, encoding: .utf8)
        let pid = try cgroup.start("exec unshare --net sh -c 'ip link set lo up && exec python3 \(scratch.path)/server.py'")
        try #require(eventually(seconds: 10) { FileManager.default.fileExists(atPath: scratch.path + "/ready") })
        try cgroup.write("FROZEN", "freezer.state")
        try #require(eventually { cgroup.kernelFrozen })

        let watcher = try TrafficWatcher()
        defer { watcher.stop() }
        let reports = Reports(watcher)
        let freezer = try CgroupFreezer()
        let target = try freezer.target(for: .directory(FilePath(cgroup.path)))
        let watch = try watcher.watch(target, freezer: freezer)
        let send = ["--net=/proc/\(pid)/ns/net", "python3", "-c",
                    #"import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"ping", ("127.0.0.1", 9000))"#]
        #expect(try run("/usr/bin/nsenter", send).status == 0)
        let activity = reports.next(seconds: 5)
        #expect(activity?.watch == watch && activity?.socket.description == "udp/9000", "\(String(describing: activity))")
        #expect(!FileManager.default.fileExists(atPath: scratch.path + "/got"), "still frozen: the datagram waits in the socket")
        try cgroup.write("THAWED", "freezer.state")
        #expect(eventually(seconds: 5) { (try? String(contentsOfFile: scratch.path + "/got", encoding: .utf8)) == "ping" }, "delivered after the thaw")

        // Unwatched before any packet: the next one is nobody's business.
        try cgroup.write("FROZEN", "freezer.state")
        try #require(eventually { cgroup.kernelFrozen })
        let second = try watcher.watch(target, freezer: freezer)
        #expect(watcher.socketCount(second) >= 1)
        watcher.unwatch(second)
        #expect(watcher.socketCount(second) == 0)
        #expect(try run("/usr/bin/nsenter", send).status == 0)
        #expect(reports.next(seconds: 0.3) == nil)
    }
}
