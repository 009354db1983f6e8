import Synchronization
import SystemPackage

/// What a reclaim or a prefetch of a target's memory did (the deep pause, issue 33): the
/// figures are the kernel's (Pss and SwapPss of each process of the tree, so that shared pages
/// count once), read before and after.
public struct MemoryReport: Sendable {
    /// Resident and swapped bytes of the tree's processes before.
    public var residentBefore: UInt64 = 0
    public var swappedBefore: UInt64 = 0
    /// Resident and swapped bytes after.
    public var residentAfter: UInt64 = 0
    public var swappedAfter: UInt64 = 0
    /// Bytes the kernel was advised about (the tree's mappings).
    public var advised: UInt64 = 0
    /// Bytes asked of the cgroup's `memory.reclaim` (v2 memory controller only; 0 elsewhere).
    public var cgroupReclaim: UInt64 = 0
    /// The processes worked on, of those in the tree.
    public var processes = 0
    public var total = 0
    /// Time taken.
    public var duration: Duration = .zero
    /// False when the deadline, a cancellation or an error stopped it before the last process.
    public var complete = true
    /// Said plainly when the result is less than asked: no swap, so only file pages can go.
    public var warning: String?
    /// Why it stopped, when the kernel refused (the freeze stands all the same).
    public var error: (any FreezectlError)?

    public init() {}
}

extension CgroupFreezer {
    /// Pushes the memory of `target`'s tree out: first `memory.reclaim` when the target's cgroup
    /// has the v2 memory controller, then process_madvise MADV_PAGEOUT over every process of the
    /// tree (anonymous pages to swap, clean file pages dropped), the only way where the memory
    /// controller is v1. The caller froze the target first; this never thaws it nor changes a
    /// limit. Stops at `deadline`, on cancellation or on the kernel's refusal with what is done
    /// (`complete` false, and `error`); a process that exits meanwhile is skipped.
    public func reclaim(_ target: FreezerTarget, deadline: ContinuousClock.Instant) async -> MemoryReport {
        await whileNotCancelled { cancelled in reclaim(target, deadline: deadline, cancelled: cancelled) }
    }

    private func reclaim(_ target: FreezerTarget, deadline: ContinuousClock.Instant, cancelled: @escaping @Sendable () -> Bool) -> MemoryReport {
        let clock = ContinuousClock()
        let started = clock.now
        var cgroupReclaim: UInt64 = 0
        var cgroupError: (any FreezectlError)?
        do {
            cgroupReclaim = try reclaimThroughCgroup(target, deadline: deadline, cancelled: cancelled)
        } catch {
            cgroupError = error
        }
        var report = adviseMemory(.pageOut, of: target, deadline: deadline, cancelled: cancelled)
        report.cgroupReclaim = cgroupReclaim
        if let cgroupError, report.error == nil {
            report.error = cgroupError
            report.complete = false
        }
        report.duration = clock.now - started
        if Self.swapTotal() == 0 {
            report.warning = "no swap is configured: only file pages could go (anonymous memory stays resident); docs/deep-pause.md says how to give the node swap"
        }
        return report
    }

    /// Brings the swapped memory of every process of `target`'s tree back ahead of use
    /// (process_madvise MADV_WILLNEED), bounded like `reclaim`.
    public func prefetch(_ target: FreezerTarget, deadline: ContinuousClock.Instant) async -> MemoryReport {
        await whileNotCancelled { cancelled in adviseMemory(.willNeed, of: target, deadline: deadline, cancelled: cancelled) }
    }

    /// `work` with a question it can ask from any thread: whether the calling task was cancelled
    /// (Task.isCancelled answers only on the task's own thread, and the advice runs on several).
    private func whileNotCancelled(_ work: (@escaping @Sendable () -> Bool) -> MemoryReport) async -> MemoryReport {
        let flag = CancellationFlag()
        return await withTaskCancellationHandler {
            work { flag.isSet }
        } onCancel: {
            flag.set()
        }
    }

