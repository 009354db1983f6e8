import CgroupFreezer
import Foundation
import Testing

@Suite("runc and crun containers, filters, batches", .serialized, .hostUnchanged)
struct ContainerTests {
    @Test("pause by label: runc list agrees; runc pause is seen by status; --all mixes paused and running")
    func runcPauseByLabel() throws {
        let runc = try RuncContainers()
        defer { runc.destroy() }
        try runc.run("web-a", annotations: ["auto_resume": "true", "tier": "web"])
        try runc.run("web-b", annotations: ["auto_resume": "true"])
        try runc.run("db", annotations: ["tier": "db"])

        let pause = try freezectl("pause", "--runtime-root", runc.root, "--filter", "label=auto_resume=true", "--format", "json")
        #expect(pause.status == 0, "\(pause.stderr)")
        #expect(Set(pause.jsonLines.compactMap { $0["name"] as? String }) == ["web-a", "web-b"])
        #expect(pause.jsonLines.allSatisfy { $0["result"] as? String == "ok" && $0["backend"] as? String == "v1" })
        #expect(try runc.list() == ["web-a": "paused", "web-b": "paused", "db": "running"])

        // runc keeps no pause state: what it writes, we read.
        #expect(try runc.runc("pause", "db").status == 0)
        let status = try freezectl("status", "--runtime-root", runc.root, "db", "--format", "json")
        #expect(status.jsonLines.first?["state"] as? String == "frozen")
        #expect(status.jsonLines.first?["labels"] as? [String: String] == ["tier": "db"])

        // --all: web-a stays paused, db and web-b were paused: unpause them all.
        #expect(try runc.runc("resume", "web-b").status == 0)
        let all = try freezectl("unpause", "--runtime-root", runc.root, "--all", "--format", "json")
        #expect(all.status == 0, "\(all.stderr)")
        let results = Dictionary(uniqueKeysWithValues: all.jsonLines.map { ($0["name"] as? String ?? "?", $0["result"] as? String ?? "?") })
        #expect(results == ["web-a": "ok", "web-b": "already", "db": "ok"])
        #expect(try runc.list() == ["web-a": "running", "web-b": "running", "db": "running"])

        let table = try freezectl("status", "--runtime-root", runc.root, "-a")
        #expect(table.stdout.contains("SOURCE") && table.stdout.contains("MEM%") && table.stdout.contains("tier=web"))
    }

    @Test("a freeze whose cgroup.procs cannot be read afterwards is kept: the container was not emptied, only unreadable (runc list says paused, the result is ok)")
    func unreadableMembersKeepTheFreeze() throws {
        let runc = try RuncContainers()
        defer { runc.destroy() }
        try runc.run("sealed")
        let status = try freezectl("status", "--runtime-root", runc.root, "runc:sealed", "--format", "json")
        let cgroup = try #require(status.jsonLines.first?["cgroup"] as? String, "\(status.stdout)")
        // freezectl as root without CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH: root's freezer.state
        // (0644) is written as before, the cgroup.procs made unreadable cannot be read (EACCES).
        let procs = cgroup + "/cgroup.procs"
        #expect(chmod(procs, 0) == 0)
        defer { chmod(procs, 0o644) }
        let paused = try run("/usr/bin/setpriv", ["--bounding-set", "-dac_override,-dac_read_search", "--inh-caps", "-dac_override,-dac_read_search",
                                                  freezectlBinary, "pause", "--runtime-root", runc.root, "runc:sealed", "--format", "json"])
        #expect(paused.status == 0, "\(paused.stdout) \(paused.stderr)")
        #expect(paused.jsonLines.first?["result"] as? String == "ok", "\(paused.stdout)")
        #expect(try runc.list() == ["sealed": "paused"])
        #expect(chmod(procs, 0o644) == 0)
        #expect(try freezectl("unpause", "--runtime-root", runc.root, "runc:sealed").status == 0)
        #expect(try runc.list() == ["sealed": "running"])
    }

    @Test("an empty selection is not an error")
    func emptySelection() throws {
        let runc = try RuncContainers()
        defer { runc.destroy() }
        try runc.run("lonely")
        let result = try freezectl("unpause", "--runtime-root", runc.root, "--all", "--filter", "label=nobody-has-this")
        #expect(result.status == 0)
        #expect(result.stdout.contains("no containers matched"))
        #expect(try runc.list() == ["lonely": "running"])
    }

