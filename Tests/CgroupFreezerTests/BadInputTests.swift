import CgroupFreezer
import Foundation
import Testing

/// A file's content and modification time, to show it was not touched.
private func fingerprint(_ path: String) -> String {
    let attributes = try? FileManager.default.attributesOfItem(atPath: path)
    let content = (try? String(contentsOfFile: path, encoding: .utf8)) ?? "<unreadable>"
    return "\(content)|\(String(describing: attributes?[.modificationDate]))"
}

@Suite("Bad input: a clear message, exit code 2, nothing written", .serialized, .hostUnchanged)
struct BadInputTests {
    @Test("a path that does not exist")
    func nonexistentPath() throws {
        let missing = "/sys/fs/cgroup/freezer/freezectl-test-nothing-\(getpid())"
        let result = try freezectl("pause", missing)
        #expect(result.status == 2)
        #expect(result.stderr.contains(missing) && result.stderr.contains("no such file"))
        #expect(result.stderr.contains("next step"))
        #expect(!FileManager.default.fileExists(atPath: missing))
    }

    @Test("/etc is refused before anything is written")
    func etcIsRefused() throws {
        let before = fingerprint("/etc")
        let result = try freezectl("pause", "/etc", "--format", "json")
        #expect(result.status == 2)
        #expect(result.stderr.contains("/etc is not on a cgroup filesystem"))
        #expect((result.jsonLines.first?["error"] as? [String: Any])?["code"] as? String == "not-cgroupfs")
        #expect(!FileManager.default.fileExists(atPath: "/etc/cgroup.freeze"))
        #expect(!FileManager.default.fileExists(atPath: "/etc/freezer.state"))
        #expect(fingerprint("/etc") == before)
    }

    @Test("a normal directory holding a file named cgroup.freeze, directly and through a symlink")
    func impostorDirectoryAndSymlink() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let impostor = scratch.path + "/impostor"
        try FileManager.default.createDirectory(atPath: impostor, withIntermediateDirectories: false)
        for name in ["cgroup.freeze", "cgroup.events", "freezer.state"] {
            try "0\n".write(toFile: impostor + "/" + name, atomically: false, encoding: .utf8)
        }
        let link = scratch.path + "/link"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: impostor)
        let before = fingerprint(impostor + "/cgroup.freeze")
        let beforeState = fingerprint(impostor + "/freezer.state")
        Thread.sleep(forTimeInterval: 0.02)

        for target in [impostor, link] {
            for verb in ["pause", "unpause"] {
                let result = try freezectl(verb, target)
                #expect(result.status == 2, "\(verb) \(target)")
                #expect(result.stderr.contains("not on a cgroup filesystem"), "\(result.stderr)")
            }
        }
        #expect(fingerprint(impostor + "/cgroup.freeze") == before)
        #expect(fingerprint(impostor + "/freezer.state") == beforeState)
    }

    @Test("a symlink out of cgroupfs to /etc")
    func symlinkToEtc() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let link = scratch.path + "/to-etc"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: "/etc")
        let result = try freezectl("pause", link)
        #expect(result.status == 2)
        #expect(result.stderr.contains(link) && result.stderr.contains("/etc"))
    }

    @Test("the root cgroup and a v1 hierarchy without the freezer")
    func rootAndNonFreezerHierarchy() throws {
        let layout = TestCgroup.layout
        for hierarchy in [layout.freezer, layout.unified].compactMap({ $0 }) {
            let result = try freezectl("pause", hierarchy.mountPoint.string)
            #expect(result.status == 2)
            #expect(result.stderr.contains("root cgroup"))
        }
        if let memory = layout.hierarchies.first(where: { $0.controllers == ["memory"] }) {
            let result = try freezectl("pause", memory.mountPoint.string)
            #expect(result.status == 2)
            #expect(result.stderr.contains("no freezer controller") || result.stderr.contains("root cgroup"))
        }
    }

    @Test("malformed targets and options are usage errors", arguments: [
        ["pause", "cgroup:/../../etc"],
        ["pause", "pid:0"],
        ["pause", "pid:abc"],
        ["pause", ""],
        ["unpause", "cgroup:relative"],
        ["status", "web!"],
    ])
    func malformedTargets(_ arguments: [String]) throws {
        let result = try run(freezectlBinary, arguments)
        #expect(result.status == 2)
        #expect(result.stderr.contains("\"\(arguments[1])\""), "the message names the input: \(result.stderr)")
        #expect(result.stdout.isEmpty)
    }

    @Test("a PID that does not exist")
    func missingPID() throws {
        var pid: Int32 = 4_000_000
        while FileManager.default.fileExists(atPath: "/proc/\(pid)") { pid += 1 }
        let result = try freezectl("pause", "pid:\(pid)")
        #expect(result.status == 2)
        #expect(result.stderr.contains("pid:\(pid): no such process"))
    }

    @Test("a bad --timeout leaves a valid target untouched", arguments: ["5x", "10", "-1s", "0s", "", "ms"])
    func badTimeout(_ value: String) throws {
        let cgroup = try TestCgroup(.v2)
        defer { cgroup.destroy() }
        let result = try freezectl("pause", cgroup.path, "--timeout", value)
        #expect(result.status == 2)
        #expect(result.stderr.contains("--timeout"))
        #expect(result.stderr.contains("500ms"), "the message shows valid forms")
        #expect(!cgroup.selfFrozen)
    }

    @Test("no target at all is a usage error")
    func noTarget() throws {
        let result = try freezectl("pause")
        #expect(result.status == 2)
        #expect(result.stderr.contains("Missing expected argument"))
    }

    @Test("a usage error found while the command runs (the health check's options, checked together) shows that command's usage, and nothing is thawed")
    func usageErrorWhileRunning() throws {
        let cgroup = try TestCgroup(.v1)
        defer { cgroup.destroy() }
        try cgroup.start("sleep 1000")
        try cgroup.write("FROZEN", "freezer.state")
        try #require(eventually { cgroup.kernelFrozen })
        let result = try freezectl("unpause", cgroup.path, "--health-http", "not-a-url")
        #expect(result.status == 2)
        #expect(result.stderr.contains("--health-http \"not-a-url\""), "\(result.stderr)")
        #expect(result.stderr.contains("Usage: freezectl unpause [<options>]") && !result.stderr.contains("<subcommand>"),
                "the command's usage, not the program's: \(result.stderr)")
        #expect(cgroup.kernelFrozen, "nothing done")
    }
}
