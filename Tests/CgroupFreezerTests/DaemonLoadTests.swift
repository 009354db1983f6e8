import Foundation
import Testing

/// The repository's root, from this file's path: where scripts/ and docs/ are.
let repositoryRoot: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.path
}()

/// freezectld under load and stopped under load: many clients racing on few cgroups.
@Suite("freezectld under load", .serialized, .hostUnchanged)
struct DaemonLoadTests {
    /// The daemon's resident memory, from /proc.
    func residentKiB(_ pid: Int32) -> Int {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
    }

    func startDaemon(_ scratch: ScratchDirectory) throws -> (BackgroundProcess, String) {
        let socket = scratch.path + "/freezectl.sock"
        let daemon = try BackgroundProcess(DaemonTests.binary, ["--socket", socket, "--state-dir", scratch.path + "/state"])
        #expect(eventually(seconds: 20) { FileManager.default.fileExists(atPath: socket) })
        return (daemon, socket)
    }

    @Test("50 clients x 200 pause/unpause requests on 20 cgroups (v1 and v2): no error, nothing left frozen, the daemon's memory back near its start")
    func load() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let cgroups = try (0..<20).map { try TestCgroup($0 % 2 == 0 ? .v2 : .v1) }
        defer { cgroups.forEach { $0.destroy() } }
        for cgroup in cgroups { try cgroup.start("while :; do sleep 0.05; done") }
        let (daemon, socket) = try startDaemon(scratch)
        defer { if daemon.process.isRunning { daemon.signal(SIGKILL); _ = daemon.wait(seconds: 5) } }
        let targets = cgroups.map { $0.hierarchy.version == .v2 ? "cgroup:\($0.relativePath)" : $0.path }

        // A first round warms the daemon up (its pools, the layout); then the baseline.
        let warm = try run("/usr/bin/python3", [repositoryRoot + "/scripts/daemon-load.py", "--socket", socket, "--clients", "5", "--requests", "20"] + targets)
        #expect(warm.status == 0, "\(warm.stdout)\(warm.stderr)")
        let before = residentKiB(daemon.pid)
        let load = try run("/usr/bin/python3", [repositoryRoot + "/scripts/daemon-load.py", "--socket", socket, "--clients", "50", "--requests", "200"] + targets)
        #expect(load.status == 0, "\(load.stdout)\(load.stderr)")
        let summary = (try? JSONSerialization.jsonObject(with: Data(load.stdout.utf8))) as? [String: Any]
        #expect(summary?["requests"] as? Int == 10_000 && summary?["error_count"] as? Int == 0, "\(load.stdout)")
        for cgroup in cgroups {
            #expect(!cgroup.kernelFrozen && !cgroup.selfFrozen, "\(cgroup.path) left frozen")
        }
        // No request in flight: what the burst allocated is back (the allocator may keep some).
        usleep(500_000)
        let after = residentKiB(daemon.pid)
        #expect(after <= before + 32 * 1024, "RSS \(before) KiB before, \(after) KiB after 10,000 requests")
        daemon.signal(SIGTERM)
        #expect(daemon.wait(seconds: 10).exited)
    }

    @Test("SIGTERM while 20 clients pause and unpause: every answered request was done, the daemon exits, nothing is left half-frozen")
    func shutdownUnderLoad() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let cgroups = try (0..<10).map { try TestCgroup($0 % 2 == 0 ? .v2 : .v1) }
        defer { cgroups.forEach { $0.destroy() } }
        for cgroup in cgroups { try cgroup.start("while :; do sleep 0.01 & sleep 0.01 & wait; done") }
        let (daemon, socket) = try startDaemon(scratch)
        defer { if daemon.process.isRunning { daemon.signal(SIGKILL); _ = daemon.wait(seconds: 5) } }
        let targets = cgroups.map { $0.hierarchy.version == .v2 ? "cgroup:\($0.relativePath)" : $0.path }
        let load = try BackgroundProcess("/usr/bin/python3", [repositoryRoot + "/scripts/daemon-load.py", "--socket", socket,
                                                              "--clients", "20", "--requests", "1000"] + targets)
        defer { if load.process.isRunning { load.signal(SIGKILL); _ = load.wait(seconds: 5) } }
        usleep(1_500_000)
        daemon.signal(SIGTERM)
        let ended = daemon.wait(seconds: 20)
        #expect(ended.exited && ended.status == 0, "\(ended.stderr.suffix(2000))")
        _ = load.wait(seconds: 30)
        // Each cgroup is as the last answered request left it, frozen or thawed: never freezing.
        for cgroup in cgroups {
            let state = cgroup.hierarchy.version == .v1
                ? ((try? String(contentsOfFile: cgroup.path + "/freezer.state", encoding: .utf8)) ?? "")
                : (cgroup.kernelFrozen == cgroup.selfFrozen ? "settled" : "FREEZING")
            #expect(!state.contains("FREEZING"), "\(cgroup.path): \(state)")
        }
    }
}
