import Synchronization
import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

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
        await whileNotCancelled { cancelled in await reclaim(target, deadline: deadline, cancelled: cancelled) }
    }

    private func reclaim(_ target: FreezerTarget, deadline: ContinuousClock.Instant, cancelled: @escaping @Sendable () -> Bool) async -> MemoryReport {
        let clock = ContinuousClock()
        let started = clock.now
        var cgroupReclaim: UInt64 = 0
        var cgroupError: (any FreezectlError)?
        do {
            cgroupReclaim = try reclaimThroughCgroup(target, deadline: deadline, cancelled: cancelled)
        } catch {
            cgroupError = error
        }
        var report = await adviseMemory(.pageOut, of: target, deadline: deadline, cancelled: cancelled)
        report.cgroupReclaim = cgroupReclaim
        if let cgroupError, report.error == nil {
            report.error = cgroupError
            report.complete = false
        }
        report.duration = clock.now - started
        if (Meminfo.bytes("SwapTotal") ?? 0) == 0 {
            report.warning = "no swap is configured: only file pages could go (anonymous memory stays resident); docs/deep-pause.md says how to give the node swap"
        }
        return report
    }

    /// Brings the swapped memory of every process of `target`'s tree back ahead of use
    /// (process_madvise MADV_WILLNEED), bounded like `reclaim`.
    public func prefetch(_ target: FreezerTarget, deadline: ContinuousClock.Instant) async -> MemoryReport {
        await whileNotCancelled { cancelled in await adviseMemory(.willNeed, of: target, deadline: deadline, cancelled: cancelled) }
    }

    /// `work` with a question it can ask from any thread: whether the calling task was cancelled
    /// (Task.isCancelled answers only on the task's own thread, and the advice runs on several).
    private func whileNotCancelled(_ work: (@escaping @Sendable () -> Bool) async -> MemoryReport) async -> MemoryReport {
        let flag = CancellationFlag()
        return await withTaskCancellationHandler {
            await work { flag.isSet }
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

    /// How many processes are opened (a pidfd each) and worked on together.
    static let processesAtOnce = 256

    /// `advice` to every process of the tree, `processesAtOnce` at a time: their pieces shared
    /// among one thread per CPU (`adviseTogether`), until every one is done, the deadline passes,
    /// `cancelled` says so or the kernel refuses.
    private func adviseMemory(_ advice: ProcessMemory.Advice, of target: FreezerTarget, deadline: ContinuousClock.Instant,
                              cancelled: @escaping @Sendable () -> Bool) async -> MemoryReport {
        let clock = ContinuousClock()
        let started = clock.now
        let pids = processes(of: target)
        var report = MemoryReport()
        report.total = pids.count
        var first = pids.startIndex
        while first < pids.endIndex, report.complete {
            let batch = pids[first..<min(first + Self.processesAtOnce, pids.endIndex)]
            first = batch.endIndex
            if clock.now >= deadline || cancelled() {
                report.complete = false
                break
            }
            var opened: [(process: ProcessMemory.Opened, before: ProcessMemory.Usage)] = []
            for pid in batch {
                // Still the process found in the tree: its start time now, its cgroup inside the
                // target (Opened checks the start time again behind its pidfd).
                guard let start = ProcessStart.of(pid), isInTree(pid, of: target), let before = ProcessMemory.usage(of: pid) else { continue }
                do {
                    if let process = try ProcessMemory.Opened.open(pid: pid, startTime: start) { opened.append((process, before)) }
                } catch {
                    (report.error, report.complete) = (error, false)
                    break
                }
            }
            let outcome = await adviseTogether(opened.map(\.process), advice, deadline: deadline, cancelled: cancelled)
            opened.forEach { $0.process.close() }
            report.add(outcome, before: opened.map(\.before))
        }
        report.duration = clock.now - started
        return report
    }

    /// `advice` on every piece of these processes, one thread per CPU taking the next piece.
    private func adviseTogether(_ processes: [ProcessMemory.Opened], _ advice: ProcessMemory.Advice, deadline: ContinuousClock.Instant,
                                cancelled: @escaping @Sendable () -> Bool) async -> AdviceOutcome {
        let jobs = processes.indices.flatMap { process in processes[process].pieces.indices.map { (process, $0) } }
        let outcome = Mutex(AdviceOutcome(processes: processes))
        let next = Atomic<Int>(0)
        await WorkerThreads.run(min(jobs.count, max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN))))) {
            while true {
                let index = next.add(1, ordering: .relaxed).oldValue
                guard index < jobs.count else { return }
                let (process, piece) = jobs[index]
                if ContinuousClock.now >= deadline || cancelled() || outcome.withLock({ $0.error != nil }) {
                    outcome.withLock { $0.stopped = true }
                    return
                }
                if outcome.withLock({ $0.gone[process] }) { continue }
                let result = Result { () throws(ProcessMemory.Error) in try processes[process].advise(advice, piece: piece) }
                outcome.withLock { $0.record(result, of: process) }
            }
        }
        return outcome.withLock { $0 }
    }

    /// The resident and swapped memory of these processes now (the sums of their Pss and
    /// SwapPss; those gone meanwhile count nothing): what `status` shows of a target's tree.
    public static func memoryUsage(of pids: [Int32]) -> (resident: UInt64, swapped: UInt64) {
        let usage = pids.compactMap(ProcessMemory.usage(of:)).reduce(ProcessMemory.Usage.zero, +)
        return (usage.resident, usage.swapped)
    }

    /// Whether `pid`'s cgroup in the target's hierarchy is the target's or below it.
    func isInTree(_ pid: Int32, of target: FreezerTarget) -> Bool {
        guard let cgroups = ProcessCgroups.ifAlive(pid: pid),
              let directory = cgroups.directory(in: target.cgroup.hierarchy, layout: layout) else { return false }
        return CgroupLayout.isSameOrBelow(directory.string, target.cgroup.path.string)
    }

}

