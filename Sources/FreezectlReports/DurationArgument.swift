/// An option of the CLI or a field of a daemon request that is malformed or out of range; the
/// message names it and what it takes (the CLI's exit 2, the daemon's 400).
public struct ArgumentError: Swift.Error, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// A duration such as `500ms`, `10s`, `1m`, bounded to what a freezer command can mean.
public enum DurationArgument {
    public static let units: [(suffix: String, seconds: Double)] = [("us", 1e-6), ("ms", 1e-3), ("s", 1), ("m", 60), ("h", 3600)]

    /// A duration that is malformed or out of range; the message names the option and the range.
    public typealias Error = ArgumentError

    /// The longest duration any option takes: a freeze, probe or dump bounded by more than a day
    /// is not bounded at all, and larger values would overflow the nanosecond count.
    public static let maximumSeconds: Double = 86_400

    /// Parses `text` for `option`; zero only where `allowZero`. Everything out of range is an error
    /// naming the option and the range (the CLI's exit 2, the daemon's 400), never a trap: the bounds are checked on the
    /// Double before it becomes an integer.
    public static func parse(_ text: String, option: String, allowZero: Bool = false) throws(DurationArgument.Error) -> Duration {
        // Every message shows the valid forms: the next step is to type one.
        let range = "\(allowZero ? "0s" : "1us") to 24h, e.g. 500ms, 10s, 1m"
        for unit in units.sorted(by: { $0.suffix.count > $1.suffix.count }) where text.hasSuffix(unit.suffix) {
            guard let value = Double(text.dropLast(unit.suffix.count)), value.isFinite else { break }
            let seconds = value * unit.seconds
            if seconds < 0 {
                throw Error("\(option) \"\(text)\" is negative: give a duration from \(range)")
            }
            if seconds == 0 && allowZero { return .zero }
            guard seconds >= 1e-6 else {
                throw Error("\(option) \"\(text)\" is shorter than \(allowZero ? "a microsecond (or give 0s)" : "a microsecond"): give a duration from \(range)")
            }
            guard seconds <= maximumSeconds else {
                throw Error("\(option) \"\(text)\" is longer than a day: give a duration from \(range)")
            }
            return .nanoseconds(Int64((seconds * 1e9).rounded()))
        }
        throw Error("\(option) \"\(text)\" is not a duration: give a number with a unit (us, ms, s, m, h) from \(range)")
    }
}

