import FreezectlReports
import CgroupFreezer
import FreezerOperations
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
package final class StopSignals: Sendable {
    package static let shared = StopSignals()

    private struct State {
        package var received: Int32?
        package var cancel: (@Sendable () -> Void)?
        package var sources: [DispatchSourceSignal] = []
    }
    private let state = Mutex(State())

    /// The first stop signal received, if any.
    package var received: Int32? { state.withLock { $0.received } }

    /// 128 + the signal's number when one was received: what a shell reports for a process killed by it.
    package var exitCode: Int32? { received.map { 128 + $0 } }

    /// Runs `body` in a task that a stop signal cancels.
    package func run<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
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
