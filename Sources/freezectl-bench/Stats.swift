/// The samples of one measured quantity, in seconds (or KiB for memory), and their summary.
struct Series: Codable {
    /// Section of the report: "library", "cli", "batch", "memory".
    let group: String
    /// What was measured, e.g. "freeze v1, 100 processes, freezectl library".
    let name: String
    /// "s" for durations, "KiB" for peak memory.
    let unit: String
    /// Parameters a table or the scaling plot is keyed by (backend, processes, containers, tool).
    let parameters: [String: String]
    var samples: [Double]

    init(group: String, name: String, unit: String = "s", parameters: [String: String] = [:], samples: [Double] = []) {
        self.group = group
        self.name = name
        self.unit = unit
        self.parameters = parameters
        self.samples = samples
    }

    var median: Double { quantile(0.5) }
    var p10: Double { quantile(0.1) }
    var p90: Double { quantile(0.9) }

    /// Linear interpolation between closest ranks.
    func quantile(_ q: Double) -> Double {
        let sorted = samples.sorted()
        guard !sorted.isEmpty else { return .nan }
        let position = q * Double(sorted.count - 1)
        let lower = Int(position.rounded(.down)), upper = Int(position.rounded(.up))
        return sorted[lower] + (sorted[upper] - sorted[lower]) * (position - Double(lower))
    }
}

/// Formats seconds with a unit that keeps three significant digits readable.
func formatDuration(_ seconds: Double) -> String {
    guard seconds.isFinite else { return "–" }
    if seconds < 1e-3 { return String(format: "%.0f µs", seconds * 1e6) }
    if seconds < 1 { return String(format: "%.2f ms", seconds * 1e3) }
    return String(format: "%.2f s", seconds)
}

func formatRatio(_ ratio: Double) -> String {
    guard ratio.isFinite else { return "–" }
    return ratio >= 10 ? String(format: "%.0f×", ratio) : String(format: "%.2f×", ratio)
}