    @Test("ID prefixes, ambiguous and unknown references")
    func references() throws {
        let runc = try RuncContainers()
        defer { runc.destroy() }
        try runc.run("amb-one")
        try runc.run("amb-two")

        let prefix = try freezectl("pause", "--runtime-root", runc.root, "amb-o")
        #expect(prefix.status == 0, "\(prefix.stderr)")
        #expect(try runc.list()["amb-one"] == "paused")
        #expect(try freezectl("unpause", "--runtime-root", runc.root, "runc:amb-one").status == 0)

        let ambiguous = try freezectl("pause", "--runtime-root", runc.root, "amb")
        #expect(ambiguous.status == 2)
        #expect(ambiguous.stderr.contains("matches more than one container"))
        #expect(ambiguous.stderr.contains("runc:amb-one") && ambiguous.stderr.contains("runc:amb-two"))

        let unknown = try freezectl("pause", "--runtime-root", runc.root, "runc:no-such-thing")
        #expect(unknown.status == 2)
        #expect(unknown.stderr.contains("runc:no-such-thing: no such container"))
        #expect(try runc.list() == ["amb-one": "running", "amb-two": "running"])
    }

    @Test("--atomic: when one target fails, what this call paused is thawed again")
    func atomicPauseRollsBack() throws {
        let runc = try RuncContainers()
        defer { runc.destroy() }
        try runc.run("atom-a")
        try runc.run("atom-b")
        // The third target is the cgroup freezectl itself runs in: refused at run time.
        let own = try TestCgroup(.v1)
        defer { own.destroy() }
        let command = "echo $$ > \(own.file("cgroup.procs")) && exec \(freezectlBinary) pause --atomic --runtime-root \(runc.root) runc:atom-a runc:atom-b \(own.path) --format json"
        let result = try run("/bin/sh", ["-c", command])
        #expect(result.status == 1, "\(result.stderr)")
        #expect(result.jsonLines.map { $0["result"] as? String } == ["rolled-back", "rolled-back", "error"])
        #expect(result.jsonLines.prefix(2).allSatisfy { $0["state"] as? String == "thawed" })
        #expect(try runc.list() == ["atom-a": "running", "atom-b": "running"])
        #expect(!own.selfFrozen)
    }

    @Test("unpause --atomic: when one target stays frozen, what this call thawed is frozen again")
    func atomicUnpauseRollsBack() throws {
        let runc = try RuncContainers()
        defer { runc.destroy() }
        try runc.run("thaw-a")
        #expect(try runc.runc("pause", "thaw-a").status == 0)
        let parent = try TestCgroup(.v2)
        defer { parent.destroy() }
        let child = try parent.child("child")
        try child.start("sleep 1000")
        try parent.write("1", "cgroup.freeze")

        let result = try freezectl("unpause", "--atomic", "--runtime-root", runc.root, "runc:thaw-a", child.path, "--format", "json")
        #expect(result.status == 1)
        #expect(result.jsonLines.map { $0["result"] as? String } == ["rolled-back", "error"])
        #expect((result.jsonLines.last?["error"] as? [String: Any])?["code"] as? String == "frozen-by-parent")
        #expect(try runc.list()["thaw-a"] == "paused")
    }

    @Test("a runc container that belongs to an engine is not frozen behind its back without --direct")
    func engineOwnedRuncContainer() throws {
        let runc = try RuncContainers()
        defer { runc.destroy() }
        try runc.run("podman-like", annotations: ["io.container.manager": "libpod"])
        let refused = try freezectl("pause", "--runtime-root", runc.root, "runc:podman-like", "--format", "json")
        #expect(refused.status == 2)
        #expect((refused.jsonLines.first?["error"] as? [String: Any])?["code"] as? String == "owned-by-engine")
        #expect(refused.stderr.contains("belongs to podman"))
        #expect(try runc.list()["podman-like"] == "running")

        let direct = try freezectl("pause", "--direct", "--runtime-root", runc.root, "runc:podman-like")
        #expect(direct.status == 0)
        #expect(direct.stderr.contains("podman's view is now stale"))
        #expect(try runc.list()["podman-like"] == "paused")
        #expect(try freezectl("unpause", "--direct", "--runtime-root", runc.root, "runc:podman-like").status == 0)

        // A batch warns once, naming a few targets, not once per container; JSON keeps it per target.
        for index in 2...5 { try runc.run("podman-\(index)", annotations: ["io.container.manager": "libpod"]) }
        let batch = try freezectl("pause", "--direct", "--runtime-root", runc.root, "--filter", "label=io.container.manager=libpod",
                                  "--format", "json")
        #expect(batch.status == 0)
        let warnings = batch.stderr.split(separator: "\n").filter { $0.contains("stale") }
        #expect(warnings.count == 1 && warnings.first?.contains("and 2 more") == true, "\(batch.stderr)")
        #expect(batch.jsonLines.count == 5 && batch.jsonLines.allSatisfy { ($0["warnings"] as? [String])?.count == 1 })
        #expect(try runc.list().values.allSatisfy { $0 == "paused" })
        #expect(try freezectl("unpause", "--direct", "--runtime-root", runc.root, "--filter", "label=io.container.manager=libpod").status == 0)
    }

