import CgroupFreezer
import FreezerOperations
import ContainerEngines
import ContainerRuntimes
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Subprocess
import Synchronization

/// A child program in a process group of its own, with its output collected, that never
/// outlives its bounds: the one runner for CRIU and for exec health probes.
///
/// A watchdog looks every 20 ms: at `timeout`, or when the caller is cancelled (at once, or after
/// `grace` when one is given), the whole group is killed with SIGKILL, together with whatever
/// `alsoKill` names (processes the program started outside its group, such as a `runc exec`
/// probe inside its container). The program runs in an unstructured task, so the caller's
/// cancellation reaches it only through the watchdog: Subprocess's own cancellation would kill
/// the child at once, which a CRIU dump must not suffer.
package struct GroupProcess {
    /// How it ended.
    package struct Outcome: Sendable {
        package var status: TerminationStatus
        package var output: String
        /// Why the watchdog killed it: "timeout" or "cancelled"; nil when it ended by itself.
        package var killed: String?
    }

    package var executable: Executable
    package var arguments: [String]
    package var environment: Environment
    package var outputLimit = 1 << 20
    package var timeout: Duration?
    /// How long a cancelled run may go on before it is killed; nil kills at once.
    package var grace: Duration?
    /// Also counts as a cancellation (a stop signal the caller noted).
    package var interrupted: @Sendable () -> Bool = { false }
    /// Kill the group once the program ended, too: nothing it started survives it.
    package var killGroupAfter = false
    /// Kill the group once the program was killed by a signal (by anyone): a program that died
    /// that way could not stop what it started, which would otherwise live on as orphans.
    package var killGroupAfterSignal = false
    /// Called with the group's leader before every kill of the group (its descendants outside
    /// the group are still its descendants then).
    package var alsoKill: @Sendable (pid_t) -> Void = { _ in }

    /// A run of `executable` with `arguments` in `environment`, bounded by `timeout` when given.
    package init(executable: Executable, arguments: [String], environment: Environment, outputLimit: Int = 1 << 20,
                 timeout: Duration? = nil, grace: Duration? = nil, interrupted: @escaping @Sendable () -> Bool = { false }) {
        self.executable = executable
        self.arguments = arguments
        self.environment = environment
        self.outputLimit = outputLimit
        self.timeout = timeout
        self.grace = grace
        self.interrupted = interrupted
    }

    package func run() async throws -> Outcome {
        final class State: Sendable {
            let cancelled = Mutex(false)
            let killed = Mutex<String?>(nil)
            let group = Mutex<pid_t?>(nil)
        }
        let state = State()
        var options = PlatformOptions()
        options.processGroupID = 0
        let (executable, arguments, environment, limit) = (self.executable, self.arguments, self.environment, outputLimit)
        let (timeout, grace, interrupted, alsoKill) = (self.timeout, self.grace, self.interrupted, self.alsoKill)
        let clock = ContinuousClock()
        let deadline = timeout.map { clock.now.advanced(by: $0) }
        let work = Task {
            try await Subprocess.run(executable, arguments: Arguments(arguments), environment: environment,
                                     platformOptions: options, input: .none, output: .bytes(limit: limit),
                                     error: .combinedWithOutput) { execution in
                let group = execution.processIdentifier.value
                state.group.withLock { $0 = group }
                return Task {
                    var cancelledAt: ContinuousClock.Instant?
                    while !Task.isCancelled {
                        let now = clock.now
                        if cancelledAt == nil, interrupted() || state.cancelled.withLock({ $0 }) { cancelledAt = now }
                        var reason: String?
                        if let deadline, now >= deadline { reason = "timeout" }
                        if let cancelledAt, now >= cancelledAt.advanced(by: grace ?? .zero) { reason = reason ?? "cancelled" }
                        if let reason {
                            state.killed.withLock { $0 = reason }
                            alsoKill(group)
                            _ = kill(-group, SIGKILL)
                            return
                        }
                        guard await sleepUnlessCancelled(for: .milliseconds(20)) else { break }
                    }
                }
            }
        }
        let result = try await withTaskCancellationHandler {
            try await work.value
        } onCancel: {
            state.cancelled.withLock { $0 = true }
        }
        result.closureResult.cancel()
        var signaled = false
        if case .signaled = result.terminationStatus { signaled = true }
        if killGroupAfter || (killGroupAfterSignal && signaled), let group = state.group.withLock({ $0 }) {
            _ = kill(-group, SIGKILL)
        }
        return Outcome(status: result.terminationStatus, output: String(decoding: result.standardOutput, as: UTF8.self),
                       killed: state.killed.withLock { $0 })
    }
}
