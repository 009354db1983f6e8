import CLinuxSupport
import CgroupFreezer
import FreezectlCLI
import FreezectlClient
import FreezectlAPI
import FreezectlReports
import FreezerOperations
import Foundation
import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

// pause and unpause through freezectld (--host, FREEZECTL_HOST), and `pause --hold -- COMMAND`
// (through the daemon or directly): the request is the daemon's, the printing and the exit codes
// are the CLI's own, the same as when it acts directly.
extension BatchCommand {
    /// The daemon to send this to: --host, else FREEZECTL_HOST; for --for, else the default
    /// socket when a daemon listens there. Nil: act directly.
    func daemon() throws -> DaemonClient? {
        if let named = try namedDaemon(host: host, verb: kind.action.rawValue) { return named }
        guard lease.duration != nil else { return nil }
        guard Syscall.exists(DaemonClient.defaultSocket) else {
            Output.error("pause --for: needs freezectld, which thaws at expiry whatever happens to this command, and none listens at \(DaemonClient.defaultSocket)\n  next step: start it (sudo freezectld, or systemctl start freezectld.socket; docs/daemon.md), or give --host unix:///PATH")
            throw ExitCode(ExitStatus.badInput)
        }
        return try? DaemonClient(host: DaemonClient.defaultSocket.string)
    }

    /// The request the flags make.
    func request(health: DaemonAPI.HealthRequest?) -> DaemonAPI.OperationRequest {
        DaemonAPI.OperationRequest(
            targets: targets.targets.isEmpty ? nil : targets.targets.map(\.description),
            all: targets.all ? true : nil, filters: targets.filters.isEmpty ? nil : targets.filters,
            namespaces: targets.namespaces.isEmpty ? nil : targets.namespaces,
            timeout: DurationArgument.text(operation.timeout), atomic: batch.atomic ? true : nil, direct: batch.direct ? true : nil,
            parallel: batch.parallel, duration: lease.duration.map(DurationArgument.text), health: health,
            reclaim: memory.reclaim ? true : nil, prefetch: memory.prefetch ? true : nil)
    }

    /// What only the local path takes: the daemon has its own sources and audit trail.
    func refuseLocalOnlyOptions() throws {
        try targets.sources.refuseThroughDaemon()
        if audit.auditLog != nil || audit.auditRequired {
            throw Output.usageError("--audit-log and --audit-required are the daemon's own settings through --host (freezectld --audit-log); it audits every request")
        }
    }

    /// pause or unpause through the daemon.
    func run(through client: DaemonClient, health: DaemonAPI.HealthRequest?) async throws -> Int32 {
        try refuseLocalOnlyOptions()
        let answer: DaemonAPI.OperationAnswer
        do {
            answer = try await client.operate(kind.action.rawValue, request(health: health))
        } catch {
            return failed(error)
        }
        return printed(answer, healthAsked: health != nil)
    }

    /// `pause --hold -- COMMAND`: pause, run COMMAND while paused, thaw what this call paused when
    /// it ends. The exit status is COMMAND's; when a pause fails, COMMAND does not run.
    func runHeld(through client: DaemonClient?) async throws -> Int32 {
        if let client { return try await runHeld(remotely: client) }
        let selection = try targets.selection()
        let resolver = try targets.sources.resolverOrExit(common, side: FullEngineSide())
        let options = try batchOptions(.freeze)
        let command = lease.command
        let held = try await StopSignals.shared.run {
            await resolver.whilePaused(selection, options: options) { _ in try await ChildProcess.run(command) }
        }
        let paused = held.paused.map(OperationReport.init)
        Output.operations(paused, common: common, verb: "pause")
        Output.operations(held.thawed.map(OperationReport.init), common: common, verb: "unpause")
        return audit.exitCode(heldExitCode(pauseFailures: paused.map(\.failure), outcome: held.outcome,
                                           thawFailures: held.thawed.map { $0.error.map(ErrorReport.init) }))
    }

    private func runHeld(remotely client: DaemonClient) async throws -> Int32 {
        try refuseLocalOnlyOptions()
        let hold: DaemonClient.Hold
        do {
            hold = try await client.hold(request(health: nil))
        } catch {
            return failed(error)
        }
        Output.operations(hold.answer.results, common: common, verb: "pause")
        var outcome: Result<Int32, any Error>?
        if !hold.answer.isPartial && !hold.answer.results.isEmpty {
            let command = lease.command
            do {
                outcome = .success(try await StopSignals.shared.run { try await ChildProcess.run(command) })
            } catch {
                outcome = .failure(error)
            }
        }
        let thawed: [OperationReport]
        switch await hold.release() {
        case .success(let answer): thawed = answer?.results ?? []
        case .failure(let error): return failed(error)
        }
        Output.operations(thawed, common: common, verb: "unpause")
        return heldExitCode(pauseFailures: hold.answer.results.map(\.failure), outcome: outcome, thawFailures: thawed.map(\.failure))
    }

