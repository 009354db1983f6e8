import AsyncHTTPClient
import Foundation
import NIOCore
import NIOPosix
import Subprocess
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// How to tell whether a thawed target serves again, with Docker's and Kubernetes' probe kinds.
public enum HealthProbe: Sendable, Hashable {
    /// `/bin/sh -c COMMAND` on the host (or, with `inTarget`, in the target's namespaces through
    /// nsenter, like `docker exec`); exit status 0 is healthy.
    case exec(command: String, inTarget: Bool)
    /// `GET URL`; a status from 200 to 399 is healthy (as Kubernetes' httpGet).
    case http(url: String)
    /// A TCP connection to HOST:PORT succeeds.
    case tcp(host: String, port: Int)
}

/// What a probe knows about its target; exec probes get it as FREEZECTL_TARGET, FREEZECTL_CGROUP
/// and FREEZECTL_PID.
public struct ProbeContext: Sendable {
    /// The target as the user named it.
    public var target: String
    /// Its cgroup directory.
    public var cgroup: String?
    /// A process of the target (the container's init, or the first process of the cgroup).
    public var pid: Int32?

    /// A context.
    public init(target: String, cgroup: String?, pid: Int32?) {
        self.target = target
        self.cgroup = cgroup
        self.pid = pid
    }
}

/// The result of one probe.
public struct ProbeOutcome: Sendable, Hashable {
    /// Whether it passed.
    public var healthy: Bool
    /// What it said: the command's output, `HTTP 200`, `connected`, or why it failed (trimmed).
    public var output: String
}

extension HealthProbe {
    /// Runs the probe once, bounded by `timeout`. An exec probe that overruns is killed with its
    /// whole process group; none outlives this call, also when the task is cancelled.
    public func run(context: ProbeContext, timeout: Duration) async -> ProbeOutcome {
        switch self {
        case .exec(let command, let inTarget):
            return await Self.exec(command, inTarget: inTarget, context: context, timeout: timeout)
        case .http(let url):
            return await Self.http(url, timeout: timeout)
        case .tcp(let host, let port):
            return await Self.tcp(host: host, port: port, timeout: timeout)
        }
    }

    /// Keeps the last part of a probe's output, on one line.
    static func trimmed(_ text: String) -> String {
        let flat = text.replacingOccurrences(of: "\n", with: " ").trimmingCharacters(in: .whitespaces)
        return flat.count > 200 ? "…" + String(flat.suffix(199)) : flat
    }

    private static func exec(_ command: String, inTarget: Bool, context: ProbeContext, timeout: Duration) async -> ProbeOutcome {
        var environment: [Environment.Key: String?] = ["FREEZECTL_TARGET": context.target]
        environment["FREEZECTL_CGROUP"] = context.cgroup
        environment["FREEZECTL_PID"] = context.pid.map(String.init)
        var arguments = ["-c", command]
        var executable = Executable.path("/bin/sh")
        if inTarget {
            guard let pid = context.pid else { return ProbeOutcome(healthy: false, output: "no process to enter for --health-exec-in-target") }
            // Like `docker exec`: every namespace of the target's process (nsenter skips those we share).
            executable = .name("nsenter")
            arguments = ["--target", String(pid), "--all", "--", "/bin/sh", "-c", command]
        }
        var options = PlatformOptions()
        // Its own process group, so that a timeout kills the probe and everything it started.
        options.processGroupID = 0
        let state = ExecProbeState()
        @Sendable func killGroup() {
            if let pgid = state.group.withLock({ $0 }) { kill(-pgid, SIGKILL) }
        }
        do {
            let result = try await withTaskCancellationHandler {
                try await Subprocess.run(executable, arguments: Arguments(arguments), environment: .inherit.updating(environment),
                                         platformOptions: options, input: .none, output: .bytes(limit: 1 << 20),
                                         error: .combinedWithOutput) { execution in
                    let pgid = execution.processIdentifier.value
                    state.group.withLock { $0 = pgid }
                    // The watchdog: at the deadline the group dies, which also closes the output pipe.
                    let watchdog = Task { [state] in
                        try await Task.sleep(for: timeout)
                        state.timedOut.withLock { $0 = true }
                        kill(-pgid, SIGKILL)
                    }
                    state.watchdog.withLock { $0 = watchdog }
                }
            } onCancel: {
                killGroup()
            }
            state.watchdog.withLock { $0?.cancel() }
            // Whatever the probe left running in its group goes too: no probe outlives the command.
            killGroup()
            let output = trimmed(String(decoding: result.standardOutput, as: UTF8.self))
            if state.timedOut.withLock({ $0 }) {
                return ProbeOutcome(healthy: false, output: "timed out after \(timeout.shortDescription)" + (output.isEmpty ? "" : ": \(output)"))
            }
            switch result.terminationStatus {
            case .exited(0): return ProbeOutcome(healthy: true, output: output)
            case .exited(let code): return ProbeOutcome(healthy: false, output: "exit \(code)" + (output.isEmpty ? "" : ": \(output)"))
            case .signaled(let signal): return ProbeOutcome(healthy: false, output: "killed by signal \(signal)")
            }
        } catch {
            state.watchdog.withLock { $0?.cancel() }
            killGroup()
            return ProbeOutcome(healthy: false, output: trimmed("could not run the probe: \(error)"))
        }
    }

