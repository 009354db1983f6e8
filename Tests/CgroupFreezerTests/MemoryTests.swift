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
            try "1G".write(toFile: "/sys/block/zram0/disksize", atomically: false, encoding: .utf8)
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

/// A process's memory as the kernel counts it, read here and not through the product: VmRSS and
/// VmSwap of /proc/PID/status, in bytes.
struct KernelMemory: CustomStringConvertible {
    var resident: UInt64 = 0
    var swapped: UInt64 = 0

    /// Of `pid`, or nil when it is gone.
    static func of(_ pid: Int32) -> KernelMemory? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        var memory = KernelMemory()
        for line in status.split(separator: "\n") {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard fields.count >= 2, let kilobytes = UInt64(fields[1]) else { continue }
            if fields[0] == "VmRSS:" { memory.resident = kilobytes * 1024 }
            if fields[0] == "VmSwap:" { memory.swapped = kilobytes * 1024 }
        }
        return memory
    }

    /// The sum over `pids` (those still there).
    static func of(_ pids: [Int32]) -> KernelMemory {
        pids.compactMap(of).reduce(into: KernelMemory()) { $0.resident += $1.resident; $0.swapped += $1.swapped }
    }

    var description: String { "resident \(resident >> 20) MiB, swapped \(swapped >> 20) MiB" }
}

/// The deep pause's workload (Benchmarks/memory-workload.c, which the benchmark uses too), built
/// static so that it runs in a busybox container too: it fills its memory with a known pattern
/// and, when asked, checks every byte.
enum MemoryWorkload {
    /// The binary, compiled into `scratch` (and removed with it).
    static func build(into scratch: ScratchDirectory) throws -> String {
        let source = repositoryRoot + "/Benchmarks/memory-workload.c"
        let binary = scratch.path + "/memory-workload"
        let compiled = try run("/usr/bin/cc", ["-O2", "-static", "-o", binary, source])
        try #require(compiled.status == 0, "cc -static memory-workload.c (apt-get install gcc libc6-dev): \(compiled.stderr)")
        return binary
    }

    /// Whether the workload whose directory is `directory` filled its memory.
    static func isReady(_ directory: String) -> Bool { FileManager.default.fileExists(atPath: directory + "/ready") }

    /// Asks the workload of `directory` to check every byte; true when it says ok.
    static func verify(_ directory: String) throws -> Bool {
        FileManager.default.createFile(atPath: directory + "/verify", contents: nil)
        try #require(eventually(seconds: 30) { FileManager.default.fileExists(atPath: directory + "/verified") }, "the workload checked its memory")
        return (try? String(contentsOfFile: directory + "/verified", encoding: .utf8)) == "ok"
    }
}

@Suite("Process memory: MADV_PAGEOUT and MADV_WILLNEED on the real kernel", .serialized, .hostUnchanged)
struct MemoryTests {
    /// Runs `body` with swap (zram0 made swap for it when the machine has none, put back after),
    /// a scratch directory and the workload built into it; without swap, says why and skips.
    static func withSwap(_ body: (ScratchDirectory, String) async throws -> Void) async throws {
        let (swap, reason) = TestSwap.setUp()
        guard let swap else {
            print("skipped: \(reason)")
            return
        }
        defer { swap.remove() }
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        try await body(scratch, try MemoryWorkload.build(into: scratch))
    }

    /// A directory of its own for one workload, under `scratch`.
    static func workloadDirectory(_ scratch: ScratchDirectory, _ name: String) throws -> String {
        let directory = scratch.path + "/" + name
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
        return directory
    }

    @Test("a frozen 64 MiB workload paged out: its resident memory drops to a fraction (read from /proc), the swap holds it; after the thaw and MADV_WILLNEED it verifies every byte")
    func pageOutAndBack() async throws {
        try await Self.withSwap { scratch, workload in try await Self.pageOutAndBack(scratch, workload) }
    }

