import ArgumentParser
import CgroupFreezer

/// `pause --for` and `pause --hold -- COMMAND`: a pause that ends on its own.
package struct LeaseOptions: ParsableArguments {
    package init() {}

    @Option(name: .customLong("for"), parsing: .unconditional, help: ArgumentHelp(
        "Pause for this long, 1us to 24h: freezectld thaws at expiry, whatever happens to this command (needs the daemon: --host, FREEZECTL_HOST, or one on the default socket).",
        valueName: "duration"),
        transform: { try parseDuration($0, option: "--for") })
    package var duration: Duration?

    @Flag(name: .long, help: "Pause, run the COMMAND given after --, and thaw what was paused when it ends (its exit status is freezectl's). Through freezectld the thaw also happens if freezectl is killed.")
    package var hold = false

    /// The words after `--` of a `pause` command line, taken off before parsing (ArgumentParser
    /// takes one list of positional arguments, and TARGETs are that list) and set after it
    /// (`Freezectl.start`).
    package var command: [String] = []

    /// Splits `pause ... -- COMMAND` into what is parsed and COMMAND.
    package static func splitCommand(_ arguments: [String]) -> (parsed: [String], command: [String]) {
        guard let terminator = arguments.firstIndex(of: "--"), arguments[..<terminator].contains("pause") else { return (arguments, []) }
        return (Array(arguments[..<terminator]), Array(arguments[(terminator + 1)...]))
    }

    /// Checks --for, --hold and COMMAND together, once COMMAND is set (a usage error, exit 2).
    package func validateCommand() throws {
        if hold && duration != nil { throw ValidationError("give --for or --hold, not both") }
        if hold && command.isEmpty { throw ValidationError("--hold needs a command after --, e.g. freezectl pause --hold web -- pg_dump db") }
        if !hold && !command.isEmpty { throw ValidationError("a command after -- runs only with --hold") }
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
