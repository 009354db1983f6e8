import Foundation

/// The deep pause's part of docs/benchmarks.md (DeepPauseSuite's series): its targets' rows and
/// section 7.
struct DeepPauseReport {
    let report: Report

    private var size: String? { report.series.first { $0.group == "deeppause" }?.parameters["megabytes"] }

    private func find(_ mode: String) -> Series? {
        size.flatMap { report.find("deeppause", ["megabytes": $0, "mode": mode]) }
    }

    /// The footprint against running, in percent of running.
    private var footprint: Double {
        guard let running = find("running")?.median, let paused = find("deep-paused")?.median, running > 0 else { return .nan }
        return 100 * paused / running
    }

    /// Rows of the targets table.
    func targets() -> [String] {
        guard let size else { return [] }
        let met = footprint <= 10
        var rows = ["| resident memory of the deep-paused \(size) MiB workload at most 10% of running (freeshard aims at 25%) | "
                    + (footprint.isFinite ? Self.percent(footprint) + " (\(Self.kibibytes(find("deep-paused")?.median ?? .nan)))" : "–")
                    + " | \(footprint.isFinite ? (met ? "yes" : "**no**") : "–") |"]
        for (mode, label) in [("wake reclaimed", "without"), ("wake prefetched", "with")] {
            let p95 = find(mode)?.quantile(0.95) ?? .nan
            rows.append("| wake of the deep-paused \(size) MiB workload \(label) `--prefetch` within 2 s at p95 (freeshard's) | "
                        + "\(formatDuration(p95)) (\(p95.isFinite ? formatRatio(2 / p95) + " under" : "–")) | \(p95.isFinite ? (p95 <= 2 ? "yes" : "**no**") : "–") |")
        }
        return rows
    }

    func render() -> [String] {
        guard let size else { return [] }
        var rows = ["## 7. Deep pause", "",
                    "Workloads of Benchmarks/memory-workload.c (anonymous memory filled with a pattern) in a v1 freezer cgroup, with zram0 as swap (made for the run when the machine has none). "
                    + "Footprint: the kernel's VmRSS of the workload running, and after `freezectl pause --reclaim`. "
                    + "Wake: the workload is sent SIGUSR1 while frozen (handled at the thaw: it reads one byte of every page and says when it is done); the time runs from the start of `freezectl unpause` (or `unpause --prefetch`) to the workload done. "
                    + "Plain: paused without `--reclaim`, the same workload never reclaimed; the three kinds of round take turns, and before each the workload writes all its memory again (it used it while it ran, so the reclaim has dirty pages to write out, not clean copies of what swap holds).", "",
                    "| what | median (p10–p90) | p95 |", "|---|---|---|"]
        if let running = find("running"), let paused = find("deep-paused") {
            rows.append("| resident, running | \(Self.kibibytes(running.median)) | |")
            rows.append("| resident, deep-paused | \(Self.kibibytes(paused.median)) (\(Self.percent(footprint)) of running) | |")
        }
        for mode in ["pause --reclaim", "wake plain", "wake reclaimed", "wake prefetched"] {
            guard let series = find(mode) else { continue }
            rows.append("| \(series.name) | \(cell(series)) | \(formatDuration(series.quantile(0.95))) |")
        }
        rows += ["", "How reclaim and prefetch grow (the library's `CgroupFreezer.reclaim` and `prefetch` on a frozen cgroup, the workloads' memory written again before each round; against size, one process; against process count, \(size) MiB divided among them in whole MiB):", "",
                 "| processes × size | reclaim | prefetch |", "|---|---|---|"]
        for series in report.series where series.group == "deeppause-cost" && series.parameters["operation"] == "reclaim" {
            let prefetch = report.find("deeppause-cost", series.parameters.merging(["operation": "prefetch"]) { $1 })
            rows.append("| \(series.name.replacingOccurrences(of: "reclaim, ", with: "")) | \(cell(series)) | \(cell(prefetch)) |")
        }
        return rows + [""]
    }

    /// KiB as KiB under 1 MiB, else MiB.
    static func kibibytes(_ value: Double) -> String {
        guard value.isFinite else { return "–" }
        return value < 1024 ? String(format: "%.0f KiB", value) : String(format: "%.1f MiB", value / 1024)
    }

    /// A percentage with three significant digits (0.00305%, 12.5%).
    static func percent(_ value: Double) -> String { String(format: "%.3g%%", value) }

    private func cell(_ series: Series?) -> String {
        guard let series, !series.samples.isEmpty else { return "–" }
        return "\(formatDuration(series.median)) (\(formatDuration(series.p10))–\(formatDuration(series.p90)))"
    }
}