    private static func pageOutAndBack(_ scratch: ScratchDirectory, _ workload: String) async throws {
        let cgroup = try TestCgroup(.v1)
        defer { cgroup.destroy() }
        let directory = try workloadDirectory(scratch, "w")
        let pid = try cgroup.start("exec \(workload) 64 \(directory)")
        try #require(eventually(seconds: 20) { MemoryWorkload.isReady(directory) }, "the workload filled its memory")
        let before = try #require(KernelMemory.of(pid))
        #expect(before.resident > 64 << 20, "\(before)")

        try cgroup.write("FROZEN", "freezer.state")
        try #require(eventually { cgroup.kernelFrozen })
        let start = try #require(ProcessStart.of(pid))
        let advised = try ProcessMemory.advise(.pageOut, pid: pid, startTime: start, deadline: .now + .seconds(30))
        #expect((advised ?? 0) > 64 << 20, "every mapping advised: \(advised ?? 0)")
        let after = try #require(KernelMemory.of(pid))
        #expect(after.resident < before.resident / 4, "resident \(before.resident) -> \(after.resident)")
        #expect(after.swapped > 48 << 20, "in swap: \(after.swapped)")
        #expect(cgroup.kernelFrozen, "still frozen: the advice does not wake the tree")

        // A start time that is not the process's: nothing is advised (a reused PID).
        #expect(try ProcessMemory.advise(.willNeed, pid: pid, startTime: start + 1, deadline: .now + .seconds(5)) == nil)
        try cgroup.write("THAWED", "freezer.state")
        _ = try ProcessMemory.advise(.willNeed, pid: pid, startTime: start, deadline: .now + .seconds(30))
        #expect(try MemoryWorkload.verify(directory), "every byte came back")
    }

    @Test("the library's deep pause of a tree: freeze, reclaim (its report agrees with /proc), prefetch, thaw; the workloads verify every byte", arguments: [Hierarchy.Version.v1, .v2])
    func reclaimAndPrefetchATree(_ version: Hierarchy.Version) async throws {
        try await Self.withSwap { scratch, workload in try await Self.reclaimAndPrefetch(version, scratch, workload) }
    }

    private static func reclaimAndPrefetch(_ version: Hierarchy.Version, _ scratch: ScratchDirectory, _ workload: String) async throws {
        let cgroup = try TestCgroup(version)
        defer { cgroup.destroy() }
        let child = try cgroup.child("inner")
        var directories: [String] = []
        for (where_, name) in [(cgroup, "a"), (child, "b")] {
            directories.append(try workloadDirectory(scratch, name))
            try where_.start("exec \(workload) 32 \(directories.last!)")
        }
        try #require(eventually(seconds: 20) { directories.allSatisfy(MemoryWorkload.isReady) })
        let freezer = try CgroupFreezer()
        let target = try freezer.target(for: .directory(FilePath(cgroup.path)))
        _ = try await freezer.freeze(target)
        let report = await freezer.reclaim(target, deadline: .now + .seconds(30))
        #expect(report.complete && report.processes == cgroup.pids.count && report.total == report.processes, "\(report)")
        #expect(report.residentBefore > 64 << 20 && report.residentAfter < report.residentBefore / 4, "\(report)")
        #expect(report.warning == nil && report.error == nil, "swap is configured")
        let measured = KernelMemory.of(cgroup.pids)
        #expect(measured.resident < report.residentBefore / 4, "the kernel agrees: \(measured)")
        #expect(cgroup.kernelFrozen, "still frozen after the reclaim")

        let prefetched = await freezer.prefetch(target, deadline: .now + .seconds(30))
        #expect(prefetched.complete && prefetched.processes == report.processes)
        _ = try await freezer.thaw(target)
        for directory in directories {
            #expect(try MemoryWorkload.verify(directory), "\(directory): every byte came back")
        }
    }

    @Test("a deadline already passed: the reclaim stops before the first process and says it is not complete")
    func reclaimPastDeadline() async throws {
        let cgroup = try TestCgroup(.v2)
        defer { cgroup.destroy() }
        try cgroup.start("sleep 1000")
        let freezer = try CgroupFreezer()
        let target = try freezer.target(for: .directory(FilePath(cgroup.path)))
        let report = await freezer.reclaim(target, deadline: .now - .seconds(1))
        #expect(!report.complete && report.processes == 0 && report.total == cgroup.pids.count && report.total > 0, "\(report)")
    }

    @Test("a process that is gone is no error: nil")
    func goneProcess() throws {
        var pid: Int32 = 4_000_000
        while FileManager.default.fileExists(atPath: "/proc/\(pid)") { pid += 1 }
        #expect(try ProcessMemory.advise(.pageOut, pid: pid, startTime: 1, deadline: .now + .seconds(1)) == nil)
        #expect(ProcessMemory.usage(of: pid) == nil && KernelMemory.of(pid) == nil)
    }
}
