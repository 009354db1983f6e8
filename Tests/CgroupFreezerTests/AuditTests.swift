import CgroupFreezer
import Foundation
import Testing

/// Runs `script` with /bin/sh in a private mount namespace where a journald of its own listens
/// (tmpfs on /run/systemd, /run/log and /var/log/journal, so the host's journal is not touched).
private func withPrivateJournald(_ script: String) throws -> CLIResult {
    let journald = "/lib/systemd/systemd-journald"
    try #require(FileManager.default.isExecutableFile(atPath: journald), "systemd-journald is needed")
    let wrapper = """
    set -e
    mount -t tmpfs tmpfs /run/systemd
    mount -t tmpfs tmpfs /run/log
    [ -d /var/log/journal ] && mount -t tmpfs tmpfs /var/log/journal
    \(journald) </dev/null >/dev/null 2>&1 &
    J=$!
    trap 'kill $J; wait $J' EXIT
    for i in $(seq 100); do [ -S /run/systemd/journal/socket ] && break; sleep 0.05; done
    set +e
    \(script)
    """
    return try run("/usr/bin/unshare", ["--mount", "--propagation", "private", "/bin/sh", "-c", wrapper])
}

@Suite("Audit trail", .serialized, .hostUnchanged)
struct AuditTests {
    @Test("pause and unpause leave one JSON line per target; without a journal, stderr says so")
    func jsonLinesRecords() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let cgroup = try TestCgroup(.v2)
        defer { cgroup.destroy() }
        try cgroup.start("sleep 1000")
        let log = scratch.path + "/audit.jsonl"
        try #require(!JournalSink.isAvailable, "this test expects a host without a journal socket")

        let pause = try freezectl("pause", cgroup.path, "/nonexistent-cgroup", "--audit-log", log)
        #expect(pause.status == 2)
        #expect(pause.stderr.contains("the journal was not reached"))
        let unpause = try freezectl("unpause", cgroup.path, environment: ["FREEZECTL_AUDIT_LOG": log, "SUDO_USER": "alice", "SUDO_UID": "1000"])
        #expect(unpause.status == 0)

        let lines = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n")
        // Each target's record is written as soon as that target is done: the pause's two come in
        // the order they finished, so they are matched by target.
        var records = lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(records.count == 3)
        #expect(records.map { $0["action"] as? String } == ["pause", "pause", "unpause"])
        if records.count == 3, records[0]["target"] as? String != cgroup.path { records.swapAt(0, 1) }
        #expect(records.map { $0["result"] as? String } == ["ok", "error", "ok"])
        let first = try #require(records.first)
        #expect(first["target"] as? String == cgroup.path)
        #expect(first["cgroup"] as? String == cgroup.path)
        #expect(first["backend"] as? String == "v2")
        #expect(first["uid"] as? Int == 0 && first["user"] as? String == "root")
        #expect(first["pid"] is Int && first["hostname"] is String && first["duration_ms"] is Double)
        let hostname = try String(contentsOfFile: "/proc/sys/kernel/hostname", encoding: .utf8)
        #expect(first["hostname"] as? String == hostname.trimmingCharacters(in: .whitespacesAndNewlines))
        // RFC 3339 in UTC with fractions, and about now.
        let time = try #require(first["time"] as? String)
        let parsed = try #require(try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(time), "time \(time)")
        #expect(time.hasSuffix("Z") && time.contains("."))
        #expect(abs(parsed.timeIntervalSinceNow) < 120)
        #expect((records[1]["message"] as? String)?.contains("no such file") == true)
        #expect(records[2]["sudo_user"] as? String == "alice" && records[2]["sudo_uid"] as? String == "1000")
    }

    @Test("10 processes writing 100 records each give 1000 whole lines")
    func concurrentWritersNeverTearLines() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let parent = try TestCgroup(.v2)
        defer { parent.destroy() }
        var targets: [String] = []
        for index in 0..<100 { targets.append(try parent.child("c\(index)").path) }
        let log = scratch.path + "/audit.jsonl"
        let processes = try (0..<10).map { index -> Process in
            let process = Process()
            process.executableURL = URL(fileURLWithPath: freezectlBinary)
            process.arguments = [index % 2 == 0 ? "pause" : "unpause", "-q", "--audit-log", log] + targets
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            return process
        }
        for process in processes { process.waitUntilExit() }
        let text = try String(contentsOfFile: log, encoding: .utf8)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        #expect(lines.count == 1000)
        let parsed = lines.filter { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) != nil }
        #expect(parsed.count == 1000, "every line is a whole record")
        for target in targets { try? "0".write(toFile: target + "/cgroup.freeze", atomically: false, encoding: .utf8) }
    }

    @Test("the journal gets the records with FREEZECTL_* fields")
    func journalRecords() throws {
        let cgroup = try TestCgroup(.v2)
        defer { cgroup.destroy() }
        try cgroup.start("sleep 1000")
        let result = try withPrivateJournald("""
        \(freezectlBinary) pause \(cgroup.path) -q
        \(freezectlBinary) unpause \(cgroup.path) -q
        journalctl --sync 2>/dev/null
        journalctl -o json --no-pager SYSLOG_IDENTIFIER=freezectl
        """)
        #expect(result.status == 0, "\(result.stderr)")
        let entries = result.jsonLines
        #expect(entries.map { $0["FREEZECTL_ACTION"] as? String } == ["pause", "unpause"], "\(result.stdout)\(result.stderr)")
        let first = try #require(entries.first)
        #expect(first["FREEZECTL_TARGET"] as? String == cgroup.path)
        #expect(first["FREEZECTL_CGROUP"] as? String == cgroup.path)
        #expect(first["FREEZECTL_BACKEND"] as? String == "v2")
        #expect(first["FREEZECTL_RESULT"] as? String == "ok")
        #expect(first["FREEZECTL_USER"] as? String == "root")
        #expect(first["PRIORITY"] as? String == "6")
        // Milliseconds with three decimals, as printf's %.3f gives them.
        let milliseconds = try #require(first["FREEZECTL_DURATION_MS"] as? String)
        #expect(milliseconds.wholeMatch(of: /[0-9]+\.[0-9]{3}/) != nil && Double(milliseconds)! > 0, "\(milliseconds)")
        #expect((first["MESSAGE"] as? String)?.hasPrefix("pause \(cgroup.path): ok") == true)
        #expect(first["MESSAGE_ID"] as? String != entries.last?["MESSAGE_ID"] as? String, "one MESSAGE_ID per action")
        #expect(!result.stderr.contains("not reached"))
    }

    @Test("--audit-required refuses to act when no record can be written")
    func auditRequired() throws {
        let cgroup = try TestCgroup(.v2)
        defer { cgroup.destroy() }
        try cgroup.start("sleep 1000")
        let refused = try freezectl("pause", cgroup.path, "--audit-required")
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("refusing to act without an audit trail"))
        #expect(!cgroup.selfFrozen)
        let unwritable = try freezectl("pause", cgroup.path, "--audit-required", "--audit-log", "/nonexistent-dir/audit.jsonl")
        #expect(unwritable.status == 1)
        #expect(!cgroup.selfFrozen)
    }
}
