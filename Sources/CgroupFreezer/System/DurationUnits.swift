extension Duration {
    /// `1µs`, `250ms`, `10s`, `1.5s`: the way the CLI's --timeout takes durations.
    package var shortDescription: String {
        let nanoseconds = Double(components.seconds) * 1e9 + Double(components.attoseconds) / 1e9
        let (value, unit): (Double, String) = switch nanoseconds {
        case ..<1e3: (nanoseconds, "ns")
        case ..<1e6: (nanoseconds / 1e3, "µs")
        case ..<1e9: (nanoseconds / 1e6, "ms")
        default: (nanoseconds / 1e9, "s")
        }
        let rounded = (value * 10).rounded() / 10
        // Int(exactly:) never traps: a huge duration from a library caller prints as a Double.
        return rounded == rounded.rounded() ? (Int(exactly: rounded).map { "\($0)\(unit)" } ?? "\(rounded)\(unit)") : "\(rounded)\(unit)"
    }

    /// Whole nanoseconds, for APIs that take them; saturating (a library caller may pass any Duration).
    package var nanoseconds: Int64 {
        let (product, overflow) = components.seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return components.seconds < 0 ? .min : .max }
        let (sum, overflowed) = product.addingReportingOverflow(components.attoseconds / 1_000_000_000)
        return overflowed ? .max : sum
    }

    /// Milliseconds with fractions, as records and reports give durations.
    package var milliseconds: Double {
        Double(components.seconds) * 1000 + Double(components.attoseconds) / 1e15
    }
}

/// Sleeps for `duration`; false when the task is cancelled (before or during the sleep), which
/// is the only error `Task.sleep` throws: the caller's loop then ends.
package func sleepUnlessCancelled(for duration: Duration) async -> Bool {
    do {
        try await Task.sleep(for: duration)
        return true
    } catch {
        return false
    }
}
