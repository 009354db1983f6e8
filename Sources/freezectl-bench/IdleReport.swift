import Foundation

/// The idle controller's part of docs/benchmarks.md (IdleSuite's series): its targets' rows and
/// section 8.
struct IdleReport {
    let report: Report

    private func find(_ operation: String) -> Series? {
        report.series.first { $0.group == "idle" && $0.parameters["operation"] == operation }
    }

    /// What a wake adds to a request at quantile `q`: the idle-frozen container's against the
    /// same container's running, at that quantile.
    private func added(_ q: Double, wake: String = "wake", running: String = "running") -> Double {
        guard let wake = find(wake), let running = find(running), !wake.samples.isEmpty, !running.samples.isEmpty else { return .nan }
        return wake.quantile(q) - running.quantile(q)
    }

    /// Rows of the targets table.
    func targets() -> [String] {
        guard find("wake") != nil || find("watch-cpu") != nil else { return [] }
        func row(_ name: String, _ value: Double, _ met: Bool, _ text: String) -> String {
            "| \(name) | \(value.isFinite ? text : "–") | \(value.isFinite ? (met ? "yes" : "**no**") : "–") |"
        }
        let count = find("wake")?.samples.count ?? 0
        let (p50, p99) = (added(0.5), added(0.99))
        let detect = find("detect")?.samples.max() ?? .nan
        let cpu = find("watch-cpu")?.median ?? .nan
        let watched = find("watch-cpu")?.parameters["containers"] ?? "?"
        let (manyP50, manyP99) = (added(0.5, wake: "wake-many", running: "running-many"), added(0.99, wake: "wake-many", running: "running-many"))
        return [
            row("first request to an idle-frozen HTTP container: added latency at p50 at most 2 ms (\(count) wakes)", p50, p50 <= 2e-3, formatDuration(p50)),
            row("... and at p99 at most 10 ms", p99, p99 <= 10e-3, formatDuration(p99)),
            row("watching \(watched) idle-frozen containers costs freezectld at most 1% of one core", cpu, cpu <= 1, String(format: "%.2f%%", cpu)),
            row("wakes among \(watched) watched containers stay within 2 ms (p50) and 10 ms (p99) added", max(manyP50, manyP99),
                manyP50 <= 2e-3 && manyP99 <= 10e-3, "\(formatDuration(manyP50)) / \(formatDuration(manyP99))"),
            row("idle-frozen within after + 1 s of the last request", detect, detect <= IdleSuite.after + 1,
                "at most \(String(format: "%.2f", detect)) s (after \(Int(IdleSuite.after)) s)"),
        ]
    }

    func render() -> [String] {
        guard find("wake") != nil || find("watch-cpu") != nil else { return [] }
        var rows = ["## 8. Idle freeze and wake on the first packet", "",
                    "runc containers serving a page with busybox httpd, each in a network namespace of its own, opted in with `io.freezectl.idle-after=\(Int(IdleSuite.after))s`, judged by freezectld (release build). "
                    + "Benchmarks/idle-client.py runs inside each container's network namespace: it waits until the container's freezer.state says FROZEN, then times one HTTP/1.0 request (the first: its SYN wakes the container) and one right after (the same container, running); the added latency is the first's quantile minus the second's. "
                    + "Detection: from the end of the last request to FROZEN seen (read every 20 ms). "
                    + "Watching: freezectld's user and system CPU time (/proc/PID/stat) over a window in which every container is idle-frozen, then one wake in every fifth container; the clients of several containers start spread over the quiet time, so that one wake is measured at a time, not a queue of simultaneous ones.", "",
                    "| what | median (p10–p90) | p99 | samples |", "|---|---|---|---|"]
        for series in report.series where series.group == "idle" {
            let p99 = series.unit == "s" ? formatDuration(series.quantile(0.99)) : ""
            let median = series.unit == "%" ? String(format: "%.2f%% of one core over %@ s", series.median, series.parameters["window"] ?? "?") : cell(series)
            rows.append("| \(series.name) | \(median) | \(p99) | \(series.samples.count) |")
        }
        rows += ["", "Added by the wake: p50 \(formatDuration(added(0.5))), p99 \(formatDuration(added(0.99))).", ""]
        return rows
    }

    private func cell(_ series: Series) -> String {
        guard !series.samples.isEmpty else { return "–" }
        return "\(formatDuration(series.median)) (\(formatDuration(series.p10))–\(formatDuration(series.p90)))"
    }
}