    /// A failed pause (1 or 2), else a failed thaw (1), else COMMAND's status (127: it could not be started).
    private func heldExitCode(pauseFailures: [ErrorReport?], outcome: Result<Int32, any Error>?, thawFailures: [ErrorReport?]) -> Int32 {
        if let signal = StopSignals.shared.exitCode { return signal }
        let pause = Output.exitCode(pauseFailures)
        if pause != ExitStatus.success { return pause }
        let thaw = Output.exitCode(thawFailures)
        if thaw != ExitStatus.success { return thaw }
        switch outcome {
        case .success(let status): return status
        case .failure(let error):
            Output.error("pause --hold: \(lease.command.first ?? "command"): \(error)")
            return 127
        case nil: return ExitStatus.failure
        }
    }

    /// The answer printed as the CLI prints its own results; the exit code as its own.
    private func printed(_ answer: DaemonAPI.OperationAnswer, healthAsked: Bool) -> Int32 {
        if answer.results.isEmpty && answer.skipped == nil {
            Output.noContainersMatched(common: common)
            return ExitStatus.success
        }
        Output.operations(answer.results, common: common, verb: kind.action.rawValue)
        if let skipped = answer.skipped {
            Output.error("\(kind.action.rawValue): skipped \(skipped.count) that the daemon's policy does not let you touch: \(skipped.joined(separator: ", "))")
        }
        if let lease = answer.lease, !common.quiet {
            switch common.format {
            case .json: Output.printJSON(["lease": lease])
            case .table: FileHandleOutput.standardOutput("lease \(lease.id): \(lease.expires.map { "thawed at \($0)" } ?? "held") (freezectld)")
            }
        }
        let code = Output.exitCode(answer.results.map(\.failure))
        if code == ExitStatus.success, healthAsked, answer.results.contains(where: { $0.health?.status == "unhealthy" }) {
            return ExitStatus.unhealthy
        }
        return code
    }

    /// The daemon could not be asked, or refused: the message and next step; 2 for bad input.
    private func failed(_ error: DaemonClient.Error) -> Int32 {
        Output.daemonFailure(kind.action.rawValue, error).rawValue
    }
}

/// freezectld named by --host, else FREEZECTL_HOST; nil: act directly. A malformed host is said
/// (naming `verb`) and exits 2.
func namedDaemon(host: String?, verb: String) throws -> DaemonClient? {
    do {
        return try DaemonClient.named(host: host, environment: ProcessInfo.processInfo.environment)
    } catch {
        throw Output.daemonFailure(verb, error)
    }
}

extension SourceOptions {
    /// Through the daemon, the sources are the daemon's (freezectld --runtime-root).
    func refuseThroughDaemon() throws {
        if !runtimeRoots.isEmpty {
            throw Output.usageError("--runtime-root is the daemon's own setting through --host (freezectld --runtime-root)")
        }
    }
}

extension Output {
    /// The daemon could not be asked, or refused: the message and next step on standard error;
    /// exit 2 for bad input (nothing was done), else 1.
    static func daemonFailure(_ verb: String, _ error: DaemonClient.Error) -> ExitCode {
        Output.error("\(verb): \(error.message)\n  next step: \(error.nextStep)")
        return ExitCode(error.isBadInput ? ExitStatus.badInput : ExitStatus.failure)
    }
}

/// COMMAND of `pause --hold`: run with freezectl's standard input, output and error, and the
/// default dispositions of the signals freezectl itself ignores while it works.
enum ChildProcess {
    struct SpawnError: Error, CustomStringConvertible {
        var errno: Errno
        var description: String { "cannot be started: \(errno)" }
    }

    /// Its exit status (128+N when signal N ended it). Cancellation (a stop signal to freezectl)
    /// sends it SIGTERM, and still waits for it: the thaw comes after COMMAND has ended.
    static func run(_ command: [String]) async throws -> Int32 {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for number in [SIGINT, SIGTERM, SIGHUP, SIGPIPE] { sigaddset(&defaults, number) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var mask = sigset_t()
        sigemptyset(&mask)
        posix_spawnattr_setsigmask(&attributes, &mask)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))
        var arguments = command.map { strdup($0) }
        arguments.append(nil)
        defer { arguments.forEach { free($0) } }
        // Only standard input, output and error: a descriptor COMMAND inherited (the daemon
        // connection that is the hold, an event loop) would outlive freezectl and keep the hold.
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        clinux_spawn_closefrom(&actions, 3)
        var pid: pid_t = 0
        let rc = posix_spawnp(&pid, command[0], &actions, &attributes, arguments, environ)
        guard rc == 0 else { throw SpawnError(errno: Errno(rawValue: rc)) }
        let child = pid
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                Thread.detachNewThread {
                    var status: Int32 = 0
                    while waitpid(child, &status, 0) < 0 && errno == EINTR {}
                    // WIFEXITED / WEXITSTATUS / WTERMSIG, which Swift does not import.
                    let signal = status & 0x7f
                    continuation.resume(returning: signal == 0 ? (status >> 8) & 0xff : 128 + signal)
                }
            }
        } onCancel: {
            kill(child, SIGTERM)
        }
    }
}

extension Status {
    /// freezectld named by --host or FREEZECTL_HOST; nil: read directly.
    func daemon() throws -> DaemonClient? {
        let client = try namedDaemon(host: root.host, verb: "status")
        if client != nil { try targets.sources.refuseThroughDaemon() }
        return client
    }
}
