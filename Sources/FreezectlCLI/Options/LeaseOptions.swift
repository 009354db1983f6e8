import CommandSyntax
import CgroupFreezer

/// `pause --for` and `pause --hold -- COMMAND`: a pause that ends on its own.
package struct LeaseOptions: Sendable {
    package static let spec = OptionGroupSpec(title: "Leases", [
        .option("for", value: "duration", "Pause for this long, 1us to 24h: freezectld thaws at expiry, whatever happens to this command (needs the daemon: --host, FREEZECTL_HOST, or one on the default socket)."),
        .flag("hold", "Pause, run the COMMAND given after --, and thaw what was paused when it ends (its exit status is freezectl's). Through freezectld the thaw also happens if freezectl is killed."),
    ])

    package var duration: Duration?
    package var hold = false

    /// The words after `--` of a `pause` command line, taken off before parsing (TARGETs are
    /// the positional arguments, so COMMAND cannot be) and given here.
    package var command: [String] = []

    /// The options of `line`, with the COMMAND split off before it; validated together.
    package init(_ line: ParsedLine, command: [String]) throws {
        duration = try line.value("for", default: nil) { try parseDuration($0, option: "--for") }
        hold = line.flag("hold")
        self.command = command
        try validateCommand()
    }

    /// Splits `pause ... -- COMMAND` into what is parsed and COMMAND.
    package static func splitCommand(_ arguments: [String]) -> (parsed: [String], command: [String]) {
        guard let terminator = arguments.firstIndex(of: "--"), arguments[..<terminator].contains("pause") else { return (arguments, []) }
        return (Array(arguments[..<terminator]), Array(arguments[(terminator + 1)...]))
    }

    /// Checks --for, --hold and COMMAND together (a usage error, exit 2).
    private func validateCommand() throws {
        if hold && duration != nil { throw UsageError("give --for or --hold, not both") }
        if hold && command.isEmpty { throw UsageError("--hold needs a command after --, e.g. freezectl pause --hold web -- pg_dump db") }
        if !hold && !command.isEmpty { throw UsageError("a command after -- runs only with --hold") }
    }

    /// The values, for the batch.
    package var request: Lease { Lease(duration: duration, hold: hold, command: command) }

    /// What the flags asked for.
    package struct Lease {
        package var duration: Duration?
        package var hold = false
        package var command: [String] = []
    }
}
