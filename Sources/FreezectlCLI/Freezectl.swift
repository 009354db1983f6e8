import CommandSyntax
import ContainerRuntimes
import FreezerOperations
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CgroupFreezer
#if canImport(Glibc)
import Glibc
#endif

/// Exit codes a script can rely on (README "Exit codes").
package enum ExitStatus {
    /// Every target done, or already in the requested state.
    package static let success: Int32 = 0
    /// At least one target failed.
    package static let failure: Int32 = 1
    /// Bad usage or malformed input; nothing was written for the bad target.
    package static let badInput: Int32 = 2
    /// At least one target ended unhealthy after `unpause --health-*` (with fail or refreeze).
    package static let unhealthy: Int32 = 3
}

/// The root of the command tree: its options (`--host`), help and version, and the parse of a
/// whole command line into one command (with the CommandSyntax module's parser).
package struct Freezectl: Sendable {
    /// freezectld's socket (--host); nil: FREEZECTL_HOST, else act directly.
    package var host: String?

    package init(host: String? = nil) { self.host = host }

    package static let abstract = "Pause and thaw Linux process trees with the kernel's cgroup freezer."

    package static var discussion: String {
        "TARGET is one of:\n" + TargetSpec.forms.map { form in
            "  " + form.syntax.padded(to: 20) + form.meaning
        }.joined(separator: "\n") + """


        Exit codes:
          0  every target done (or already in the requested state)
          1  at least one target failed (timeout, permission denied, frozen by
             a parent, self-freeze refused)
          2  bad usage or malformed input (unknown target form, path not a
             cgroup, no such process, bad --timeout); nothing is written for
             such a target
          3  unpause --health-*: at least one target ended unhealthy
             (--on-unhealthy fail or refreeze)
          129, 130, 143  stopped by SIGHUP, SIGINT or SIGTERM: what was in
             progress was undone (a waiting freeze thawed, --atomic rolled
             back, a CRIU dump given 10s, then killed and the tree thawed),
             the results so far printed and audited
        """
    }

    /// The options before the command's name.
    package static let options: [OptionSpec] = [
        .option("host", value: "url", "Send pause, unpause and status to freezectld on this socket instead of acting directly, e.g. unix:///run/freezectl/freezectl.sock (default: $FREEZECTL_HOST). The daemon's policy decides what you may do; the output and exit codes are the same."),
    ]

    /// `--host` where pause, unpause and status also take it: after their name, as before it.
    package static let hostGroup = OptionGroupSpec(options)

    /// The commands, in help's order.
    package static let commands = [Pause.spec, Unpause.spec, Status.spec, Checkpoint.spec, Restore.spec, Verify.spec, CriuHook.spec]

    /// The whole syntax: help, man pages and completions come from it (CommandSyntax). Built
    /// only for them: its discussion lists every target form, which an everyday start never shows.
    package static var program: ProgramSpec {
        ProgramSpec(name: "freezectl", version: BuildInfo.versionLine, abstract: abstract, discussion: discussion, options: options, commands: commands)
    }

    /// `--version`, `--generate-manual`, `--generate-completion-script`: `text` is the answer.
    package struct PrintRequest: Error {
        package let text: String
    }

    /// The command `arguments` (without the executable's name) make. Throws UsageError (with the
    /// command's spec when the error is in its part of the line), HelpRequest or PrintRequest.
    package static func parse(_ arguments: [String]) throws -> any ServedCommand {
        let (parsed, afterTerminator) = LeaseOptions.splitCommand(arguments)
        var words = parsed[...]
        if let text = try CommandDocs.requested(by: words, of: program) { throw PrintRequest(text: text) }
        var root = try readRootOptions(&words)
        guard let name = words.popFirst() else { throw HelpRequest(command: nil) }
        if name == "help" {
            guard let asked = words.first else { throw HelpRequest(command: nil) }
            throw HelpRequest(command: try ProgramSpec.command(named: asked, in: commands))
        }
        let spec = try ProgramSpec.command(named: name, in: commands)
        do {
            let line = try ParsedLine(words, spec: spec)
            if let host = line.value("host") {
                if root.host != nil { throw UsageError("'--host' is given more than once; give it once") }
                root.host = host
            }
            switch spec.name {
            case Pause.spec.name: return try Pause(line, root: root, command: afterTerminator)
            case Unpause.spec.name: return try Unpause(line, root: root)
            case Status.spec.name: return try Status(line, root: root)
            case Checkpoint.spec.name: return try Checkpoint(line)
            case Restore.spec.name: return try Restore(line)
            case Verify.spec.name: return try Verify(line)
            default: return CriuHook()
            }
        } catch var error as UsageError {
            error.command = error.command ?? spec
            throw error
        }
    }

    /// `--host URL`, `--host=URL`, `--version`, `-h`/`--help` before the command's name.
    private static func readRootOptions(_ words: inout ArraySlice<String>) throws -> Freezectl {
        var root = Freezectl()
        while let word = words.first, word.hasPrefix("-") {
            words.removeFirst()
            switch word {
            case "-h", "--help": throw HelpRequest(command: nil)
            case "--version": throw PrintRequest(text: BuildInfo.versionLine)
            case "--host", _ where word.hasPrefix("--host="):
                if root.host != nil { throw UsageError("'--host' is given more than once; give it once") }
                if word == "--host" {
                    guard let value = words.popFirst() else { throw UsageError("Missing value for '--host <url>'") }
                    root.host = value
                } else {
                    root.host = String(word.dropFirst("--host=".count))
                }
            default:
                throw UsageError("Unknown option '\(word)' (the command's own options come after its name)")
            }
        }
        return root
    }

    /// Parses the command line, decides which executable serves it (Handoff.server: freezectl
    /// passes `engineSide` nil, freezectl-engines its own) and runs it; a usage error is exit 2
    /// with the command's usage. A handover happens before the first suspension, on the main
    /// thread: freezectl leaves before the concurrency runtime starts its worker threads
    /// (docs/performance.md).
    package static func start(engineSide: (any EngineSide)?) async {
        // A closed pipe on stdout or stderr (`freezectl ... | head -1`) must never kill freezectl
        // between a freeze and its thaw: writes then fail with EPIPE (FileHandleOutput).
        signal(SIGPIPE, SIG_IGN)
        let arguments = commandArguments()
        do {
            let command = try parse(arguments)
            // Run where the one rule says (Handoff.server): freezectl-engines runs everything;
            // freezectl runs what the rule leaves it and becomes freezectl-engines for the rest.
            // Here, not in a function of Handoff's: the pause path stays short (docs/architecture.md).
            do {
                if let engineSide {
                    try await command.run(on: engineSide)
                } else if let local = command as? any KernelSideCommand, Handoff.server(for: command.needs) == .freezectl {
                    try await local.runKernelSide()
                } else {
                    Handoff.exec(arguments)
                }
            } catch var usage as UsageError where usage.command == nil {
                // Found while it ran (options checked together, e.g. the health check's): its usage.
                usage.command = type(of: command).spec
                throw usage
            }
        } catch let exit as ExitCode {
            terminate(exit.rawValue)
        } catch let help as HelpRequest {
            FileHandleOutput.standardOutput(help.command.map(CommandHelp.text) ?? CommandHelp.text(for: program))
            terminate(ExitStatus.success)
        } catch let request as PrintRequest {
            FileHandleOutput.standardOutput(request.text)
            terminate(ExitStatus.success)
        } catch let usage as UsageError {
            FileHandleOutput.standardError(CommandHelp.usageError(usage, program: program))
            terminate(ExitStatus.badInput)
        } catch {
            // Commands report their own failures and throw ExitCode; anything else is said as it is.
            Output.error("\(error)")
            terminate(ExitStatus.failure)
        }
    }
}

extension Freezectl {
    /// The command line's arguments, as the commands read them. CRIU execs its --action-script
    /// path without arguments (criu/action-scripts.c), so `freezectl` alone with
    /// CRTOOLS_SCRIPT_ACTION set is the criu-hook.
    private static func commandArguments() -> [String] {
        let arguments = Array(CommandLine.arguments.dropFirst())
        return arguments.isEmpty && getenv("CRTOOLS_SCRIPT_ACTION") != nil ? ["criu-hook"] : arguments
    }
}

/// A command asks to end with this exit code (its output is printed).
package struct ExitCode: Error {
    package let rawValue: Int32
    package init(_ rawValue: Int32) { self.rawValue = rawValue }
}

/// exit(3), named for what it does here: the run ends with `code`.
private func terminate(_ code: Int32) -> Never {
    exit(code)
}