/// What the advice did to the processes worked on together.
struct AdviceOutcome: Sendable {
    let processes: [ProcessMemory.Opened]
    var advised: [UInt64]
    var piecesLeft: [Int]
    var gone: [Bool]
    /// The deadline, a cancellation or an error stopped it with pieces left.
    var stopped = false
    var error: ProcessMemory.Error?

    init(processes: [ProcessMemory.Opened]) {
        self.processes = processes
        advised = Array(repeating: 0, count: processes.count)
        piecesLeft = processes.map(\.pieces.count)
        gone = Array(repeating: false, count: processes.count)
    }

    mutating func record(_ result: Result<UInt64?, ProcessMemory.Error>, of process: Int) {
        switch result {
        case .success(let count?): (advised[process], piecesLeft[process]) = (advised[process] &+ count, piecesLeft[process] - 1)
        case .success(nil): gone[process] = true
        case .failure(let error): self.error = error
        }
    }
}

extension MemoryReport {
    /// The processes of `outcome`, with their memory before (`before`, in the same order) and
    /// now: a process counts as done when every piece of it was advised; one that went away
    /// counts nothing.
    mutating func add(_ outcome: AdviceOutcome, before: [ProcessMemory.Usage]) {
        for (index, process) in outcome.processes.enumerated() where !outcome.gone[index] {
            let after = ProcessMemory.usage(of: process.pid) ?? .zero
            residentBefore &+= before[index].resident
            swappedBefore &+= before[index].swapped
            residentAfter &+= after.resident
            swappedAfter &+= after.swapped
            advised &+= outcome.advised[index]
            if outcome.piecesLeft[index] == 0 { processes += 1 }
        }
        if outcome.stopped || outcome.error != nil { complete = false }
        if let failure = outcome.error { error = failure }
    }
}

/// A cancellation seen from any thread (`whileNotCancelled`).
private final class CancellationFlag: Sendable {
    private let flag = Atomic<Bool>(false)

    var isSet: Bool { flag.load(ordering: .relaxed) }

    func set() { flag.store(true, ordering: .relaxed) }
}
