import CommandSyntax
import FreezectlReports
import ContainerRuntimes
import FreezerOperations
import CgroupFreezer
import Logging

/// How results are printed.
package enum OutputFormat: String, CaseIterable, Sendable {
    case table, json
}

/// Options every subcommand shares.
package struct CommonOptions: Sendable {
    package static let spec = OptionGroupSpec([
        .option("format", value: "format", "Output format: table or json (one JSON object per line, see docs/json-output.md)."),
        .flag("quiet", short: "q", "Print nothing on success; errors still go to standard error."),
        .flag("verbose", "Log each kernel write and wait to standard error."),
    ])

    package var format: OutputFormat = .table
    package var quiet = false
    package var verbose = false

    package init(format: OutputFormat = .table, quiet: Bool = false, verbose: Bool = false) {
        self.format = format
        self.quiet = quiet
        self.verbose = verbose
    }

    package init(_ line: ParsedLine) throws {
        self.init(format: try line.choice("format", default: .table), quiet: line.flag("quiet"), verbose: line.flag("verbose"))
    }

    package func makeLogger() -> Logger {
        var logger = Logger(label: "freezectl") { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = verbose ? .debug : .warning
        return logger
    }
}

/// Options of the state-changing subcommands.
package struct OperationOptions: Sendable {
    package static let spec = OptionGroupSpec([
        .option("timeout", value: "duration", "How long to wait for the kernel to confirm, 1us to 24h, e.g. 500ms, 10s, 1m. A freeze that does not complete in time is thawed again and reported as failed. (default: 10s)"),
    ])

    package var timeout: Duration = CgroupFreezer.defaultTimeout

    package init(timeout: Duration = CgroupFreezer.defaultTimeout) { self.timeout = timeout }

    package init(_ line: ParsedLine) throws {
        timeout = try line.value("timeout", default: CgroupFreezer.defaultTimeout) { try parseDuration($0, option: "--timeout") }
    }
}

/// A duration option (FreezectlReports' `DurationArgument`); out of range or malformed is a usage
/// error (exit 2) naming the option and the range.
package func parseDuration(_ text: String, option: String, allowZero: Bool = false) throws -> Duration {
    do {
        return try DurationArgument.parse(text, option: option, allowZero: allowZero)
    } catch {
        throw UsageError(error.description)
    }
}
