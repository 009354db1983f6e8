import SystemPackage

/// What a reclaim or a prefetch of a target's memory did (the deep pause, issue 33): the
/// figures are the kernel's (VmRSS and VmSwap of each process), read before and after.
public struct MemoryReport: Sendable, Equatable {
    /// Resident bytes of the tree's processes before.
    public var residentBefore: UInt64 = 0
    /// Resident and swapped bytes after.
    public var residentAfter: UInt64 = 0
    public var swappedAfter: UInt64 = 0
    /// Bytes the kernel was advised about (the tree's mappings).
    public var advised: UInt64 = 0
    /// The processes worked on, of those in the tree.
    public var processes = 0
    public var total = 0
    /// Time taken.
    public var duration: Duration = .zero
    /// False when the deadline or a cancellation stopped it before the last process.
    public var complete = true
    /// Said plainly when the result is less than asked: no swap, so only file pages can go.
    public var warning: String?
}

extension CgroupFreezer {
    /// Pushes the memory of every process of `target`'s tree out (process_madvise
    /// MADV_PAGEOUT): anonymous pages to swap, clean file pages dropped. The caller froze the
    /// target first; this never thaws it nor changes a limit. Stops at `deadline` or on
    /// cancellation with what is done (`complete` false); a process that exits meanwhile is
    /// skipped. Throws only when the kernel refuses the advice (`ProcessMemory.Error`).
    public func reclaim(_ target: FreezerTarget, deadline: ContinuousClock.Instant) throws -> MemoryReport {
        var report = try adviseMemory(.pageOut, of: target, deadline: deadline)
        if Self.swapTotal() == 0 {
            report.warning = "no swap is configured: only file pages could go (anonymous memory stays resident); docs/deep-pause.md says how to give the node swap"
        }
        return report
    }

    /// Brings the swapped memory of every process of `target`'s tree back ahead of use
    /// (process_madvise MADV_WILLNEED), bounded like `reclaim`.
    public func prefetch(_ target: FreezerTarget, deadline: ContinuousClock.Instant) throws -> MemoryReport {
        try adviseMemory(.willNeed, of: target, deadline: deadline)
    }

    private func adviseMemory(_ advice: ProcessMemory.Advice, of target: FreezerTarget, deadline: ContinuousClock.Instant) throws -> MemoryReport {
        let clock = ContinuousClock()
        let started = clock.now
        var report = MemoryReport()
        let pids = processes(of: target)
        report.total = pids.count
        for pid in pids {
            if clock.now >= deadline || Task.isCancelled {
                report.complete = false
                break
            }
            // The process must still be the one found in the tree: its start time now, its cgroup
            // inside the target (advise checks the start time again behind a pidfd).
            guard let start = ProcessStart.of(pid), isInTree(pid, of: target), let before = ProcessMemory.usage(of: pid) else { continue }
            guard let advised = try ProcessMemory.advise(advice, pid: pid, startTime: start, deadline: deadline) else { continue }
            let after = ProcessMemory.usage(of: pid) ?? ProcessMemory.Usage(resident: 0, swapped: 0)
            report.residentBefore &+= before.resident
            report.residentAfter &+= after.resident
            report.swappedAfter &+= after.swapped
            report.advised &+= advised
            report.processes += 1
        }
        report.duration = clock.now - started
        return report
    }

    /// Whether `pid`'s cgroup in the target's hierarchy is the target's or below it.
    private func isInTree(_ pid: Int32, of target: FreezerTarget) -> Bool {
        guard let cgroups = ProcessCgroups.ifAlive(pid: pid),
              let directory = cgroups.directory(in: target.cgroup.hierarchy, layout: layout) else { return false }
        return CgroupLayout.isSameOrBelow(directory.string, target.cgroup.path.string)
    }

    /// SwapTotal of /proc/meminfo in kB (0 without swap, or when it cannot be read).
    static func swapTotal() -> UInt64 {
        guard let meminfo = CgroupFile.procFileIfReadable("/proc/meminfo"),
              let line = meminfo.split(separator: "\n").first(where: { $0.hasPrefix("SwapTotal:") }) else { return 0 }
        return line.split(separator: " ").dropFirst().first.flatMap { UInt64($0) } ?? 0
    }
}
