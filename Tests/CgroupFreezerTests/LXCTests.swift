import Foundation
import Testing

/// LXC 5 containers made offline from the busybox template in root's lxcpath, under names no
/// other test or user has (`fz-lxc-PID-N`). `destroy()` stops and destroys them, and removes the
/// `lxc.pivot` cgroups LXC leaves at the top of every hierarchy after a start, where the test
/// made them (the host must be left as found).
final class LXCContainers: @unchecked Sendable {
    private(set) var names: [String] = []
    private let pivotsBefore: Set<String>
    private let config: String

    init() throws {
        _ = try #require(which("lxc-create"), "LXC is needed (apt-get install lxc)")
        pivotsBefore = Self.pivots()
        config = NSTemporaryDirectory() + "fz-lxc-\(getpid())-\(UInt64.random(in: 0...UInt64.max)).conf"
        try "lxc.net.0.type = empty\n".write(toFile: config, atomically: false, encoding: .utf8)
    }

    /// Creates and starts a container; `labels` become `# freezectl.label.K = V` lines of its config.
    @discardableResult
    func start(labels: [String: String] = [:]) throws -> String {
        let name = "fz-lxc-\(getpid())-\(names.count)"
        names.append(name)
        let created = try run("/usr/bin/lxc-create", ["-n", name, "-t", "busybox", "-f", config])
        try #require(created.status == 0, "lxc-create: \(created.stderr)")
        let path = "/var/lib/lxc/\(name)/config"
        let lines = labels.sorted { $0.key < $1.key }.map { "# freezectl.label.\($0.key) = \($0.value)\n" }.joined()
        let handle = try #require(FileHandle(forWritingAtPath: path))
        handle.seekToEndOfFile()
        handle.write(Data(lines.utf8))
        handle.closeFile()
        let started = try run("/usr/bin/lxc-start", ["-n", name, "-d"])
        try #require(started.status == 0, "lxc-start: \(started.stderr)")
        for _ in 0..<100 where try state(name) != "RUNNING" { usleep(20_000) }
        return name
    }

    /// What `lxc-info -s` says: RUNNING, FROZEN, STOPPED.
    func state(_ name: String) throws -> String {
        let info = try run("/usr/bin/lxc-info", ["-n", name, "-s"])
        return info.stdout.split(separator: ":").last.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) } ?? ""
    }

    /// The container's v1 freezer state, read from the kernel.
    func freezerState(_ name: String) -> String {
        ((try? String(contentsOfFile: "/sys/fs/cgroup/freezer/lxc.payload.\(name)/freezer.state", encoding: .utf8)) ?? "")
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func stop(_ name: String) throws {
        _ = try run("/usr/bin/lxc-stop", ["-n", name, "-k"])
    }

    func destroy() {
        for name in names {
            // A container left frozen by a failed test is thawed first: lxc-stop cannot kill it otherwise.
            _ = try? run("/usr/bin/lxc-unfreeze", ["-n", name])
            try? "THAWED".write(toFile: "/sys/fs/cgroup/freezer/lxc.payload.\(name)/freezer.state", atomically: false, encoding: .utf8)
            _ = try? run("/usr/bin/lxc-stop", ["-n", name, "-k"])
            _ = try? run("/usr/bin/lxc-destroy", ["-n", name])
        }
        try? FileManager.default.removeItem(atPath: config)
        for pivot in Self.pivots().subtracting(pivotsBefore) { rmdir(pivot) }
    }

    /// The `lxc.pivot` cgroups at the top of the hierarchies.
    private static func pivots() -> Set<String> {
        let tops = ((try? FileManager.default.contentsOfDirectory(atPath: "/sys/fs/cgroup")) ?? []).map { "/sys/fs/cgroup/" + $0 }
        return Set((["/sys/fs/cgroup"] + tops).map { $0 + "/lxc.pivot" }.filter { FileManager.default.fileExists(atPath: $0) })
    }
}

