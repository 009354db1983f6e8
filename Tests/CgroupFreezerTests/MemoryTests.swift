import CgroupFreezer
import Foundation
import SystemPackage
import Testing

/// Swap for a memory test: zram0 made swap when the machine has none, and put back as found
/// (swapoff, reset) by `remove()`; the machine's own swap, untouched, when it has some.
struct TestSwap {
    /// Whether this test set zram0 up (and must take it down).
    let made: Bool

    /// Swap to page out to, or nil with the reason when there is none and zram0 cannot give it.
    static func setUp() -> (swap: TestSwap?, reason: String) {
        let swaps = (try? String(contentsOfFile: "/proc/swaps", encoding: .utf8)) ?? ""
        if swaps.split(separator: "\n").count > 1 { return (TestSwap(made: false), "") }
        let disksize = ((try? String(contentsOfFile: "/sys/block/zram0/disksize", encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        guard disksize == "0" else { return (nil, "no swap, and zram0 is absent or in use (disksize \(disksize))") }
        do {
            try "512M".write(toFile: "/sys/block/zram0/disksize", atomically: false, encoding: .utf8)
        } catch {
            return (nil, "zram0's disksize cannot be set: \(error)")
        }
        let swap = TestSwap(made: true)
        guard (try? run("/sbin/mkswap", ["/dev/zram0"]))?.status == 0, (try? run("/sbin/swapon", ["/dev/zram0"]))?.status == 0 else {
            swap.remove()
            return (nil, "mkswap or swapon of /dev/zram0 failed")
        }
        return (swap, "")
    }

    /// Takes zram0's swap down again when this test made it.
    func remove() {
        guard made else { return }
        _ = try? run("/sbin/swapoff", ["/dev/zram0"])
        // Reset frees zram0's memory and sets its disksize back to 0, as it was found.
        try? "1".write(toFile: "/sys/block/zram0/reset", atomically: false, encoding: .utf8)
    }
}

@Suite("Process memory: MADV_PAGEOUT and MADV_WILLNEED on the real kernel")
struct MemoryTests {
    /// A workload holding `megabytes` of anonymous memory filled with a known pattern; it says
    /// `ready` in `directory`, and when `verify` appears there checks every byte and says
    /// `verified ok` (or `verified bad`).
    static let workload = """
    import os, sys, time
    size, directory = int(sys.argv[1]) << 20, sys.argv[2]
    data = bytearray(size)
    pattern = bytes(range(251)) * (size // 251 + 1)
    data[:] = pattern[:size]
    open(directory + "/ready", "w").close()
    while not os.path.exists(directory + "/verify"):
        time.sleep(0.02)
    ok = data == pattern[:size]
    with open(directory + "/verified", "w") as f:
        f.write("ok" if ok else "bad")
    time.sleep(1000)
    """

    /// Runs `body` with swap (zram0 made swap for it when the machine has none, put back after)
    /// and a scratch directory holding `workload.py`; without swap, says why and skips.
    static func withSwap(_ body: (ScratchDirectory) async throws -> Void) async throws {
        let (swap, reason) = TestSwap.setUp()
        guard let swap else {
            print("skipped: \(reason)")
            return
        }
        defer { swap.remove() }
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        try workload.write(toFile: scratch.path + "/workload.py", atomically: true, encoding: .utf8)
        try await body(scratch)
    }

    @Test("a frozen 64 MiB workload paged out: its resident memory drops to a fraction (read from /proc), the swap holds it; after the thaw and MADV_WILLNEED it verifies every byte")
    func pageOutAndBack() async throws {
        try await Self.withSwap { scratch in try await Self.pageOutAndBack(scratch) }
    }

    private static func pageOutAndBack(_ scratch: ScratchDirectory) async throws {
        let cgroup = try TestCgroup(.v1)
        defer { cgroup.destroy() }
        let pid = try cgroup.start("exec python3 \(scratch.path)/workload.py 64 \(scratch.path)")
        try #require(eventually(seconds: 20) { FileManager.default.fileExists(atPath: scratch.path + "/ready") }, "the workload filled its memory")
        let before = try #require(ProcessMemory.usage(of: pid))
        #expect(before.resident > 64 << 20, "\(before)")

        try cgroup.write("FROZEN", "freezer.state")
        try #require(eventually { cgroup.kernelFrozen })
        let start = try #require(ProcessStart.of(pid))
        let advised = try ProcessMemory.advise(.pageOut, pid: pid, startTime: start, deadline: .now + .seconds(30))
        #expect((advised ?? 0) > 64 << 20, "every mapping advised: \(advised ?? 0)")
        let after = try #require(ProcessMemory.usage(of: pid))
        #expect(after.resident < before.resident / 4, "resident \(before.resident) -> \(after.resident)")
        #expect(after.swapped > 48 << 20, "in swap: \(after.swapped)")
        #expect(cgroup.kernelFrozen, "still frozen: the advice does not wake the tree")

        // A start time that is not the process's: nothing is advised (a reused PID).
        #expect(try ProcessMemory.advise(.willNeed, pid: pid, startTime: start + 1, deadline: .now + .seconds(5)) == nil)
        try cgroup.write("THAWED", "freezer.state")
        _ = try ProcessMemory.advise(.willNeed, pid: pid, startTime: start, deadline: .now + .seconds(30))
        FileManager.default.createFile(atPath: scratch.path + "/verify", contents: nil)
        try #require(eventually(seconds: 20) { FileManager.default.fileExists(atPath: scratch.path + "/verified") })
        #expect((try? String(contentsOfFile: scratch.path + "/verified", encoding: .utf8)) == "ok", "every byte came back")
    }

    @Test("the library's deep pause of a tree: freeze, reclaim (its report agrees with /proc), prefetch, thaw; the workloads verify every byte", arguments: [Hierarchy.Version.v1, .v2])
    func reclaimAndPrefetchATree(_ version: Hierarchy.Version) async throws {
        try await Self.withSwap { scratch in try await Self.reclaimAndPrefetch(version, scratch) }
    }

    private static func reclaimAndPrefetch(_ version: Hierarchy.Version, _ scratch: ScratchDirectory) async throws {
        let cgroup = try TestCgroup(version)
        defer { cgroup.destroy() }
        let child = try cgroup.child("inner")
        for (where_, name) in [(cgroup, "a"), (child, "b")] {
            try FileManager.default.createDirectory(atPath: scratch.path + "/" + name, withIntermediateDirectories: false)
            try where_.start("exec python3 \(scratch.path)/workload.py 32 \(scratch.path)/\(name)")
        }
        try #require(eventually(seconds: 20) { ["a", "b"].allSatisfy { FileManager.default.fileExists(atPath: scratch.path + "/\($0)/ready") } })
        let freezer = try CgroupFreezer()
        let target = try freezer.target(for: .directory(FilePath(cgroup.path)))
        _ = try await freezer.freeze(target)
        let report = try freezer.reclaim(target, deadline: .now + .seconds(30))
        #expect(report.complete && report.processes == cgroup.pids.count && report.total == report.processes, "\(report)")
        #expect(report.residentBefore > 64 << 20 && report.residentAfter < report.residentBefore / 4, "\(report)")
        #expect(report.warning == nil, "swap is configured")
        let measured = cgroup.pids.compactMap { ProcessMemory.usage(of: $0) }.reduce(ProcessMemory.Usage(resident: 0, swapped: 0), +)
        #expect(measured.resident < report.residentBefore / 4, "the kernel agrees: \(measured)")
        #expect(cgroup.kernelFrozen, "still frozen after the reclaim")

        let prefetched = try freezer.prefetch(target, deadline: .now + .seconds(30))
        #expect(prefetched.complete && prefetched.processes == report.processes)
        _ = try await freezer.thaw(target)
        for name in ["a", "b"] { FileManager.default.createFile(atPath: scratch.path + "/\(name)/verify", contents: nil) }
        try #require(eventually(seconds: 20) { ["a", "b"].allSatisfy { FileManager.default.fileExists(atPath: scratch.path + "/\($0)/verified") } })
        for name in ["a", "b"] {
            #expect((try? String(contentsOfFile: scratch.path + "/\(name)/verified", encoding: .utf8)) == "ok", "\(name): every byte came back")
        }
    }

    @Test("a deadline already passed: the reclaim stops before the first process and says it is not complete")
    func reclaimPastDeadline() async throws {
        let cgroup = try TestCgroup(.v2)
        defer { cgroup.destroy() }
        try cgroup.start("sleep 1000")
        let freezer = try CgroupFreezer()
        let target = try freezer.target(for: .directory(FilePath(cgroup.path)))
        let report = try freezer.reclaim(target, deadline: .now - .seconds(1))
        #expect(!report.complete && report.processes == 0 && report.total == cgroup.pids.count && report.total > 0, "\(report)")
    }

    @Test("a process that is gone is no error: nil")
    func goneProcess() throws {
        var pid: Int32 = 4_000_000
        while FileManager.default.fileExists(atPath: "/proc/\(pid)") { pid += 1 }
        #expect(try ProcessMemory.advise(.pageOut, pid: pid, startTime: 1, deadline: .now + .seconds(1)) == nil)
        #expect(ProcessMemory.usage(of: pid) == nil)
    }
}
