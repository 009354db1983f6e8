import Foundation
import Testing

/// freezectld on a private socket, asked with curl as an orchestrator in any language would.
@Suite("freezectld: the API over a unix socket", .serialized, .hostUnchanged)
struct DaemonTests {
    static var binary: String {
        URL(fileURLWithPath: freezectlBinary).deletingLastPathComponent().appendingPathComponent("freezectld").path
    }

    /// Every answer of the test, held to docs/api.yaml at its end (`checkAnswers`).
    let answers = AnswerLog()

    /// `curl` against the daemon's socket: the body and the HTTP status (recorded for the spec check).
    func request(_ socket: String, _ method: String, _ path: String, body: String? = nil,
                 user: (uid: Int, gid: Int)? = nil, groups: [Int] = []) throws -> (status: Int, body: String) {
        var arguments = ["-s", "--unix-socket", socket, "-X", method, "-w", "\n%{http_code} %{content_type}", "http://localhost" + path]
        if let body { arguments += ["-H", "Content-Type: application/json", "-d", body] }
        let result = try run("/usr/bin/curl", arguments, user: user, groups: groups)
        var lines = result.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let trailer = (lines.popLast() ?? "").split(separator: " ", maxSplits: 1).map(String.init)
        let status = Int(trailer.first ?? "") ?? 0
        let text = lines.joined(separator: "\n")
        answers.add(method: method, path: path, status: status, contentType: trailer.count > 1 ? trailer[1] : "", body: text)
        return (status, text)
    }

