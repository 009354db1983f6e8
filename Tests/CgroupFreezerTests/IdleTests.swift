import Foundation
import Testing

/// freezectld's idle controller (issue 34) with real runc containers in network namespaces of
/// their own, real HTTP requests from inside those namespaces (`nsenter --net`), and `runc list`
/// as the judge of paused and running.
@Suite("Idle freeze: quiet containers frozen, woken by their first packet", .serialized, .hostUnchanged)
struct IdleTests {
    static let page = "hello-freezectl\n"
    static let httpd = "mkdir -p /dev/shm/www && echo hello-freezectl > /dev/shm/www/index.html && exec /bin/busybox httpd -f -p 8080 -h /dev/shm/www"
    /// The label that opts a container in, at the shortest `after`.
    static let optIn = ["io.freezectl.idle-after": "5s"]

    /// A runc container serving the page on 8080 in its own network namespace.
    struct Web {
        let id: String
        let pid: Int32
        let cgroup: String
        let busybox: String

        /// The page fetched from inside the container's network namespace: (exit status, body).
        var getArguments: [String] { ["--net=/proc/\(pid)/ns/net", busybox, "wget", "-q", "-O-", "http://127.0.0.1:8080/index.html"] }

        func get() throws -> CLIResult { try run("/usr/bin/nsenter", getArguments) }

        /// The kernel's word: the container's freezer state.
        var frozen: Bool {
            ((try? String(contentsOfFile: cgroup + "/freezer.state", encoding: .utf8)) ?? "").hasPrefix("FROZEN")
        }
    }