    private static func http(_ url: String, timeout: Duration) async -> ProbeOutcome {
        var request = HTTPClientRequest(url: url)
        request.method = .GET
        do {
            let response = try await HTTPClient.shared.execute(request, timeout: .nanoseconds(timeout.nanoseconds))
            let body = try await response.body.collect(upTo: 1 << 20)
            let code = Int(response.status.code)
            if (200..<400).contains(code) { return ProbeOutcome(healthy: true, output: "HTTP \(code)") }
            // A failing answer's body usually says why; keep its start.
            let text = String(trimmed(String(decoding: body.readableBytesView, as: UTF8.self)).prefix(100))
            return ProbeOutcome(healthy: false, output: "HTTP \(code)" + (text.isEmpty ? "" : ": \(text)"))
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout || error == .connectTimeout {
            return ProbeOutcome(healthy: false, output: "timed out after \(timeout.shortDescription)")
        } catch {
            return ProbeOutcome(healthy: false, output: trimmed("\(error)"))
        }
    }

    private static func tcp(host: String, port: Int, timeout: Duration) async -> ProbeOutcome {
        let bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.nanoseconds(timeout.nanoseconds))
        do {
            let channel = try await bootstrap.connect(host: host, port: port).get()
            try? await channel.close()
            return ProbeOutcome(healthy: true, output: "connected to \(host):\(port)")
        } catch let error as NIOConnectionError {
            let cause = error.connectionErrors.first.map { "\($0.error)" } ?? error.dnsAError.map { "\($0)" } ?? "\(error)"
            return ProbeOutcome(healthy: false, output: trimmed("\(host):\(port): \(cause)"))
        } catch ChannelError.connectTimeout {
            return ProbeOutcome(healthy: false, output: "timed out after \(timeout.shortDescription)")
        } catch {
            return ProbeOutcome(healthy: false, output: trimmed("\(host):\(port): \(error)"))
        }
    }
}

/// The process group of a running exec probe and whether its watchdog fired.
private final class ExecProbeState: Sendable {
    let group = Mutex<pid_t?>(nil)
    let timedOut = Mutex(false)
    let watchdog = Mutex<Task<Void, any Error>?>(nil)
}

extension Duration {
    /// Whole nanoseconds, for APIs that take them.
    var nanoseconds: Int64 {
        components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000
    }

    /// Milliseconds with fractions, as records and reports give durations.
    var milliseconds: Double {
        Double(components.seconds) * 1000 + Double(components.attoseconds) / 1e15
    }
}
