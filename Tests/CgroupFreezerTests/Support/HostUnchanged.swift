import CgroupFreezer
import Foundation
import Testing

/// What a test must leave as it found it on the host: the mount table (with every mount's
/// options: a remount read-only shows there), the entries at the top of /sys/fs/cgroup and of
/// every cgroup hierarchy, the cgroups that are frozen or freezing, and the swap (/proc/swaps'
/// devices, zram0's size: the memory tests make swap of it and must take it down again).
struct HostSnapshot: Equatable {
    var mounts: [String]
    var cgroupTops: [String]
    var frozen: [String]
    var swap: [String] = []

    static func take() -> HostSnapshot {
        let mountinfo = (try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? ""
        // Field 1 and 2 are mount and parent IDs (new ones for the same mount after a remount of
        // a parent are still a change worth naming); keep the rest.
        let mounts = mountinfo.split(separator: "\n").map { $0.split(separator: " ").dropFirst(2).joined(separator: " ") }.sorted()
        var tops: [String] = []
        for directory in ["/sys/fs/cgroup"] + TestCgroup.layout.hierarchies.map(\.mountPoint.string) {
            for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] {
                var isDirectory: ObjCBool = false
                let path = directory + "/" + name
                // A test's own scratch cgroups (freezectl-test-PID-N) come and go with it.
                if name.hasPrefix("freezectl-test-") { continue }
                if (try? FileManager.default.destinationOfSymbolicLink(atPath: path)) != nil
                    || (FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue) {
                    tops.append(path)
                }
            }
        }
        var frozen: [String] = []
        for hierarchy in [TestCgroup.layout.freezer, TestCgroup.layout.unified].compactMap({ $0 }) {
            collectFrozen(hierarchy.mountPoint.string, v1: hierarchy.version == .v1, into: &frozen)
        }
        let swaps = ((try? String(contentsOfFile: "/proc/swaps", encoding: .utf8)) ?? "").split(separator: "\n").dropFirst()
        let zram = (try? String(contentsOfFile: "/sys/block/zram0/disksize", encoding: .utf8)) ?? "absent"
        let swap = swaps.map { String($0.split(separator: " ").first ?? "") } + ["zram0 disksize \(zram.trimmingCharacters(in: .whitespacesAndNewlines))"]
        return HostSnapshot(mounts: mounts, cgroupTops: tops.sorted(), frozen: frozen.sorted(), swap: swap.sorted())
    }

    private static func collectFrozen(_ directory: String, v1: Bool, into frozen: inout [String]) {
        for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] {
            let path = directory + "/" + name
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else { continue }
            let state = (try? String(contentsOfFile: path + (v1 ? "/freezer.state" : "/cgroup.freeze"), encoding: .utf8)) ?? ""
            if v1 ? !state.hasPrefix("THAWED") : state.hasPrefix("1") { frozen.append("\(path) (\(state.trimmingCharacters(in: .whitespacesAndNewlines)))") }
            collectFrozen(path, v1: v1, into: &frozen)
        }
    }

    /// One line per difference, naming what appeared and what went.
    func differences(to after: HostSnapshot) -> [String] {
        func diff(_ what: String, _ old: [String], _ new: [String]) -> [String] {
            Set(new).subtracting(old).sorted().map { "\(what) appeared: \($0)" } + Set(old).subtracting(new).sorted().map { "\(what) went: \($0)" }
        }
        return diff("mount", mounts, after.mounts) + diff("top-level cgroup entry", cgroupTops, after.cgroupTops)
            + diff("frozen cgroup", frozen, after.frozen) + diff("swap", swap, after.swap)
    }
}

/// Fails a test that changed the host (HostSnapshot), naming each change. Every suite that
/// touches the real host carries it, so the test that did it is the one that fails.
struct HostUnchangedTrait: TestTrait, SuiteTrait, TestScoping {
    var isRecursive: Bool { true }

    func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
        // A suite's scope wraps its tests, which check themselves; only test cases are compared.
        guard testCase != nil else { return try await function() }
        let before = HostSnapshot.take()
        try await function()
        // Give cleanup of exiting processes (empty cgroups still being released) a moment.
        var changes = before.differences(to: HostSnapshot.take())
        for _ in 0..<20 where !changes.isEmpty {
            usleep(50_000)
            changes = before.differences(to: HostSnapshot.take())
        }
        for change in changes { Issue.record("the test changed the host: \(change)") }
    }
}

extension Trait where Self == HostUnchangedTrait {
    /// The test (or every test of the suite) must leave the host as it found it.
    static var hostUnchanged: Self { HostUnchangedTrait() }
}