    /// How much `memory.reclaim` is asked for at a time: the deadline and a cancellation are
    /// looked at between steps (the kernel's write runs to its end).
    static let cgroupReclaimStep: UInt64 = 64 << 20

    /// Writes the target's `memory.reclaim` (cgroup v2's memory controller, Linux 5.19), step by
    /// step, up to its `memory.current`, until the kernel says it cannot reclaim more (EAGAIN).
    /// Returns the bytes asked; 0 where the file does not exist (a v1 memory controller, as on a
    /// hybrid layout, or the controller not enabled for this cgroup).
    private func reclaimThroughCgroup(_ target: FreezerTarget, deadline: ContinuousClock.Instant,
                                      cancelled: () -> Bool) throws(CgroupLayout.Error) -> UInt64 {
        let directory = target.cgroup
        guard directory.hierarchy.version == .v2,
              let current = CgroupFile.readIfPresent(directory.file("memory.current")).flatMap({ UInt64($0.trimmingSpaces()) }) else { return 0 }
        let path = directory.file("memory.reclaim")
        let fd: FileDescriptor
        do {
            fd = try CgroupFile.openForWriting(path, .writeOnly)
        } catch .notFound {
            return 0
        }
        defer { CgroupFile.close(fd) }
        var asked: UInt64 = 0
        while asked < current, ContinuousClock.now < deadline, !cancelled() {
            let step = min(Self.cgroupReclaimStep, current - asked)
            do {
                try CgroupFile.write(String(step), to: fd, path: path)
            } catch .io(_, _, let errno) where errno == .resourceTemporarilyUnavailable {
                // The kernel reclaimed what it could: the rest is unevictable or has nowhere to go.
                break
            }
            asked += step
        }
        return asked
    }

    private func adviseMemory(_ advice: ProcessMemory.Advice, of target: FreezerTarget, deadline: ContinuousClock.Instant,
                              cancelled: @escaping @Sendable () -> Bool) -> MemoryReport {
        let clock = ContinuousClock()
        let started = clock.now
        var report = MemoryReport()
        let pids = processes(of: target)
        report.total = pids.count
        for pid in pids {
            if clock.now >= deadline || cancelled() {
                report.complete = false
                break
            }
            // The process must still be the one found in the tree: its start time now, its cgroup
            // inside the target (advise checks the start time again behind a pidfd).
            guard let start = ProcessStart.of(pid), isInTree(pid, of: target), let before = ProcessMemory.usage(of: pid) else { continue }
            let advised: UInt64?
            do {
                advised = try ProcessMemory.advise(advice, pid: pid, startTime: start, deadline: deadline, cancelled: cancelled)
            } catch {
                report.error = error
                report.complete = false
                break
            }
            guard let advised else { continue }
            let after = ProcessMemory.usage(of: pid) ?? .zero
            report.residentBefore &+= before.resident
            report.swappedBefore &+= before.swapped
            report.residentAfter &+= after.resident
            report.swappedAfter &+= after.swapped
            report.advised &+= advised
            report.processes += 1
        }
        report.duration = clock.now - started
        return report
    }

    /// The resident and swapped memory of these processes now (the sums of their Pss and
    /// SwapPss; those gone meanwhile count nothing): what `status` shows of a target's tree.
    public static func memoryUsage(of pids: [Int32]) -> (resident: UInt64, swapped: UInt64) {
        let usage = pids.compactMap(ProcessMemory.usage(of:)).reduce(ProcessMemory.Usage.zero, +)
        return (usage.resident, usage.swapped)
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

/// A cancellation seen from any thread (`whileNotCancelled`).
private final class CancellationFlag: Sendable {
    private let flag = Atomic<Bool>(false)

    var isSet: Bool { flag.load(ordering: .relaxed) }

    func set() { flag.store(true, ordering: .relaxed) }
}
