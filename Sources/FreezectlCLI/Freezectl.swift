import ContainerRuntimes
import FreezerOperations
import ArgumentParser
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

package struct Freezectl: AsyncParsableCommand {
    package init() {}

    // Every command names itself: otherwise ArgumentParser derives each name with
    // String(describing:) at every start, a protocol-conformance scan per command (docs/performance.md).
    package static let configuration = CommandConfiguration(
        commandName: "freezectl",
        abstract: "Pause and thaw Linux process trees with the kernel's cgroup freezer.",
        discussion: "TARGET is one of:\n" + TargetSpec.forms.map { form in
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
        """,
        version: BuildInfo.versionLine,
        subcommands: [Pause.self, Unpause.self, Status.self, Checkpoint.self, Restore.self, Verify.self, CriuHook.self]
    )

    @Option(name: .long, help: ArgumentHelp(
        "Send pause, unpause and status to freezectld on this socket instead of acting directly, e.g. unix:///run/freezectl/freezectl.sock (default: $FREEZECTL_HOST). The daemon's policy decides what you may do; the output and exit codes are the same.",
        valueName: "url"))
    package var host: String?

    /// Parses the command line, decides which executable serves it (Handoff.server: freezectl
    /// passes `engineSide` nil, freezectl-engines its own) and runs it; maps argument-parser
    /// errors to exit code 2 (it would use 64). A handover happens before the first suspension,
    /// on the main thread: freezectl leaves before the concurrency runtime starts its worker
    /// threads (docs/performance.md).
    package static func start(engineSide: (any EngineSide)?) async {
        // A closed pipe on stdout or stderr (`freezectl ... | head -1`) must never kill freezectl
        // between a freeze and its thaw: writes then fail with EPIPE (FileHandleOutput).
        signal(SIGPIPE, SIG_IGN)
        do {
            let arguments = commandArguments()
            let (parsed, afterTerminator) = LeaseOptions.splitCommand(arguments)
            // The everyday lines of pause, unpause and status skip ArgumentParser's reflection
            // (QuickParse); every other line, help and every usage error are its.
            var command = try QuickParse.command(parsed) ?? parseAsRoot(parsed)
            if var pause = command as? Pause {
                pause.lease.command = afterTerminator
                do {
                    try pause.lease.validateCommand()
                } catch {
                    // With pause's usage line, as argument-parser says its own errors.
                    FileHandleOutput.standardError("Error: \(Pause.message(for: error))\nUsage: \(usageString(for: Pause.self))\n  See 'freezectl pause --help' for more information.")
                    terminate(ExitStatus.badInput)
                }
                command = pause
            }
            if let served = command as? any ServedCommand {
                try await Handoff.run(served, engineSide: engineSide, arguments: arguments)
            } else {
                // The root command alone: its help.
                try command.run()
            }
        } catch let exit as ExitCode {
            terminate(exit.rawValue)
        } catch {
            let code = exitCode(for: error)
            let message = fullMessage(for: error)
            if code == .success {
                FileHandleOutput.standardOutput(message)
                terminate(ExitStatus.success)
            }
            FileHandleOutput.standardError(message)
            terminate(code == .validationFailure ? ExitStatus.badInput : code.rawValue)
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

/// exit(3) by another name: inside a command type, `exit` is ArgumentParser's `exit(withError:)`.
private func terminate(_ code: Int32) -> Never {
    exit(code)
}
