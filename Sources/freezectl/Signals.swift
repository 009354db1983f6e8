import FreezectlReports
import ArgumentParser
import CgroupFreezer
import FreezerOperations
import HealthProbes
import Dispatch
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// SIGINT (Ctrl-C), SIGTERM and SIGHUP (the terminal or SSH session went away) during a
/// state-changing command: the work in progress is cancelled, and the library undoes what it
/// started (a freeze still waiting is thawed, `--atomic` rolls back, a CRIU dump gets
/// `CRIU.interruptGrace` before it is killed and the tree thawed). The command then prints what
/// happened, writes its audit records, and exits 128 + the signal's number (130, 143, 129).
///
/// The default action of these signals would kill freezectl between a freeze and its thaw, so
/// they are ignored and read from a dispatch source instead; a second signal changes nothing.
final class StopSignals: Sendable {
    static let shared = StopSignals()

    private struct State {
        var received: Int32?
        var cancel: (@Sendable () -> Void)?
        var sources: [DispatchSourceSignal] = []
    }
    private let state = Mutex(State())

    /// The first stop signal received, if any.
    var received: Int32? { state.withLock { $0.received } }

    /// 128 + the signal's number when one was received: what a shell reports for a process killed by it.
    var exitCode: Int32? { received.map { 128 + $0 } }

    /// Runs `body` in a task that a stop signal cancels.
    func run<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
        install()
        let task = Task { try await body() }
        let early = state.withLock { state in
            state.cancel = { task.cancel() }
            return state.received != nil
        }
        if early { task.cancel() }
        return try await task.value
    }

    private func install() {
        state.withLock { state in
            guard state.sources.isEmpty else { return }
            for number in [SIGINT, SIGTERM, SIGHUP] {
                signal(number, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
                source.setEventHandler { [self] in deliver(number) }
                source.resume()
                state.sources.append(source)
            }
        }
    }

    private func deliver(_ number: Int32) {
        let (first, cancel) = state.withLock { state -> (Bool, (@Sendable () -> Void)?) in
            guard state.received == nil else { return (false, nil) }
            state.received = number
            return (true, state.cancel)
        }
        guard first else { return }
        let name = signalName(number)
        FileHandleOutput.standardError("freezectl: \(name): stopping; undoing what is in progress")
        cancel?()
    }
}

/// Runs a checkpoint, restore or repair so that SIGINT, SIGTERM and SIGHUP cancel it (the library
/// thaws what it froze), prints its error, and exits 128 + the signal when one came, else 0, 1 or 2.
///
/// `body` returns the health report of the check after the thaw, if one ran: an unhealthy one
/// exits 3 unless `health` says to ignore it.
func runStoppable(_ verb: String, _ subject: String, audit: AuditOptions? = nil, health: HealthCheckOptions? = nil,
                  _ body: @escaping @Sendable () async throws -> HealthReport?) async throws {
    let report: HealthReport?
    do {
        report = try await StopSignals.shared.run(body)
    } catch let error as any FreezectlError {
        Output.error(verb, subject, ErrorReport(error))
        throw ExitCode(StopSignals.shared.exitCode ?? (error.isBadInput ? ExitStatus.badInput : ExitStatus.failure))
    } catch let exit as ExitCode {
        throw ExitCode(StopSignals.shared.exitCode ?? exit.rawValue)
    } catch {
        Output.error(verb, subject, ErrorReport(error))
        throw ExitCode(StopSignals.shared.exitCode ?? ExitStatus.failure)
    }
    if let code = StopSignals.shared.exitCode { throw ExitCode(code) }
    let code = health?.fails(report) == true ? ExitStatus.unhealthy : ExitStatus.success
    let final = audit?.exitCode(code) ?? code
    if final != ExitStatus.success { throw ExitCode(final) }
}
