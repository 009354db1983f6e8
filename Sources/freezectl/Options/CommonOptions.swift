import ContainerEngines
import HealthProbes
import FreezerOperations
import CRIUCheckpoint
import ArgumentParser
import CgroupFreezer
import Logging

/// How results are printed.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case table, json
}

/// A duration such as `500ms`, `10s`, `1m`, bounded to what a freezer command can mean.
enum DurationArgument {
    static let units: [(suffix: String, seconds: Double)] = [("us", 1e-6), ("ms", 1e-3), ("s", 1), ("m", 60), ("h", 3600)]

    /// The longest duration any option takes: a freeze, probe or dump bounded by more than a day
    /// is not bounded at all, and larger values would overflow the nanosecond count.
    static let maximumSeconds: Double = 86_400

    /// Parses `text` for `option`; zero only where `allowZero`. Everything out of range is a usage
    /// error (exit 2) naming the option and the range, never a trap: the bounds are checked on the
    /// Double before it becomes an integer.
    static func parse(_ text: String, option: String, allowZero: Bool = false) throws -> Duration {
        let range = "\(allowZero ? "0s" : "1us") to 24h"
        for unit in units.sorted(by: { $0.suffix.count > $1.suffix.count }) where text.hasSuffix(unit.suffix) {
            guard let value = Double(text.dropLast(unit.suffix.count)), value.isFinite else { break }
            let seconds = value * unit.seconds
            if seconds < 0 {
                throw ValidationError("\(option) \"\(text)\" is negative: give a duration from \(range)")
            }
            if seconds == 0 && allowZero { return .zero }
            guard seconds >= 1e-6 else {
                throw ValidationError("\(option) \"\(text)\" is shorter than \(allowZero ? "a microsecond (or give 0s)" : "a microsecond"): give a duration from \(range)")
            }
            guard seconds <= maximumSeconds else {
                throw ValidationError("\(option) \"\(text)\" is longer than a day: give a duration from \(range)")
            }
            return .nanoseconds(Int64((seconds * 1e9).rounded()))
        }
        throw ValidationError("\(option) \"\(text)\" is not a duration: give a number with a unit from \(range), e.g. 500ms, 10s, 1m (units: us, ms, s, m, h)")
    }
}

/// Options every subcommand shares.
struct CommonOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Output format: table or json (one JSON object per line, see docs/json-output.md).", valueName: "format"))
    var format: OutputFormat = .table

    @Flag(name: [.short, .long], help: "Print nothing on success; errors still go to standard error.")
    var quiet = false

    @Flag(name: .long, help: "Log each kernel write and wait to standard error.")
    var verbose = false

    func makeLogger() -> Logger {
        var logger = Logger(label: "freezectl") { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = verbose ? .debug : .warning
        return logger
    }
}

/// Options of the state-changing subcommands.
struct OperationOptions: ParsableArguments {
    // `.unconditional`: "-5s" is taken as the value (and refused as negative), not as an option.
    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp(
        "How long to wait for the kernel to confirm, 1us to 24h, e.g. 500ms, 10s, 1m. A freeze that does not complete in time is thawed again and reported as failed. (default: 10s)",
        valueName: "duration"),
        transform: { try DurationArgument.parse($0, option: "--timeout") })
    var timeout: Duration = CgroupFreezer.defaultTimeout
}
