import ArgumentParser
import CgroupFreezer

/// `pause --for` and `pause --hold -- COMMAND`: a pause that ends on its own.
struct LeaseOptions: ParsableArguments {
    @Option(name: .customLong("for"), parsing: .unconditional, help: ArgumentHelp(
        "Pause for this long, 1us to 24h: freezectld thaws at expiry, whatever happens to this command (needs the daemon: --host, FREEZECTL_HOST, or one on the default socket).",
        valueName: "duration"),
        transform: { try parseDuration($0, option: "--for") })
    var duration: Duration?

    @Flag(name: .long, help: "Pause, run the COMMAND given after --, and thaw what was paused when it ends (its exit status is freezectl's). Through freezectld the thaw also happens if freezectl is killed.")
    var hold = false

    /// The words after `--` of a `pause` command line, taken off before parsing (ArgumentParser
    /// takes one list of positional arguments, and TARGETs are that list): `Freezectl.main`.
    nonisolated(unsafe) static var commandAfterTerminator: [String] = []

    var command: [String] { Self.commandAfterTerminator }

    /// Takes COMMAND off `arguments` of `pause ... -- COMMAND`.
    static func takeCommand(from arguments: [String]) -> [String] {
        guard let terminator = arguments.firstIndex(of: "--"), arguments[..<terminator].contains("pause") else { return arguments }
        commandAfterTerminator = Array(arguments[(terminator + 1)...])
        return Array(arguments[..<terminator])
    }

    func validate() throws {
        if hold && duration != nil { throw ValidationError("give --for or --hold, not both") }
        if hold && command.isEmpty { throw ValidationError("--hold needs a command after --, e.g. freezectl pause --hold web -- pg_dump db") }
        if !hold && !command.isEmpty { throw ValidationError("a command after -- runs only with --hold") }
    }

    /// The values, for the batch.
    var request: Lease { Lease(duration: duration, hold: hold, command: command) }

    /// What the flags asked for.
    struct Lease {
        var duration: Duration?
        var hold = false
        var command: [String] = []
    }
}