    static func web(_ runc: RuncContainers, _ id: String, labels: [String: String] = optIn) throws -> Web {
        try runc.run(id, annotations: labels, script: httpd)
        let pid = try #require(try runc.pids(id).first)
        // runc leaves the loopback of the container's new network namespace down.
        #expect(try run("/usr/bin/nsenter", ["--net=/proc/\(pid)/ns/net", "/usr/sbin/ip", "link", "set", "lo", "up"]).status == 0)
        let status = try freezectl("status", "--runtime-root", runc.root, "runc:\(id)", "--format", "json")
        let web = Web(id: id, pid: pid, cgroup: try #require(status.jsonLines.first?["cgroup"] as? String), busybox: try #require(which("busybox")))
        try #require(eventually(seconds: 10) { (try? web.get())?.stdout == page }, "httpd answers")
        return web
    }

    /// A test's runc containers and daemon, removed at its end (`destroy`).
    final class Scene {
        let scratch: ScratchDirectory
        let runc: RuncContainers
        private(set) var daemon: TestDaemon?

        init(scratch: ScratchDirectory? = nil) throws {
            self.scratch = try scratch ?? ScratchDirectory()
            runc = try RuncContainers()
        }

        func web(_ id: String, labels: [String: String] = IdleTests.optIn) throws -> Web { try IdleTests.web(runc, id, labels: labels) }

        /// Starts freezectld (with `config` as its configuration file).
        func start(config: String? = nil) throws -> TestDaemon {
            let daemon = try IdleTests.daemon(scratch, runc, config: config)
            self.daemon = daemon
            return daemon
        }

        func destroy() {
            daemon?.cleanUp()
            runc.destroy()
            scratch.remove()
        }
    }

    /// The daemon, finding the test's runc containers.
    static func daemon(_ scratch: ScratchDirectory, _ runc: RuncContainers, config: String? = nil) throws -> TestDaemon {
        let daemon = TestDaemon(in: scratch)
        daemon.options = ["--runtime-root", runc.root]
        if let config {
            let path = scratch.path + "/freezectld.toml"
            try config.write(toFile: path, atomically: true, encoding: .utf8)
            daemon.options += ["--config", path]
        }
        try daemon.start()
        return daemon
    }

    /// The idle events so far (the events stream replayed from the start).
    static func idleEvents(_ daemon: TestDaemon) throws -> [[String: Any]] {
        let replay = try run("/usr/bin/curl", ["-sN", "--max-time", "1", "--unix-socket", daemon.socket,
                                               "http://localhost/v1/events?since=0&filters=%7B%22type%22%3A%5B%22idle%22%5D%7D"])
        return replay.stdout.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    static func api(_ daemon: TestDaemon, _ path: String, _ body: String) throws -> [String: Any] {
        let answer = try run("/usr/bin/curl", ["-s", "--unix-socket", daemon.socket, "-X", "POST", "-H", "Content-Type: application/json", "-d", body,
                                               "http://localhost" + path])
        return (try? JSONSerialization.jsonObject(with: Data(answer.stdout.utf8))) as? [String: Any] ?? [:]
    }

    static func metrics(_ daemon: TestDaemon) throws -> String {
        try run("/usr/bin/curl", ["-s", "--unix-socket", daemon.socket, "http://localhost/metrics"]).stdout
    }

    /// Waits until `web` is frozen; the seconds it took.
    static func untilFrozen(_ web: Web, seconds: Double = 15) -> Double? {
        let start = Date()
        guard eventually(seconds: seconds, { web.frozen }) else { return nil }
        return Date().timeIntervalSince(start)
    }

    @Test("a quiet container is frozen within after + 1 s (runc list: paused), its first request wakes it and is answered with the page; events idle-freeze and wake (traffic, tcp/8080), the wake latency metric, the audit records")
    func quietFrozenAndWoken() throws {
        let scene = try Scene()
        defer { scene.destroy() }
        let runc = scene.runc
        let web = try scene.web("web")
        let daemon = try scene.start()
        // Seen by the daemon (its quiet time starts when it is first seen), then asked once:
        // the last packet is the answer just read.
        Thread.sleep(forTimeInterval: 1)
        #expect(try web.get().stdout == Self.page)
        let took = try #require(Self.untilFrozen(web), "frozen when quiet")
        #expect(took >= 4.5 && took <= 6.0, "frozen \(took) s after the last request; after is 5 s")
        #expect(try runc.list()["web"] == "paused")
        // status says so, with since when and what wakes it (the daemon reads its own records).
        let host = "unix://" + daemon.socket
        let status = try freezectl("--host", host, "status", "runc:web", "--format", "json").jsonLines.first ?? [:]
        let idle = status["idle"] as? [String: Any] ?? [:]
        #expect(status["state"] as? String == "frozen" && idle["wake"] as? String == "traffic" && idle["rule"] as? String == "labels"
                && (idle["since"] as? String)?.hasSuffix("Z") == true, "\(status)")
        #expect(try freezectl("--host", host, "status", "runc:web").stdout.contains("idle-frozen (traffic, since "))

        let answer = try web.get()
        #expect(answer.status == 0 && answer.stdout == Self.page, "\(answer)")
        #expect(try runc.list()["web"] == "running")
        let events = try Self.idleEvents(daemon)
        let freeze = try #require(events.first { $0["action"] as? String == "idle-freeze" }, "\(events)")
        #expect(freeze["target"] as? String == "runc:web" && freeze["rule"] as? String == "labels")
        #expect((freeze["idle"] as? [String: Any])?["after_ms"] as? Double == 5000, "\(freeze)")
        let wake = try #require(events.first { $0["action"] as? String == "wake" }, "\(events)")
        #expect(wake["cause"] as? String == "traffic" && (wake["idle"] as? [String: Any])?["socket"] as? String == "tcp/8080 (listening)", "\(wake)")
        let metrics = try Self.metrics(daemon)
        #expect(metrics.contains("freezectl_wake_latency_seconds_count{cause=\"traffic\"} 1"), "\(metrics)")
        #expect(metrics.contains("freezectl_idle_frozen 0"), "\(metrics)")
        let records = auditRecords(daemon.auditLog).filter { $0["target"] as? String == "runc:web" }
        #expect(records.map { $0["action"] as? String } == ["pause", "unpause"] && records.allSatisfy { $0["rule"] as? String == "labels" }, "\(records)")
    }

    @Test("200 wakes over 20 containers: every first request after an idle freeze is answered with the page, none refused or reset")
    func twoHundredWakes() throws {
        let scene = try Scene()
        defer { scene.destroy() }
        let runc = scene.runc
        let webs = try (0..<20).map { try Self.web(runc, "w\($0)") }
        let daemon = try scene.start()
        let tally = Tally()
        let group = DispatchGroup()
        for web in webs {
            group.enter()
            Thread.detachNewThread {
                defer { group.leave() }
                for round in 0..<10 {
                    guard Self.untilFrozen(web, seconds: 20) != nil else {
                        tally.fail("\(web.id) round \(round): never frozen")
                        return
                    }
                    let result = try? web.get()
                    if result?.status == 0 && result?.stdout == Self.page { tally.answered() } else { tally.fail("\(web.id) round \(round): \(String(describing: result))") }
                }
            }
        }
        #expect(group.wait(timeout: .now() + 240) == .success, "the wakes ended")
        let (answered, failed) = tally.counts
        #expect(failed.isEmpty, "\(failed)")
        #expect(answered == 200)
        let wakes = try Self.idleEvents(daemon).filter { $0["action"] as? String == "wake" && $0["cause"] as? String == "traffic" }
        #expect(wakes.count == 200, "\(wakes.count) wake events")
    }

    @Test("busy containers are never frozen: one spinning on a CPU, one asked every second; quiet again, the second is frozen")
    func busyNeverFrozen() throws {
        let scene = try Scene()
        defer { scene.destroy() }
        let runc = scene.runc
        try runc.run("spin", annotations: Self.optIn, script: "while :; do :; done")
        let spinCgroup = try #require(try freezectl("status", "--runtime-root", runc.root, "runc:spin", "--format", "json").jsonLines.first?["cgroup"] as? String)
        let chatty = try Self.web(runc, "chatty")
        let daemon = try scene.start()
        let spin = Web(id: "spin", pid: 0, cgroup: spinCgroup, busybox: chatty.busybox)
        let end = Date().addingTimeInterval(9)
        var everFrozen: Set<String> = []
        var lastAsked = Date.distantPast
        while Date() < end {
            if Date().timeIntervalSince(lastAsked) >= 1 {
                #expect(try chatty.get().stdout == Self.page)
                lastAsked = Date()
            }
            if spin.frozen { everFrozen.insert("spin") }
            if chatty.frozen { everFrozen.insert("chatty") }
            usleep(50_000)
        }
        #expect(everFrozen.isEmpty, "\(everFrozen) frozen while busy")
        #expect(try runc.list() == ["spin": "running", "chatty": "running"])
        // Not asked any more: the controller does freeze it (the test above could fail).
        #expect(Self.untilFrozen(chatty, seconds: 8) != nil, "chatty frozen once quiet")
        #expect(!spin.frozen)
        #expect(try Self.idleEvents(daemon).filter { $0["action"] as? String == "idle-freeze" }.map { $0["target"] as? String } == ["runc:chatty"])
    }

    @Test("never fight the owners: a container runc paused is neither idle-frozen nor woken by traffic; a pause through the API takes an idle freeze over (traffic no longer wakes it); an unpause wakes it (cause api) and restarts its quiet time")
    func ownersPausesAreTheirs() throws {
        let scene = try Scene()
        defer { scene.destroy() }
        let runc = scene.runc
        let web = try scene.web("web")
        #expect(try runc.runc("pause", "web").status == 0)
        let daemon = try scene.start()
        Thread.sleep(forTimeInterval: 6.5)
        let client = try BackgroundProcess("/usr/bin/nsenter", web.getArguments)
        Thread.sleep(forTimeInterval: 1.5)
        #expect(try runc.list()["web"] == "paused", "traffic does not thaw what runc paused")
        #expect(try Self.idleEvents(daemon).isEmpty, "nothing idle-frozen or woken")
        #expect(try runc.runc("resume", "web").status == 0)
        let first = client.wait(seconds: 10)
        #expect(first.status == 0 && first.stdout == Self.page, "\(first)")

        // An idle freeze taken over by a pause through the API.
        #expect(Self.untilFrozen(web) != nil)
        #expect(try Self.api(daemon, "/v1/pause", #"{"targets": ["runc:web"]}"#)["results"] != nil)
        let held = try BackgroundProcess("/usr/bin/nsenter", web.getArguments)
        Thread.sleep(forTimeInterval: 1.5)
        #expect(try runc.list()["web"] == "paused", "paused by request: traffic does not wake it")
        let released = try Self.idleEvents(daemon).filter { $0["action"] as? String == "released" }
        #expect(released.first?["cause"] as? String == "paused", "\(released)")
        #expect(try Self.api(daemon, "/v1/unpause", #"{"targets": ["runc:web"]}"#)["results"] != nil)
        let second = held.wait(seconds: 10)
        #expect(second.status == 0 && second.stdout == Self.page, "\(second)")

        // An idle freeze woken by an unpause: cause api; awake until quiet again.
        #expect(Self.untilFrozen(web) != nil)
        #expect(try Self.api(daemon, "/v1/unpause", #"{"targets": ["runc:web"]}"#)["results"] != nil)
        let woken = try Self.idleEvents(daemon).filter { $0["action"] as? String == "wake" }
        #expect(woken.last?["cause"] as? String == "api", "\(woken)")
        Thread.sleep(forTimeInterval: 3)
        #expect(!web.frozen, "its quiet time restarted at the unpause")
        #expect(Self.untilFrozen(web, seconds: 5) != nil, "and it is frozen again once quiet for after")
    }

    @Test("SIGTERM thaws what the daemon idle-froze; after SIGKILL a restarted daemon adopts its idle freezes and a request sent meanwhile wakes the container")
    func daemonStopsAndRestarts() throws {
        let scene = try Scene()
        defer { scene.destroy() }
        let runc = scene.runc
        let web = try scene.web("web")
        // More than one: the daemon must not exit before its last thaw is done.
        let others = try ["web2", "web3"].map { try scene.web($0) }
        let daemon = try scene.start()
        #expect(([web] + others).allSatisfy { Self.untilFrozen($0) != nil })
        #expect(daemon.stop(SIGTERM)?.status == 0)
        #expect(try runc.list() == ["web": "running", "web2": "running", "web3": "running"], "SIGTERM thawed them: nobody else would")

        try daemon.start()
        #expect(Self.untilFrozen(web) != nil)
        daemon.stop(SIGKILL)
        #expect(try runc.list()["web"] == "paused", "a killed daemon leaves it frozen")
        let client = try BackgroundProcess("/usr/bin/nsenter", web.getArguments)
        Thread.sleep(forTimeInterval: 1)
        #expect(try runc.list()["web"] == "paused")
        try daemon.start()
        let answer = client.wait(seconds: 10)
        #expect(answer.status == 0 && answer.stdout == Self.page, "the queued request woke it after the restart: \(answer)")
        #expect(try runc.list()["web"] == "running")
        let wake = try Self.idleEvents(daemon).filter { $0["action"] as? String == "wake" }
        #expect(wake.first?["cause"] as? String == "traffic", "\(wake)")
    }

    @Test("an idle rule with reclaim deep-pauses the container (its memory to swap) and the wake still answers with the page")
    func reclaimRule() async throws {
        try await MemoryTests.withSwap { scratch, _ in
            let scene = try Scene(scratch: scratch)
            defer { scene.destroy() }
            let web = try scene.web("web", labels: ["tier": "preview"])
            let daemon = try scene.start(config: """
                [labels]
                enabled = false

                [[idle]]
                filters = ["label=tier=preview"]
                after = "5s"
                reclaim = true
                """)
            #expect(Self.untilFrozen(web) != nil)
            // The reclaim follows the freeze: the event comes when it is done.
            try #require(eventually(seconds: 10) { ((try? Self.idleEvents(daemon)) ?? []).contains { $0["action"] as? String == "idle-freeze" } })
            let freeze = try #require(try Self.idleEvents(daemon).first { $0["action"] as? String == "idle-freeze" })
            let figures = freeze["idle"] as? [String: Any] ?? [:]
            #expect(freeze["rule"] as? String == "idle rule 1" && figures["reclaim"] as? Bool == true, "\(freeze)")
            #expect((figures["reclaimed_bytes"] as? Int ?? 0) > 0, "\(freeze)")
            #expect((KernelMemory.of(web.pid)?.swapped ?? 0) > 0, "httpd's memory is in swap")
            let answer = try web.get()
            #expect(answer.status == 0 && answer.stdout == Self.page, "\(answer)")
            #expect(try Self.metrics(daemon).contains("freezectl_reclaimed_bytes_total"))
        }
    }

    @Test("a container in the host's network namespace is refused for wake=traffic (an idle event names the reason) and never frozen; with wake=api it is frozen and only an unpause wakes it")
    func hostNetwork() throws {
        let scene = try Scene()
        defer { scene.destroy() }
        let runc = scene.runc
        try runc.run("hosttraffic", annotations: Self.optIn, hostNetwork: true)
        try runc.run("hostapi", annotations: Self.optIn.merging(["io.freezectl.wake": "api"]) { $1 }, hostNetwork: true)
        let daemon = try scene.start()
        try #require(eventually(seconds: 10) { (try? runc.list())?["hostapi"] == "paused" }, "wake=api: frozen when quiet")
        #expect(try runc.list()["hosttraffic"] == "running")
        let refused = try Self.idleEvents(daemon).filter { $0["action"] as? String == "refused" }
        #expect(refused.first?["target"] as? String == "runc:hosttraffic" && (refused.first?["message"] as? String ?? "").contains("host's"), "\(refused)")
        #expect(try Self.api(daemon, "/v1/unpause", #"{"targets": ["runc:hostapi"]}"#)["results"] != nil)
        #expect(try runc.list()["hostapi"] == "running")
    }

    @Test("a configuration that does not hold stops the start naming the file and line; on SIGHUP the previous one stays")
    func badConfiguration() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let path = scratch.path + "/freezectld.toml"
        try "[[idle]]\nafter = \"1s\"\n".write(toFile: path, atomically: true, encoding: .utf8)
        let daemon = TestDaemon(in: scratch)
        daemon.options = ["--config", path]
        let refused = try run(DaemonTests.binary, daemon.arguments)
        #expect(refused.status == 1 && refused.stderr.contains(path) && refused.stderr.contains("idle rule 1: after \"1s\" is shorter than 5s"), "\(refused.stderr)")
        #expect(!FileManager.default.fileExists(atPath: daemon.socket), "nothing listening")

        try "[[idle]]\nafter = \"10m\"\nunits = [\"preview.service\"]\n".write(toFile: path, atomically: true, encoding: .utf8)
        try daemon.start()
        defer { daemon.cleanUp() }
        try "[[idle]]\nafter = \"10m\"\nwake = \"sometimes\"\n".write(toFile: path, atomically: true, encoding: .utf8)
        daemon.process?.signal(SIGHUP)
        Thread.sleep(forTimeInterval: 1)
        let stopped = daemon.stop(SIGTERM)
        #expect(stopped?.stderr.contains("configuration not reloaded; the previous one stays in force") == true
                && stopped?.stderr.contains("wake \"sometimes\" is neither") == true, "\(stopped?.stderr ?? "")")
    }
}

/// What the threads of a test found, counted under a lock.
final class Tally: @unchecked Sendable {
    private let lock = NSLock()
    private var answers = 0
    private var failures: [String] = []

    func answered() { lock.withLock { answers += 1 } }
    func fail(_ what: String) { lock.withLock { failures.append(what) } }
    var counts: (answered: Int, failed: [String]) { lock.withLock { (answers, failures) } }
}