    func object(_ text: String) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:]
    }

    @Test("pause, status and unpause a real cgroup through the API; 207 for a partial failure, 400 for bad input, 403 for a caller no policy allows, connection after connection and request after request on one connection, each answered for its own caller; the socket is 0660 and gone after SIGTERM")
    func pauseStatusUnpause() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let cgroup = try TestCgroup(.v2)
        defer { cgroup.destroy() }
        try cgroup.start("sleep 1000")
        let socket = scratch.path + "/run/freezectl.sock"
        let daemon = try BackgroundProcess(Self.binary, ["--socket", socket, "--state-dir", scratch.path + "/state"])
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
        try checkCallersApart(socket: socket, cgroup: cgroup)

        daemon.signal(SIGTERM)
        let ended = daemon.wait(seconds: 10)
        #expect(ended.exited && ended.status == 0, "\(ended.stderr)")
        #expect(!FileManager.default.fileExists(atPath: socket))
        try answers.check()
    }

    /// The daemon reads a connection's caller once (Callers): connection after connection, root's
    /// and nobody's alternating, each is answered for its own caller, and so is every request of
    /// one kept-alive connection.
    func checkCallersApart(socket: String, cgroup: TestCgroup) throws {
        let path = "/v1/status?target=cgroup:\(cgroup.relativePath)"
        for _ in 0..<15 {
            #expect(try request(socket, "GET", path).status == 200)
            #expect(try request(socket, "GET", path, user: (65534, 65534)).status == 403)
        }
        // curl keeps one connection for the URLs of one run.
        let url = "http://localhost" + path
        func threeOnOne(as user: (uid: Int, gid: Int)?) throws -> [Substring] {
            // One -o a URL: each answer's body is dropped, each write-out line kept.
            try run("/usr/bin/curl", ["-s", "--unix-socket", socket, "-w", "%{http_code} %{num_connects}\n",
                                      "-o", "/dev/null", url, "-o", "/dev/null", url, "-o", "/dev/null", url],
                    user: user).stdout.split(separator: "\n")
        }
        #expect(try threeOnOne(as: (65534, 65534)) == ["403 1", "403 0", "403 0"])
        #expect(try threeOnOne(as: nil) == ["200 1", "200 0", "200 0"])
    }

    /// A daemon in its own mount namespace whose /etc/group is `groupFile` (a group the test needs
    /// exists for it alone; the host's file is not touched).
    func startDaemon(_ arguments: [String], groupFile: String) throws -> BackgroundProcess {
        let command = "mount --bind \"$1\" /etc/group && shift && exec \"$@\""
        return try BackgroundProcess("/usr/bin/unshare", ["--mount", "--propagation", "private", "--", "/bin/sh", "-c", command, "sh",
                                                         groupFile, Self.binary] + arguments)
    }

    @Test("authorization: the mission's unpausers may unpause only containers labelled auto_resume=true (others skipped or 403); a user granted one cgroup; a user in no rule; audit names the requester and rule; SIGHUP reloads, a broken policy keeps the previous")
    func authorization() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let runc = try RuncContainers()
        defer { runc.destroy() }
        try runc.run("web", annotations: ["auto_resume": "true"])
        try runc.run("db", annotations: ["auto_resume": "false"])
        let allowed = try TestCgroup(.v2)
        defer { allowed.destroy() }
        let other = try TestCgroup(.v2)
        defer { other.destroy() }
        try allowed.start("sleep 1000")
        try other.start("sleep 1000")

        // unpausers (gid 4242) exists only in the daemon's mount namespace.
        let groupFile = scratch.path + "/group"
        try (String(contentsOfFile: "/etc/group", encoding: .utf8) + "unpausers:x:4242:\n").write(toFile: groupFile, atomically: true, encoding: .utf8)
        let policyFile = scratch.path + "/policy.toml"
        func writePolicy(_ extra: String) throws {
            try """
                [[rule]]
                groups = ["unpausers"]
                actions = ["unpause", "status"]
                filters = ["label=auto_resume=true"]

                [[rule]]
                users = ["nobody"]
                actions = ["pause", "unpause", "status"]
                cgroups = ["\(allowed.relativePath)"]
                \(extra)
                """.write(toFile: policyFile, atomically: true, encoding: .utf8)
        }
        try writePolicy("")
        let socket = scratch.path + "/freezectl.sock"
        let auditLog = scratch.path + "/audit.jsonl"
        let daemon = try startDaemon(["--socket", socket, "--state-dir", scratch.path + "/state", "--socket-group", "65534", "--policy", policyFile,
                                      "--runtime-root", runc.root, "--audit-log", auditLog], groupFile: groupFile)
        defer { if daemon.process.isRunning { daemon.signal(SIGKILL); _ = daemon.wait(seconds: 5) } }
        #expect(eventually(seconds: 20) { ((try? FileManager.default.attributesOfItem(atPath: socket)[.posixPermissions]) as? Int) == 0o660 })
        #expect(((try? FileManager.default.attributesOfItem(atPath: socket)[.groupOwnerAccountID]) as? Int) == 65534)

        let member = (uid: 23456, gid: 65534), memberGroups = [4242]
        let nobody = (uid: 65534, gid: 65534)
        let outsider = (uid: 23457, gid: 65534)

        // Root may do everything: pause both containers.
        let paused = try request(socket, "POST", "/v1/pause", body: #"{"all": true}"#)
        #expect(paused.status == 200, "\(paused.body)")
        #expect(try runc.list() == ["web": "paused", "db": "paused"])

        try checkMission(socket: socket, runc: runc, member: member, groups: memberGroups)
        try checkCgroupRule(socket: socket, allowed: allowed, other: other, nobody: nobody, outsider: outsider)
        checkAuditNamesRequesters(auditLog, other: other)
        try checkReload(daemon: daemon, socket: socket, policyFile: policyFile, allowed: allowed, outsider: outsider, writePolicy: writePolicy)

        #expect(try request(socket, "POST", "/v1/unpause", body: #"{"all": true}"#).status == 200)
        daemon.signal(SIGTERM)
        #expect(daemon.wait(seconds: 10).exited)
        try answers.check()
    }

    /// The audit trail names who asked and the rule that allowed it, and every refusal.
    func checkAuditNamesRequesters(_ auditLog: String, other: TestCgroup) {
        let records = auditRecords(auditLog)
        let webUnpause = records.first { $0["action"] as? String == "unpause" && ($0["target"] as? String)?.hasPrefix("runc:web") == true && $0["result"] as? String == "ok" }
        #expect((webUnpause?["requester"] as? [String: Any])?["uid"] as? Int == 23456 && webUnpause?["rule"] as? String == "rule 1", "\(records)")
        let refusals = records.filter { $0["result"] as? String == "refused" }
        #expect(refusals.contains { $0["target"] as? String == "runc:db" && ($0["requester"] as? [String: Any])?["uid"] as? Int == 23456 })
        #expect(refusals.contains { $0["target"] as? String == "cgroup:\(other.relativePath)" && ($0["requester"] as? [String: Any])?["user"] as? String == "nobody" })
    }

    /// The mission: unpausers unpause what is labelled auto_resume=true; the rest is refused.
    func checkMission(socket: String, runc: RuncContainers, member: (uid: Int, gid: Int), groups memberGroups: [Int]) throws {
        // The mission: unpausers unpause what is labelled auto_resume=true; db is skipped, and said so.
        let all = try request(socket, "POST", "/v1/unpause", body: #"{"all": true}"#, user: member, groups: memberGroups)
        #expect(all.status == 200, "\(all.body)")
        let answer = object(all.body)
        #expect((answer["results"] as? [[String: Any]])?.compactMap { $0["name"] as? String } == ["web"])
        #expect((answer["skipped"] as? [String])?.count == 1 && (answer["skipped"] as? [String])?.first?.hasPrefix("runc:db") == true, "\(all.body)")
        #expect(try runc.list() == ["web": "running", "db": "paused"])
        // Naming db is refused as a whole, with the rule that would be needed; nothing is done.
        let named = try request(socket, "POST", "/v1/unpause", body: #"{"targets": ["runc:db", "runc:web"]}"#, user: member, groups: memberGroups)
        #expect(named.status == 403, "\(named.body)")
        let refusal = (object(named.body)["refused"] as? [[String: Any]])?.first
        #expect(refusal?["target"] as? String == "runc:db" && (refusal?["rule_needed"] as? String)?.contains("id=") == true, "\(named.body)")
        #expect(try runc.list() == ["web": "running", "db": "paused"])
        // No rule lets them pause at all; without the group they are an outsider.
        #expect(try request(socket, "POST", "/v1/pause", body: #"{"targets": ["runc:web"]}"#, user: member, groups: memberGroups).status == 403)
        #expect(try request(socket, "POST", "/v1/unpause", body: #"{"all": true}"#, user: member).status == 403)
        #expect(try runc.list() == ["web": "running", "db": "paused"])
    }

    /// A user granted one cgroup acts on it and on no other; a user in no rule on none.
    func checkCgroupRule(socket: String, allowed: TestCgroup, other: TestCgroup, nobody: (uid: Int, gid: Int), outsider: (uid: Int, gid: Int)) throws {
        // nobody may pause one cgroup and not another.
        let mine = try request(socket, "POST", "/v1/pause", body: #"{"targets": ["cgroup:\#(allowed.relativePath)"]}"#, user: nobody)
        #expect(mine.status == 200 && allowed.kernelFrozen, "\(mine.body)")
        let notMine = try request(socket, "POST", "/v1/pause", body: #"{"targets": ["cgroup:\#(other.relativePath)"]}"#, user: nobody)
        #expect(notMine.status == 403 && notMine.body.contains("cgroups = [\\\"\(other.relativePath)\\\"]"), "\(notMine.body)")
        #expect(!other.selfFrozen)
        #expect(try request(socket, "GET", "/v1/status?target=cgroup:\(allowed.relativePath)", user: nobody).status == 200)
        #expect(try request(socket, "GET", "/v1/status?target=cgroup:\(other.relativePath)", user: nobody).status == 403)
        #expect(try request(socket, "POST", "/v1/unpause", body: #"{"targets": ["cgroup:\#(allowed.relativePath)"]}"#, user: nobody).status == 200)
        #expect(!allowed.selfFrozen)
        // The outsider is named by no rule.
        #expect(try request(socket, "GET", "/v1/status?target=cgroup:\(allowed.relativePath)", user: outsider).status == 403)
    }

    /// SIGHUP: a rule for the outsider takes effect; a broken file, or one the TOML parser aborts
    /// on, then keeps it in force.
    func checkReload(daemon: BackgroundProcess, socket: String, policyFile: String, allowed: TestCgroup, outsider: (uid: Int, gid: Int),
                     writePolicy: (String) throws -> Void) throws {
        try writePolicy("[[rule]]\nusers = [\"23457\"]\nactions = [\"status\"]\n")
        daemon.signal(SIGHUP)
        #expect(eventually(seconds: 5) { (try? request(socket, "GET", "/v1/status?target=cgroup:\(allowed.relativePath)", user: outsider).status) == 200 })
        try "[[rule]\nbroken".write(toFile: policyFile, atomically: true, encoding: .utf8)
        daemon.signal(SIGHUP)
        #expect(eventually(seconds: 5) { daemon.stderrSoFar.contains("policy not reloaded") }, "\(daemon.stderrSoFar)")
        #expect(try request(socket, "GET", "/v1/status?target=cgroup:\(allowed.relativePath)", user: outsider).status == 200)
        // TOML on which toml++ aborts (found by fuzzing): the parse in a child dies, the daemon does not.
        try Self.tomlParserAbort.write(toFile: policyFile, atomically: true, encoding: .utf8)
        daemon.signal(SIGHUP)
        #expect(eventually(seconds: 5) { daemon.stderrSoFar.contains("the TOML parser crashed on it") }, "\(daemon.stderrSoFar)")
        #expect(try request(socket, "GET", "/v1/status?target=cgroup:\(allowed.relativePath)", user: outsider).status == 200)
    }

    /// A policy on which toml++ fails an assertion and aborts (Fuzz/Contained/policy has the
    /// inputs the fuzzer found; this is the smallest form of one).
    static let tomlParserAbort = "[[rule]]\ngroups = [}x\"]\nactions = [\"status\"]\n"
    static let containedAborts = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fuzz/Contained/policy")

    @Test("a policy that does not parse stops the start with a message naming the file; nothing listens")
    func malformedPolicyAtStart() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let policyFile = scratch.path + "/policy.toml"
        try "[[rule]]\nusers = [\"alice\"]\nactions = [\"freeze\"]\n".write(toFile: policyFile, atomically: true, encoding: .utf8)
        let result = try run(Self.binary, ["--socket", scratch.path + "/s.sock", "--state-dir", scratch.path + "/state", "--policy", policyFile])
        #expect(result.status != 0 && result.stderr.contains(policyFile) && result.stderr.contains("unknown action \"freeze\""), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: scratch.path + "/s.sock"))
        // TOML on which toml++ aborts (each input fuzzing found): the daemon says so and exits
        // like for any bad policy.
        let found = try FileManager.default.contentsOfDirectory(atPath: Self.containedAborts.path).map { Self.containedAborts.path + "/" + $0 }
        #expect(!found.isEmpty)
        for text in try [Self.tomlParserAbort] + found.map({ try String(contentsOfFile: $0, encoding: .utf8) }) {
            try text.write(toFile: policyFile, atomically: true, encoding: .utf8)
            let crashing = try run(Self.binary, ["--socket", scratch.path + "/s.sock", "--state-dir", scratch.path + "/state", "--policy", policyFile])
            #expect(crashing.status == 1 && crashing.stderr.contains("policy \(policyFile): the TOML parser crashed on it"), "\(crashing.stderr)")
            #expect(!FileManager.default.fileExists(atPath: scratch.path + "/s.sock"))
        }
        // A policy others may write grants nothing: refused too.
        try "".write(toFile: policyFile, atomically: true, encoding: .utf8)
        chmod(policyFile, 0o666)
        let unsafe = try run(Self.binary, ["--socket", scratch.path + "/s.sock", "--state-dir", scratch.path + "/state", "--policy", policyFile])
        #expect(unsafe.status != 0 && unsafe.stderr.contains("chmod go-w"), "\(unsafe.stderr)")
    }

    @Test("leases: for thaws on time; a paused-before target stays paused; a killed hold client thaws within a second; unpause and DELETE end a lease; a daemon killed with SIGKILL thaws an expired lease at start; SIGTERM ends holds and keeps timed leases")
    func leases() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let cgroups = try (0..<5).map { _ in try TestCgroup(.v2) }
        defer { cgroups.forEach { $0.destroy() } }
        for cgroup in cgroups { try cgroup.start("sleep 1000") }
        let (timed, pausedBefore, held, ended, killed) = (cgroups[0], cgroups[1], cgroups[2], cgroups[3], cgroups[4])
        let daemon = TestDaemon(in: scratch)
        defer { daemon.cleanUp() }
        try daemon.start()
        let (socket, state, auditLog) = (daemon.socket, daemon.state, daemon.auditLog)

        // for: frozen now, thawed at expiry; the paused-before target is not the lease's.
        #expect(try request(socket, "POST", "/v1/pause", body: #"{"targets": ["\#(target(pausedBefore))"]}"#).status == 200)
        let start = Date()
        let leased = try request(socket, "POST", "/v1/pause", body: #"{"targets": ["\#(target(timed))", "\#(target(pausedBefore))"], "for": "1s"}"#)
        #expect(leased.status == 200, "\(leased.body)")
        let lease = object(leased.body)["lease"] as? [String: Any]
        let leaseID = try #require(lease?["id"] as? String, "\(leased.body)")
        #expect(lease?["targets"] as? [String] == [target(timed)] && lease?["kind"] as? String == "for")
        #expect(timed.kernelFrozen && pausedBefore.kernelFrozen)
        #expect(FileManager.default.fileExists(atPath: "\(state)/leases/\(leaseID).json"), "recorded before the answer")
        #expect(try request(socket, "GET", "/v1/leases").body.contains(leaseID))
        #expect(eventually(seconds: 3) { !timed.kernelFrozen })
        let thawedAfter = Date().timeIntervalSince(start)
        #expect(thawedAfter >= 1.0, "thawed before its time: \(thawedAfter) s")
        #expect(pausedBefore.selfFrozen, "a lease never thaws what someone else froze")
        // The record goes and the audit record comes once the thaw is confirmed, just after the kernel's.
        #expect(eventually(seconds: 2) { !FileManager.default.fileExists(atPath: "\(state)/leases/\(leaseID).json") })
        #expect(eventually(seconds: 2) { auditRecords(auditLog).contains { $0["action"] as? String == "unpause" && $0["lease"] as? String == leaseID && $0["result"] as? String == "ok" } })

        try checkHoldEndsWithItsClient(socket: socket, held: held)

        try checkLeaseEnds(socket: socket, ended: ended)

        // SIGKILL while a lease runs: nothing thaws it until the daemon starts again after expiry.
        let survivor = try request(socket, "POST", "/v1/pause", body: #"{"targets": ["\#(target(killed))"], "for": "1s"}"#)
        let survivorID = try #require((object(survivor.body)["lease"] as? [String: Any])?["id"] as? String)
        daemon.stop(SIGKILL)
        usleep(1_500_000)
        #expect(killed.kernelFrozen, "no daemon, no thaw")
        try daemon.start()
        #expect(eventually(seconds: 20) { !killed.kernelFrozen })
        #expect(eventually(seconds: 2) { auditRecords(auditLog).contains { $0["lease"] as? String == survivorID && ($0["message"] as? String)?.contains("while the daemon was down") == true } })

        // SIGTERM: a hold ends (thawed), a timed lease stays recorded for the next start.
        #expect(eventually(seconds: 20) { FileManager.default.fileExists(atPath: socket) })
        let holder2 = try BackgroundProcess("/usr/bin/curl", ["-sN", "--unix-socket", socket, "-d", #"{"targets": ["\#(target(held))"], "hold": true}"#,
                                                              "http://localhost/v1/pause"])
        #expect(eventually(seconds: 5) { held.kernelFrozen })
        let kept = try request(socket, "POST", "/v1/pause", body: #"{"targets": ["\#(target(timed))"], "for": "60s"}"#)
        let keptID = try #require((object(kept.body)["lease"] as? [String: Any])?["id"] as? String)
        #expect(daemon.stop(SIGTERM)?.exited == true)
        #expect(!held.kernelFrozen, "a hold ends with the daemon")
        let held2 = holder2.wait(seconds: 5).stdout
        #expect(held2.contains("the daemon stopped"))
        answers.add(method: "POST", path: "/v1/pause", status: 200, contentType: "application/x-ndjson", body: held2)
        #expect(timed.kernelFrozen && FileManager.default.fileExists(atPath: "\(state)/leases/\(keptID).json"), "a timed lease is kept")
        try answers.check()
    }

    /// A test cgroup as a target of the API.
    func target(_ cgroup: TestCgroup) -> String { "cgroup:\(cgroup.relativePath)" }

    /// hold: the client killed with SIGKILL thaws it within a second.
    func checkHoldEndsWithItsClient(socket: String, held: TestCgroup) throws {
        // hold: the client killed with SIGKILL thaws it within a second.
        let holder = try BackgroundProcess("/usr/bin/curl", ["-sN", "--unix-socket", socket, "-d", #"{"targets": ["\#(target(held))"], "hold": true}"#,
                                                             "http://localhost/v1/pause"])
        #expect(eventually(seconds: 5) { held.kernelFrozen })
        #expect(try request(socket, "GET", "/v1/leases").body.contains(#""kind":"hold""#))
        holder.signal(SIGKILL)
        _ = holder.wait(seconds: 5)
        let killedAt = Date()
        #expect(eventually(seconds: 2) { !held.kernelFrozen })
        #expect(Date().timeIntervalSince(killedAt) < 1.0, "thawed \(Date().timeIntervalSince(killedAt)) s after the holder died")
    }

    /// An unpause ends the lease; DELETE ends one and thaws it.
    func checkLeaseEnds(socket: String, ended: TestCgroup) throws {
        // An unpause ends the lease; DELETE ends one and thaws it.
        #expect(try request(socket, "POST", "/v1/pause", body: #"{"targets": ["\#(target(ended))"], "for": "60s"}"#).status == 200)
        #expect(try request(socket, "POST", "/v1/unpause", body: #"{"targets": ["\#(target(ended))"]}"#).status == 200)
        #expect(try request(socket, "GET", "/v1/leases").body.trimmingCharacters(in: .whitespacesAndNewlines) == "[]")
        let second = try request(socket, "POST", "/v1/pause", body: #"{"targets": ["\#(target(ended))"], "for": "60s"}"#)
        let secondID = try #require((object(second.body)["lease"] as? [String: Any])?["id"] as? String)
        #expect(try request(socket, "DELETE", "/v1/leases/\(secondID)").status == 200)
        #expect(!ended.kernelFrozen)
        #expect(try request(socket, "DELETE", "/v1/leases/\(secondID)").status == 404)
    }

    @Test("a lease that cannot be recorded fails the request that asked for it: 500 naming the record, nothing paused, no lease held")
    func anUnrecordedLeaseFailsItsRequest() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let cgroup = try TestCgroup(.v2)
        defer { cgroup.destroy() }
        try cgroup.start("sleep 1000")
        let daemon = TestDaemon(in: scratch)
        defer { daemon.cleanUp() }
        try daemon.start()
        // The lease records' directory replaced by a file: every record's write fails (ENOTDIR).
        let leases = daemon.state + "/leases"
        try FileManager.default.removeItem(atPath: leases)
        try "".write(toFile: leases, atomically: false, encoding: .utf8)
        for body in [#"{"targets": ["\#(target(cgroup))"], "for": "60s"}"#, #"{"targets": ["\#(target(cgroup))"], "hold": true}"#] {
            let answer = try request(daemon.socket, "POST", "/v1/pause", body: body)
            #expect(answer.status == 500 && answer.body.contains("the lease cannot be recorded, so nothing was paused")
                    && answer.body.contains(leases), "\(answer.body)")
            #expect(!cgroup.kernelFrozen, "paused without a lease record: \(body)")
        }
        #expect(try request(daemon.socket, "GET", "/v1/leases").body.trimmingCharacters(in: .whitespacesAndNewlines) == "[]")
        // Without a lease the same pause is done.
        #expect(try request(daemon.socket, "POST", "/v1/pause", body: #"{"targets": ["\#(target(cgroup))"]}"#).status == 200)
        #expect(cgroup.kernelFrozen)
        #expect(try request(daemon.socket, "POST", "/v1/unpause", body: #"{"targets": ["\#(target(cgroup))"]}"#).status == 200)
        #expect(!cgroup.kernelFrozen)
        #expect(daemon.stop(SIGTERM)?.exited == true)
        try answers.check()
    }

    @Test("a lease binds to what it froze: its cgroup removed and made again under the same name, frozen by someone else, is left frozen at expiry (audit dropped, event lease ended target-replaced); the same at reconcile after SIGKILL, where an untouched lease is kept")
    func leaseBindsToIdentity() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let daemon = TestDaemon(in: scratch)
        defer { daemon.cleanUp() }
        try daemon.start()
        let (socket, state, auditLog) = (daemon.socket, daemon.state, daemon.auditLog)
        let names = (0..<3).map { "freezectl-test-\(getpid())-identity-\($0)" }
        var made: [TestCgroup] = []
        defer { made.forEach { $0.destroy() } }
        func cgroup(_ index: Int) throws -> TestCgroup {
            let cgroup = try TestCgroup(.v2, name: names[index])
            made.append(cgroup)
            try cgroup.start("sleep 1000")
            return cgroup
        }
        /// The cgroup emptied and removed, and a new one made under its name, with other processes,
        /// frozen by someone else.
        func replace(_ old: TestCgroup, _ index: Int) throws -> TestCgroup {
            old.destroy()
            let new = try cgroup(index)
            try new.write("1", "cgroup.freeze")
            try #require(eventually(seconds: 5) { new.kernelFrozen })
            return new
        }

        // At expiry.
        let first = try cgroup(0)
        let timed = try leaseID(try request(socket, "POST", "/v1/pause", body: #"{"targets": ["cgroup:/\#(names[0])"], "for": "3s"}"#))
        #expect(first.kernelFrozen)
        let stranger = try replace(first, 0)
        usleep(4_000_000)
        #expect(stranger.kernelFrozen && stranger.selfFrozen, "the lease thawed a cgroup it did not freeze")
        try checkDropped(timed, target: "cgroup:/\(names[0])", daemon: daemon)
        try stranger.write("0", "cgroup.freeze")

        // At reconcile: the daemon killed, one lease's cgroup replaced while it is down, the other not.
        let second = try cgroup(1)
        let kept = try cgroup(2)
        let replacedID = try leaseID(try request(socket, "POST", "/v1/pause", body: #"{"targets": ["cgroup:/\#(names[1])"], "for": "60s"}"#))
        let keptID = try leaseID(try request(socket, "POST", "/v1/pause", body: #"{"targets": ["cgroup:/\#(names[2])"], "for": "60s"}"#))
        daemon.stop(SIGKILL)
        let stranger2 = try replace(second, 1)
        try daemon.start()
        let held = try request(socket, "GET", "/v1/leases").body
        #expect(held.contains(keptID) && !held.contains(replacedID), "\(held)")
        #expect(!FileManager.default.fileExists(atPath: "\(state)/leases/\(replacedID).json"))
        #expect(stranger2.kernelFrozen && kept.kernelFrozen)
        #expect(auditRecords(auditLog).contains { $0["lease"] as? String == replacedID && $0["result"] as? String == "dropped" })
        let events2 = try leaseEventsSoFar(socket)
        #expect(events2.contains { $0["lease"] as? String == replacedID && $0["result"] as? String == "target-replaced" }, "\(events2)")
        // The lease that still holds its own cgroup ends as usual, thawing it.
        #expect(try request(socket, "DELETE", "/v1/leases/\(keptID)").status == 200)
        #expect(!kept.kernelFrozen)
        #expect(stranger2.kernelFrozen, "still the stranger's")
        try stranger2.write("0", "cgroup.freeze")
        #expect(daemon.stop(SIGTERM)?.exited == true)
        try answers.check()
    }

    /// A lease whose only target was replaced: its record gone, none held, its thaw audited as
    /// dropped and its end announced as target-replaced.
    func checkDropped(_ lease: String, target: String, daemon: TestDaemon) throws {
        let (socket, state, auditLog) = (daemon.socket, daemon.state, daemon.auditLog)
        #expect(eventually(seconds: 3) { !FileManager.default.fileExists(atPath: "\(state)/leases/\(lease).json") })
        #expect(try request(socket, "GET", "/v1/leases").body.trimmingCharacters(in: .whitespacesAndNewlines) == "[]")
        let dropped = auditRecords(auditLog).filter { $0["lease"] as? String == lease && $0["action"] as? String == "unpause" }
        #expect(dropped.count == 1 && dropped.first?["result"] as? String == "dropped"
                && (dropped.first?["message"] as? String)?.contains("target-replaced") == true, "\(dropped)")
        let events = try leaseEventsSoFar(socket)
        #expect(events.contains { $0["lease"] as? String == lease && $0["action"] as? String == "ended" && $0["result"] as? String == "target-replaced"
                                  && $0["target"] as? String == target }, "\(events)")
    }

    /// The ID of the lease an answer took.
    func leaseID(_ answer: (status: Int, body: String)) throws -> String {
        try #require((object(answer.body)["lease"] as? [String: Any])?["id"] as? String, "\(answer.body)")
    }

    /// The lease events so far: the events stream replayed from the start (its lines checked
    /// against the API's schema with the others).
    func leaseEventsSoFar(_ socket: String) throws -> [[String: Any]] {
        let replay = try run("/usr/bin/curl", ["-sN", "--max-time", "1", "--unix-socket", socket,
                                               "http://localhost/v1/events?since=0&filters=%7B%22type%22%3A%5B%22lease%22%5D%7D"])
        answers.add(method: "GET", path: "/v1/events", status: 200, contentType: "application/x-ndjson", body: replay.stdout)
        return lines(replay.stdout)
    }

    /// The JSON objects of a stream's lines so far.
    func lines(_ text: String) -> [[String: Any]] {
        text.split(separator: "\n").map { object(String($0)) }
    }

    @Test("events: runc pause behind the daemon's back and a direct write to a v2 cgroup it touched show up as state events; its own operations as operation events; since and filters; metrics count them; SIGTERM closes open streams")
    func eventsAndMetrics() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let runc = try RuncContainers()
        defer { runc.destroy() }
        try runc.run("web", annotations: ["tier": "web"])
        let cgroup = try TestCgroup(.v2)
        defer { cgroup.destroy() }
        try cgroup.start("sleep 1000")
        let socket = scratch.path + "/freezectl.sock"
        let daemon = try BackgroundProcess(Self.binary, ["--socket", socket, "--state-dir", scratch.path + "/state", "--runtime-root", runc.root])
        defer { if daemon.process.isRunning { daemon.signal(SIGKILL); _ = daemon.wait(seconds: 5) } }
        #expect(eventually(seconds: 20) { FileManager.default.fileExists(atPath: socket) })
        let url = "http://localhost/v1/events?filters=%7B%22type%22%3A%5B%22state%22%5D%7D"  // {"type":["state"]}
        let stream = try BackgroundProcess("/usr/bin/curl", ["-sN", "--unix-socket", socket, url])
        defer { if stream.process.isRunning { stream.signal(SIGKILL); _ = stream.wait(seconds: 5) } }
        // The watcher lists the sources when it starts; give it that moment.
        usleep(1_500_000)

        // runc keeps no state: its pause is a write the daemon did not make.
        #expect(try runc.runc("pause", "web").status == 0)
        #expect(eventually(seconds: 3) { lines(stream.stdoutSoFar).contains { $0["action"] as? String == "frozen" && $0["name"] as? String == "web" } },
                "\(stream.stdoutSoFar)")
        let frozen = lines(stream.stdoutSoFar).first { $0["action"] as? String == "frozen" }
        #expect(frozen?["type"] as? String == "state" && frozen?["source"] as? String == "runc" && (frozen?["labels"] as? [String: String])?["tier"] == "web")
        #expect(try runc.runc("resume", "web").status == 0)
        #expect(eventually(seconds: 3) { lines(stream.stdoutSoFar).contains { $0["action"] as? String == "thawed" && $0["name"] as? String == "web" } })

        // A cgroup the daemon touched is watched on the kernel's notifications; its own change is an operation, not a state event.
        #expect(try request(socket, "POST", "/v1/pause", body: #"{"targets": ["cgroup:\#(cgroup.relativePath)"]}"#).status == 200)
        #expect(try request(socket, "POST", "/v1/unpause", body: #"{"targets": ["cgroup:\#(cgroup.relativePath)"]}"#).status == 200)
        usleep(1_200_000)
        #expect(!lines(stream.stdoutSoFar).contains { ($0["cgroup"] as? String)?.hasSuffix(cgroup.relativePath) == true }, "\(stream.stdoutSoFar)")
        try "1".write(toFile: cgroup.path + "/cgroup.freeze", atomically: false, encoding: .utf8)
        #expect(eventually(seconds: 2) { lines(stream.stdoutSoFar).contains { $0["action"] as? String == "frozen" && ($0["cgroup"] as? String)?.hasSuffix(cgroup.relativePath) == true } },
                "\(stream.stdoutSoFar)")
        try "0".write(toFile: cgroup.path + "/cgroup.freeze", atomically: false, encoding: .utf8)

        // since=0 replays what is kept: the daemon's operations, with who asked.
        let replay = try run("/usr/bin/curl", ["-sN", "--max-time", "1", "--unix-socket", socket,
                                               "http://localhost/v1/events?since=0&filters=%7B%22type%22%3A%5B%22operation%22%5D%7D"])
        let operations = lines(replay.stdout)
        #expect(operations.map { $0["action"] as? String } == ["pause", "unpause"], "\(replay.stdout)")
        #expect((operations.first?["requester"] as? [String: Any])?["uid"] as? Int == 0)
        #expect(try request(socket, "GET", "/v1/events?filters=%7B%22colour%22%3A%5B%5D%7D").status == 400)

        let metrics = try request(socket, "GET", "/metrics")
        #expect(metrics.status == 200)
        #expect(metrics.body.contains(#"freezectl_operations_total{action="pause",result="ok"} 1"#), "\(metrics.body)")
        #expect(metrics.body.contains("freezectl_operation_duration_seconds_bucket") && metrics.body.contains("freezectl_leases_active 0"))

        // SIGTERM with a stream open: the stream ends, the daemon exits.
        daemon.signal(SIGTERM)
        #expect(daemon.wait(seconds: 10).exited)
        let streamed = stream.wait(seconds: 5)
        #expect(streamed.exited)
        answers.add(method: "GET", path: "/v1/events", status: 200, contentType: "application/x-ndjson", body: streamed.stdout)
        answers.add(method: "GET", path: "/v1/events", status: 200, contentType: "application/x-ndjson", body: replay.stdout)
        try answers.check()
    }

    @Test("the CLI as a client: --host and FREEZECTL_HOST print the same table and JSON with the same exit codes; a policy refusal is exit 1 naming the rule; --for thaws at expiry; a --hold through the daemon survives freezectl's SIGKILL; --hold directly runs COMMAND frozen and exits with its status; --for without a daemon is exit 2")
    func cliAsClient() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let cgroup = try TestCgroup(.v2)
        defer { cgroup.destroy() }
        try cgroup.start("sleep 1000")
        let socket = scratch.path + "/freezectl.sock"
        let host = "unix://" + socket
        let daemon = try BackgroundProcess(Self.binary, ["--socket", socket, "--state-dir", scratch.path + "/state", "--socket-group", "65534"])
        defer { if daemon.process.isRunning { daemon.signal(SIGKILL); _ = daemon.wait(seconds: 5) } }
        #expect(eventually(seconds: 20) { ((try? FileManager.default.attributesOfItem(atPath: socket)[.posixPermissions]) as? Int) == 0o660 })
        let target = "cgroup:\(cgroup.relativePath)"

        let paused = try freezectl("--host", host, "pause", target)
        #expect(paused.status == 0 && paused.stdout.contains("RESULT") && paused.stdout.contains("frozen"), "\(paused.stderr)")
        #expect(cgroup.kernelFrozen)
        let status = try freezectl("status", target, "--format", "json", environment: ["FREEZECTL_HOST": host])
        #expect(status.status == 0 && status.jsonLines.first?["state"] as? String == "frozen", "\(status.stdout)\(status.stderr)")
        let unpaused = try freezectl("unpause", target, "/nonexistent", "--format", "json", environment: ["FREEZECTL_HOST": host])
        #expect(unpaused.status == 2, "a missing target is bad input, as without --host: \(unpaused.stderr)")
        #expect(unpaused.jsonLines.first?["state"] as? String == "thawed" && !cgroup.kernelFrozen)
        #expect(try freezectl("--host", host, "pause", "bad!").status == 2)

        // nobody is named by no rule: refused, exit 1, and told which rule would allow it.
        let refused = try freezectl("--host", host, "pause", target, user: (65534, 65534))
        #expect(refused.status == 1 && refused.stderr.contains("[[rule]]") && refused.stderr.contains(cgroup.relativePath), "\(refused.stderr)")
        #expect(!cgroup.selfFrozen)

        // --for: the daemon thaws at expiry; JSON gets a lease line.
        let leased = try freezectl("--host", host, "pause", "--for", "1s", target, "--format", "json")
        #expect(leased.status == 0 && leased.jsonLines.contains { $0["lease"] != nil }, "\(leased.stdout)")
        #expect(cgroup.kernelFrozen)
        #expect(eventually(seconds: 3) { !cgroup.kernelFrozen })

        // --hold through the daemon: freezectl killed with SIGKILL, the daemon thaws.
        // COMMAND outlives the killed freezectl: a unique sleep, found and killed at the end.
        let sleep = ["/bin/sleep", "100.\(Int.random(in: 100_000...999_999))"]
        let holder = try BackgroundProcess(freezectlBinary, ["--host", host, "pause", "--hold", target, "--"] + sleep)
        defer { for pid in processes(withCommandLine: sleep) { kill(pid, SIGKILL) } }
        #expect(eventually(seconds: 10) { cgroup.kernelFrozen })
        holder.signal(SIGKILL)
        _ = holder.wait(seconds: 5)
        #expect(eventually(seconds: 2) { !cgroup.kernelFrozen }, "the hold ends with its holder")

        try checkWithoutTheDaemon(target: target, cgroup: cgroup, scratch: scratch)
        daemon.signal(SIGTERM)
        #expect(daemon.wait(seconds: 10).exited)
    }

    /// --hold directly runs COMMAND while the cgroup is frozen and exits with its status; --for
    /// cannot be kept without a daemon (exit 2); a --host nobody answers is exit 1.
    func checkWithoutTheDaemon(target: String, cgroup: TestCgroup, scratch: ScratchDirectory) throws {
        // --hold directly: COMMAND runs while the cgroup is frozen; its status is freezectl's.
        let direct = try freezectl("pause", "--hold", target, "--", "/bin/sh", "-c", "grep -qx 1 \(cgroup.path)/cgroup.freeze && exit 7")
        #expect(direct.status == 7, "\(direct.stdout)\(direct.stderr)")
        #expect(!cgroup.kernelFrozen)
        #expect(try freezectl("pause", "--hold", target).status == 2, "--hold needs a command")

        // No daemon named and none on the default socket: --for cannot be kept.
        if !FileManager.default.fileExists(atPath: "/run/freezectl/freezectl.sock") {
            let noDaemon = try freezectl("pause", "--for", "5s", target)
            #expect(noDaemon.status == 2 && noDaemon.stderr.contains("freezectld"), "\(noDaemon.stderr)")
            #expect(!cgroup.selfFrozen)
        }
        let unreachable = try freezectl("--host", "unix://\(scratch.path)/none.sock", "pause", target)
        #expect(unreachable.status == 1 && unreachable.stderr.contains("cannot be reached"), "\(unreachable.stderr)")
    }
}

/// Answers of the daemon, checked against docs/api.yaml by scripts/check-api-answers.py: the
/// status documented for the operation, the body matching its schema, no undocumented field.
final class AnswerLog: @unchecked Sendable {
    private var lines: [String] = []

    func add(method: String, path: String, status: Int, contentType: String, body: String) {
        let record: [String: Any] = ["method": method, "path": path, "status": status, "content_type": contentType, "body": body]
        if let data = try? JSONSerialization.data(withJSONObject: record) { lines.append(String(decoding: data, as: UTF8.self)) }
    }

    func check() throws {
        #expect(!lines.isEmpty, "no answer recorded")
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let input = scratch.path + "/answers.jsonl"
        try lines.joined(separator: "\n").write(toFile: input, atomically: true, encoding: .utf8)
        let result = try run("/bin/sh", ["-c", "/usr/bin/python3 \"$0\" \"$1\" < \"$2\"",
                                         repositoryRoot + "/scripts/check-api-answers.py", repositoryRoot + "/docs/api.yaml", input])
        #expect(result.status == 0, "answers that docs/api.yaml does not describe:\n\(result.stdout)\(result.stderr)")
    }
}
