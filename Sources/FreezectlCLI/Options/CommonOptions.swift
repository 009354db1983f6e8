import FreezectlReports
import ContainerRuntimes
import FreezerOperations
import ArgumentParser
import CgroupFreezer
import Logging

/// How results are printed.
package enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case table, json
}

/// Options every subcommand shares.
package struct CommonOptions: ParsableArguments {
    package init() {}

    @Option(name: .long, help: ArgumentHelp("Output format: table or json (one JSON object per line, see docs/json-output.md).", valueName: "format"))
    package var format: OutputFormat = .table

    @Flag(name: [.short, .long], help: "Print nothing on success; errors still go to standard error.")
    package var quiet = false

    @Flag(name: .long, help: "Log each kernel write and wait to standard error.")
    package var verbose = false

    package func makeLogger() -> Logger {
        var logger = Logger(label: "freezectl") { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = verbose ? .debug : .warning
        return logger
    }
}

/// Options of the state-changing subcommands.
package struct OperationOptions: ParsableArguments {
    package init() {}

    // `.unconditional`: "-5s" is taken as the value (and refused as negative), not as an option.
    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp(
        "How long to wait for the kernel to confirm, 1us to 24h, e.g. 500ms, 10s, 1m. A freeze that does not complete in time is thawed again and reported as failed. (default: 10s)",
        valueName: "duration"),
        transform: { try parseDuration($0, option: "--timeout") })
    package var timeout: Duration = CgroupFreezer.defaultTimeout
}

/// A duration option (FreezectlReports' `DurationArgument`); out of range or malformed is a usage
/// error (exit 2) naming the option and the range.
package func parseDuration(_ text: String, option: String, allowZero: Bool = false) throws -> Duration {
    do {
        return try DurationArgument.parse(text, option: option, allowZero: allowZero)
    } catch {
        throw ValidationError(error.description)
    }
}
