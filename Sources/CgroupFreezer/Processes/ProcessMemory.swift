import CLinuxSupport
import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// A process's memory as the kernel counts it, and advice on its pages through
/// process_madvise(2): the deep pause's reclaim (MADV_PAGEOUT: the pages go to swap or, for
/// file pages, are dropped) and prefetch (MADV_WILLNEED), on layouts where the memory
/// controller is cgroup v1 and `memory.reclaim` does not exist (issue 33).
package enum ProcessMemory {
    /// A process's share of resident and swapped memory: Pss and SwapPss of
    /// /proc/PID/smaps_rollup, so that a page shared by processes of one tree (a forked server's
    /// workers) counts once in the tree's sum, not once per process.
    package struct Usage: Sendable, Equatable {
        package var resident: UInt64
        package var swapped: UInt64

        package init(resident: UInt64, swapped: UInt64) { (self.resident, self.swapped) = (resident, swapped) }

        package static func + (a: Usage, b: Usage) -> Usage {
            Usage(resident: a.resident &+ b.resident, swapped: a.swapped &+ b.swapped)
        }

        package static let zero = Usage(resident: 0, swapped: 0)
    }

    /// What the kernel is asked to do with a process's pages.
    package enum Advice: Sendable {
        /// Reclaim them now (MADV_PAGEOUT): anonymous pages to swap, clean file pages dropped.
        case pageOut
        /// Read them back ahead of use (MADV_WILLNEED).
        case willNeed

        var value: Int32 { self == .pageOut ? CLINUX_MADV_PAGEOUT : CLINUX_MADV_WILLNEED }
    }

    /// Why advice could not be given to a process that is still there.
    package enum Error: ErrorAdvice, Equatable {
        /// process_madvise refused (EPERM: no CAP_SYS_NICE, or no ptrace access to the process).
        case refused(pid: Int32, errno: Errno)
        /// process_madvise or pidfd_open do not exist on this kernel (before Linux 5.10).
        case unsupported(errno: Errno)

        package var code: String {
            switch self {
            case .refused: return "memory-advice-refused"
            case .unsupported: return "memory-advice-unsupported"
            }
        }

        package var message: String {
            switch self {
            case .refused(let pid, let errno): return "process_madvise of process \(pid) refused: \(errno)"
            case .unsupported(let errno): return "process_madvise is not available: \(errno)"
            }
        }

        package var errno: Errno? {
            switch self {
            case .refused(_, let errno), .unsupported(let errno): return errno
            }
        }

        package var advice: String {
            switch self {
            case .refused: return "run as root: the advice needs CAP_SYS_NICE and ptrace access to every process of the target"
            case .unsupported: return "run on Linux 5.10 or later, or pause without --reclaim/--prefetch"
            }
        }
    }

    /// The memory of `pid` now, or nil when it is gone (or a kernel thread, which has none).
    package static func usage(of pid: Int32) -> Usage? {
        guard pid > 0, let rollup = CgroupFile.procFileIfReadable(FilePath("/proc/\(pid)/smaps_rollup")) else { return nil }
        return usage(smapsRollup: rollup)
    }

    /// Pss and SwapPss of a /proc/PID/smaps_rollup text (kB); nil without Pss (a kernel
    /// thread's is empty).
    package static func usage(smapsRollup text: String) -> Usage? {
        var resident: UInt64?
        var swapped: UInt64 = 0
        for line in text.split(separator: "\n") where line.hasPrefix("Pss:") || line.hasPrefix("SwapPss:") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 2, let kilobytes = UInt64(fields[1]) else { continue }
            // At most 2^54 kB fit: larger is not a real figure, and the product must not trap.
            let (bytes, overflow) = kilobytes.multipliedReportingOverflow(by: 1024)
            guard !overflow else { continue }
            if fields[0] == "Pss:" { resident = bytes } else { swapped = bytes }
        }
        return resident.map { Usage(resident: $0, swapped: swapped) }
    }

    /// A process opened for advice: a pidfd opened before its start time was checked again (the
    /// advice can only reach the process that started then, never one that reuses its PID), and
    /// its mappings cut into pieces (`pieces(of:)`) that threads can take one by one. `close()`
    /// when done.
    package struct Opened: Sendable {
        package let pid: Int32
        private let pidfd: Int32
        package let pieces: [[clinux_range]]

        /// `pid` if it is still the process that started at `startTime`; nil when it went away
        /// (not an error: a tree's processes may exit while it is worked on).
        package static func open(pid: Int32, startTime: UInt64) throws(Error) -> Opened? {
            let pidfd = clinux_pidfd_open(pid)
            guard pidfd >= 0 else {
                let errno = Errno(rawValue: Glibc.errno)
                if errno == .noSuchProcess || errno == .invalidArgument { return nil }
                throw .unsupported(errno: errno)
            }
            guard ProcessStart.of(pid) == startTime,
                  let maps = CgroupFile.procFileIfReadable(FilePath("/proc/\(pid)/maps")) else {
                Glibc.close(pidfd)
                return nil
            }
            return Opened(pid: pid, pidfd: pidfd, pieces: ProcessMemory.pieces(of: mappings(mapsText: maps)))
        }

        /// `advice` on piece `index`: the bytes advised, or nil when the process went away.
        package func advise(_ advice: Advice, piece index: Int) throws(Error) -> UInt64? {
            try adviseBatch(pieces[index], pidfd: pidfd, pid: pid, advice: advice)
        }

        package func close() { Glibc.close(pidfd) }
    }

    /// Gives `advice` on every mapping of `pid`, piece after piece, if it is still the process
    /// that started at `startTime` (`Opened`). Stops between pieces at `deadline` or when
    /// `cancelled` says so. Returns the bytes advised, or nil when the process went away.
    package static func advise(_ advice: Advice, pid: Int32, startTime: UInt64, deadline: ContinuousClock.Instant,
                               cancelled: () -> Bool = { false }) throws(Error) -> UInt64? {
        guard let opened = try Opened.open(pid: pid, startTime: startTime) else { return nil }
        defer { opened.close() }
        var advised: UInt64 = 0
        for index in opened.pieces.indices {
            if ContinuousClock.now >= deadline || cancelled() { break }
            guard let count = try opened.advise(advice, piece: index) else { return nil }
            advised &+= count
        }
        return advised
    }

    /// The most bytes one process_madvise call is given: small enough that the CPUs share a large
    /// mapping, and that a deadline or a cancellation is seen within milliseconds.
    package static let pieceBytes: UInt = 8 << 20

    /// `ranges` cut into pieces of at most `pieceBytes` and 1024 ranges (IOV_MAX): a large mapping
    /// split at page boundaries (the maps' ranges are page-aligned), small ones grouped.
    package static func pieces(of ranges: [clinux_range]) -> [[clinux_range]] {
        var pieces: [[clinux_range]] = []
        var current: [clinux_range] = []
        var room = pieceBytes
        for range in ranges {
            var start = range.start, left = range.length
            while left > 0 {
                let taken = min(left, room)
                current.append(clinux_range(start: start, length: taken))
                (start, left, room) = (start &+ taken, left - taken, room - taken)
                if room == 0 || current.count == 1024 {
                    pieces.append(current)
                    (current, room) = ([], pieceBytes)
                }
            }
        }
        if !current.isEmpty { pieces.append(current) }
        return pieces
    }

    /// One process_madvise call; a range the kernel refuses (a mapping that changed since maps
    /// was read: ENOMEM, EINVAL) makes the batch go range by range, skipping such ranges.
    private static func adviseBatch(_ ranges: [clinux_range], pidfd: Int32, pid: Int32, advice: Advice) throws(Error) -> UInt64? {
        let result = clinux_process_madvise(pidfd, ranges, UInt(ranges.count), advice.value)
        if result >= 0 { return UInt64(result) }
        var errno = Errno(rawValue: Glibc.errno)
        if errno == .noSuchProcess { return nil }
        if errno == .notPermitted { throw .refused(pid: pid, errno: errno) }
        if errno == .noFunction { throw .unsupported(errno: errno) }
        guard ranges.count > 1 else { return 0 }
        var advised: UInt64 = 0
        for range in ranges {
            var one = range
            let result = clinux_process_madvise(pidfd, &one, 1, advice.value)
            if result >= 0 {
                advised &+= UInt64(result)
                continue
            }
            errno = Errno(rawValue: Glibc.errno)
            if errno == .noSuchProcess { return nil }
            if errno == .notPermitted { throw .refused(pid: pid, errno: errno) }
        }
        return advised
    }

    /// The address ranges of a /proc/PID/maps text, without the kernel's special mappings
    /// (vsyscall lies outside any VMA; vvar and vdso hold no reclaimable pages).
    package static func mappings(mapsText: String) -> [clinux_range] {
        var ranges: [clinux_range] = []
        for line in mapsText.split(separator: "\n") {
            if line.hasSuffix("[vsyscall]") || line.hasSuffix("[vvar]") || line.hasSuffix("[vdso]") || line.hasSuffix("[vvar_vclock]") { continue }
            guard let space = line.firstIndex(of: " "), let dash = line[..<space].firstIndex(of: "-"),
                  let low = UInt(line[..<dash], radix: 16), let high = UInt(line[line.index(after: dash)..<space], radix: 16),
                  high > low else { continue }
            ranges.append(clinux_range(start: low, length: high - low))
        }
        return ranges
    }
}