@Suite("LXC containers through LXC's own tools", .serialized, .hostUnchanged)
struct LXCTests {
    @Test("lxc:NAME pauses through lxc-freeze and lxc-info agrees after every operation; --all and --filter label select LXC's containers")
    func pauseThroughLXC() throws {
        let lxc = try LXCContainers()
        defer { lxc.destroy() }
        // Every container of this run carries `run`: --all selects only this test's containers.
        let run = "fzrun=\(getpid())"
        let web = try lxc.start(labels: ["auto_resume": "true", "tier": "web", "fzrun": "\(getpid())"])
        let db = try lxc.start(labels: ["tier": "db", "fzrun": "\(getpid())"])

        let pause = try freezectl("pause", "lxc:\(web)", "--format", "json")
        #expect(pause.status == 0, "\(pause.stderr)")
        #expect(pause.jsonLines.first?["backend"] as? String == "lxc")
        #expect(pause.jsonLines.first?["state"] as? String == "frozen")
        #expect(try lxc.state(web) == "FROZEN")
        #expect(lxc.freezerState(web) == "FROZEN")
        #expect(try lxc.state(db) == "RUNNING")

        let status = try freezectl("status", "--all", "--filter", "runtime=lxc", "--filter", "label=\(run)", "--format", "json")
        #expect(status.status == 0, "\(status.stderr)")
        let byName = Dictionary(status.jsonLines.compactMap { line in (line["name"] as? String).map { ($0, line) } }) { first, _ in first }
        #expect(byName[web]?["state"] as? String == "frozen")
        #expect(byName[web]?["engine_state"] as? String == "paused")
        #expect((byName[web]?["labels"] as? [String: String])?["tier"] == "web")
        #expect(byName[db]?["state"] as? String == "thawed")

        let unpause = try freezectl("unpause", "--filter", "label=auto_resume=true", "--format", "json")
        #expect(unpause.status == 0, "\(unpause.stderr)")
        #expect(unpause.jsonLines.map { $0["name"] as? String } == [web])
        #expect(try lxc.state(web) == "RUNNING")
        #expect(lxc.freezerState(web) == "THAWED")

        let all = try freezectl("pause", "--all", "--filter", "runtime=lxc", "--filter", "label=\(run)", "--format", "json")
        #expect(all.status == 0, "\(all.stderr)")
        #expect(Set(all.jsonLines.compactMap { $0["name"] as? String }) == [web, db])
        #expect(try lxc.state(web) == "FROZEN")
        #expect(try lxc.state(db) == "FROZEN")
        let thawAll = try freezectl("unpause", "--all", "--filter", "runtime=lxc", "--filter", "label=\(run)")
        #expect(thawAll.status == 0, "\(thawAll.stderr)")
        #expect(try lxc.state(web) == "RUNNING")
        #expect(try lxc.state(db) == "RUNNING")
    }

    @Test("--direct writes the freezer behind LXC's back: a warning, drift in status, the LXC route refused until --direct undoes it")
    func directShowsDrift() throws {
        let lxc = try LXCContainers()
        defer { lxc.destroy() }
        let name = try lxc.start()

        let direct = try freezectl("pause", "--direct", "lxc:\(name)", "--format", "json")
        #expect(direct.status == 0, "\(direct.stderr)")
        #expect(direct.stderr.contains("stale"))
        #expect(direct.jsonLines.first?["backend"] as? String == "v1")
        #expect(lxc.freezerState(name) == "FROZEN")
        // LXC's monitor keeps its own state: it did not see the write.
        #expect(try lxc.state(name) == "RUNNING")
        let status = try freezectl("status", "lxc:\(name)", "--format", "json")
        let line = try #require(status.jsonLines.first)
        #expect(line["state"] as? String == "frozen")
        #expect(line["engine_state"] as? String == "running")
        #expect(line["drift"] as? Bool == true)

        let throughLXC = try freezectl("unpause", "lxc:\(name)")
        #expect(throughLXC.status == 1)
        #expect(throughLXC.stderr.contains("behind lxc's back"))
        #expect(lxc.freezerState(name) == "FROZEN")

        #expect(try freezectl("unpause", "--direct", "lxc:\(name)").status == 0)
        #expect(lxc.freezerState(name) == "THAWED")
        #expect(try lxc.state(name) == "RUNNING")
    }

    @Test("an lxc-freeze that does not finish in time is killed and undone: exit 1, the container runs, LXC and the freezer agree")
    func interruptedFreezeIsUndone() throws {
        let lxc = try LXCContainers()
        defer { lxc.destroy() }
        let name = try lxc.start()
        // 1 µs: lxc-freeze is killed before it does anything. 2 ms (it takes about that long here):
        // killed at any point of its work, or done; either way freezectl must leave the container
        // as LXC and the kernel then agree (a killed lxc-freeze can leave LXC's monitor at
        // FREEZING, where lxc-unfreeze alone does nothing).
        for timeout in ["1us"] + Array(repeating: "2ms", count: 8) {
            let pause = try freezectl("pause", "lxc:\(name)", "--timeout", timeout)
            if pause.status == 0 {
                #expect(lxc.freezerState(name) == "FROZEN")
                #expect(try lxc.state(name) == "FROZEN")
                let unpause = try freezectl("unpause", "lxc:\(name)")
                #expect(unpause.status == 0, "\(unpause.stderr)")
            } else {
                #expect(pause.status == 1, "\(pause.stderr)")
                #expect(pause.stderr.contains("lxc-unfreeze thawed the container again"), "\(pause.stderr)")
            }
            #expect(lxc.freezerState(name) == "THAWED", "after --timeout \(timeout)")
            #expect(try lxc.state(name) == "RUNNING", "after --timeout \(timeout)")
        }
    }

    @Test("a stopped LXC container is not running; an unknown name is no container; nothing is written")
    func stoppedAndUnknown() throws {
        let lxc = try LXCContainers()
        defer { lxc.destroy() }
        let name = try lxc.start()
        try lxc.stop(name)
        #expect(try lxc.state(name) == "STOPPED")

        let stopped = try freezectl("pause", "lxc:\(name)", "--format", "json")
        #expect(stopped.status == 1)
        #expect((stopped.jsonLines.first?["error"] as? [String: Any])?["code"] as? String == "container-not-running")
        #expect(try lxc.state(name) == "STOPPED")

        let unknown = try freezectl("pause", "lxc:fz-lxc-none-\(getpid())", "--format", "json")
        #expect(unknown.status == 2, "\(unknown.stderr)")
        #expect((unknown.jsonLines.first?["error"] as? [String: Any])?["code"] as? String == "no-such-container")
    }
}
