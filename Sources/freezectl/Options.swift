import ArgumentParser
import CgroupFreezer
import Logging

/// How results are printed.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case table, json
}

/// A duration such as `500ms`, `10s`, `1m`.
struct DurationArgument: ExpressibleByArgument {
    let duration: Duration

    init?(argument: String) {
        guard let parsed = try? Self.parse(argument) else { return nil }
        duration = parsed
    }

    static let units: [(suffix: String, seconds: Double)] = [("us", 1e-6), ("ms", 1e-3), ("s", 1), ("m", 60), ("h", 3600)]

    static func parse(_ text: String, allowZero: Bool = false) throws -> Duration {
        for unit in units.sorted(by: { $0.suffix.count > $1.suffix.count }) where text.hasSuffix(unit.suffix) {
            let number = text.dropLast(unit.suffix.count)
            if let value = Double(number), value > 0 || (allowZero && value == 0), value.isFinite {
                return .nanoseconds(Int64((value * unit.seconds * 1e9).rounded()))
            }
        }
        throw ValidationError("invalid duration \"\(text)\": give a positive number with a unit, e.g. 500ms, 10s, 1m (units: us, ms, s, m, h)")
    }

    static var defaultValueDescription: String { "10s" }
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
    @Option(name: .long, help: ArgumentHelp(
        "How long to wait for the kernel to confirm, e.g. 500ms, 10s, 1m. A freeze that does not complete in time is thawed again and reported as failed. (default: 10s)",
        valueName: "duration"),
        transform: { try DurationArgument.parse($0) })
    var timeout: Duration = CgroupFreezer.defaultTimeout
}

/// Parses TARGET arguments; a malformed one is a usage error (exit 2) before anything is done.
func parseTarget(_ text: String) throws -> TargetSpec {
    do {
        return try TargetSpec(parsing: text)
    } catch {
        throw ValidationError(error.description)
    }
}