    @Test("crun containers are found through crun's state files")
    func crunStateDirectory() throws {
        // crun 1.8 refuses to run on this hybrid host ("cgroups in hybrid mode not supported"), so
        // the state directory crun would write (status + config.json) is made for a real process
        // tree in a real cgroup; freezectl reads it as it reads crun's.
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let cgroup = try TestCgroup(.v2)
        defer { cgroup.destroy() }
        let pid = try cgroup.start("sleep 1000 & wait")
        let startTime = try procStartTime(pid)
        let state = scratch.path + "/crun/cr1"
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
        try """
        {"pid": \(pid), "process-start-time": \(startTime), "cgroup-path": "\(cgroup.relativePath)", "scope": "",
         "rootfs": "rootfs", "systemd-cgroup": false, "bundle": "\(scratch.path)", "created": "2026-11-21T00:00:00Z",
         "owner": "root", "detached": true}
        """.write(toFile: state + "/status", atomically: true, encoding: .utf8)
        try #"{"ociVersion": "1.0.0", "annotations": {"tier": "batch"}}"#.write(toFile: state + "/config.json", atomically: true, encoding: .utf8)

        let pause = try freezectl("pause", "--runtime-root", scratch.path + "/crun", "--filter", "label=tier=batch", "--format", "json")
        #expect(pause.status == 0, "\(pause.stderr)")
        #expect(pause.jsonLines.first?["source"] as? String == "crun")
        #expect(pause.jsonLines.first?["cgroup"] as? String == cgroup.path)
        #expect(cgroup.kernelFrozen)
        #expect(try freezectl("unpause", "--runtime-root", scratch.path + "/crun", "crun:cr1").status == 0)
        #expect(!cgroup.kernelFrozen)
    }

    @Test("malformed filters are usage errors that list the valid keys", arguments: [
        "label==x", "status=weird", "memory-below=abc", "memory-above=120%", "colour=red", "name", "runtime=rkt",
    ])
    func malformedFilters(_ filter: String) throws {
        let result = try freezectl("pause", "--all", "--filter", filter)
        #expect(result.status == 2)
        #expect(result.stderr.contains("invalid filter \"\(filter)\""), "\(result.stderr)")
        #expect(result.stderr.contains("label, status, runtime, name, id, memory-below, memory-above"))
    }

    @Test("a missing Docker socket is skipped by --all and an error when named")
    func dockerSocketMissingOrNotASocket() throws {
        let runc = try RuncContainers()
        defer { runc.destroy() }
        try runc.run("solo")
        let missing = ["DOCKER_HOST": "unix:///tmp/freezectl-no-such-docker.sock"]
        let all = try freezectl("status", "--all", "--runtime-root", runc.root, "--format", "json", environment: missing)
        #expect(all.status == 0, "\(all.stderr)")
        #expect(all.jsonLines.map { $0["name"] as? String } == ["solo"])

        let named = try freezectl("pause", "docker:web", environment: missing)
        #expect(named.status == 2)
        #expect(named.stderr.contains("/tmp/freezectl-no-such-docker.sock") && named.stderr.contains("no such socket"))
        #expect(named.stderr.contains("DOCKER_HOST"))

        let notSocket = try freezectl("pause", "docker:web", environment: ["DOCKER_HOST": "unix:///etc/hostname"])
        #expect(notSocket.status == 2)
        #expect(notSocket.stderr.contains("/etc/hostname") && notSocket.stderr.contains("not a socket"))
    }
}
