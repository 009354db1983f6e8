import CgroupFreezer
import FreezerOperations
import ContainerEngines
import ContainerRuntimes
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
    /// The container, when the target is one: an in-target probe then runs as its engine's exec.
    public var container: Container?
    /// The Docker Engine, for Docker containers.
    public var docker: DockerEngine?

    /// A context.
    public init(target: String, cgroup: String?, pid: Int32?, container: Container? = nil, docker: DockerEngine? = nil) {
        self.target = target
        self.cgroup = cgroup
        self.pid = pid
        self.container = container
        self.docker = docker
    }

    /// The documented variables every exec probe gets.
    var variables: [String: String] {
        var variables = ["FREEZECTL_TARGET": target]
        variables["FREEZECTL_CGROUP"] = cgroup
        variables["FREEZECTL_PID"] = pid.map(String.init)
        return variables
    }
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
        guard inTarget else {
            // On the host, as the user who runs freezectl: the user's own command with the user's environment.
            var environment: [Environment.Key: String?] = [:]
            for (key, value) in context.variables { environment[Environment.Key(stringLiteral: key)] = value }
            return await spawn(.path("/bin/sh"), ["-c", command], environment: .inherit.updating(environment), timeout: timeout)
        }
        // In the target, with the target's powers and no more (docker exec's contract): the
        // container's engine or runtime runs it where there is one; a plain cgroup or PID target
        // gets the target process's namespaces, ids, capabilities, no_new_privs and cgroups.
        // The environment is the documented variables and a fixed PATH, never freezectl's own.
        if let container = context.container, container.source == .docker || container.source == .podman, let docker = context.docker {
            return await docker.execProbe(container.id, command: command, environment: context.variables, timeout: timeout)
        }
        var environment: [Environment.Key: String] = ["PATH": ProbeIdentity.path]
        for (key, value) in context.variables { environment[Environment.Key(stringLiteral: key)] = value }
        if let container = context.container, !container.source.isEngine, let root = container.runtimeRoot {
            // runc/crun exec apply the container's process spec: user, capabilities,
            // no_new_privs, seccomp, LSM profile, and put the probe in the container's cgroup.
            var arguments = ["--root", root.string, "exec"]
            for (key, value) in context.variables.sorted(by: { $0.key < $1.key }) { arguments += ["--env", "\(key)=\(value)"] }
            arguments += [container.id, "/bin/sh", "-c", command]
            return await spawn(.name(container.source.rawValue), arguments, environment: .custom(environment), timeout: timeout,
                               insideContainer: true)
        }
        guard let pid = context.pid else { return ProbeOutcome(healthy: false, output: "no process to enter for --health-exec-in-target") }
        let identity: ProbeIdentity
        do {
            identity = try ProbeIdentity(of: pid)
        } catch {
            return ProbeOutcome(healthy: false, output: trimmed("cannot read the identity of process \(pid): \(error)"))
        }
        // The shell joins the target's cgroups while still root on the host, then enters the
        // namespaces, then drops to the target's ids and capabilities before running the command.
        environment["FREEZECTL_PROBE"] = command
        environment["FREEZECTL_JOIN"] = identity.cgroupProcsFiles.joined(separator: "\n")
        let script = """
            IFS='
            '; for f in $FREEZECTL_JOIN; do echo $$ > "$f" || exit 126; done
            probe=$FREEZECTL_PROBE; unset IFS FREEZECTL_JOIN FREEZECTL_PROBE
            exec nsenter --target "$0" --all -- setpriv "$@" -- /bin/sh -c "$probe"
            """
        return await spawn(.path("/bin/sh"), ["-c", script, String(pid)] + identity.setprivArguments,
                           environment: .custom(environment), timeout: timeout)
    }

    /// Runs a probe process in its own process group, bounded by `timeout`: at the deadline, on
    /// cancellation and after it ends, the whole group is killed (no probe outlives the call). For
    /// `runc exec`, whose probe runs inside the container and outside our group, the processes it
    /// started in the container are killed too.
    private static func spawn(_ executable: Executable, _ arguments: [String], environment: Environment, timeout: Duration,
                              insideContainer: Bool = false) async -> ProbeOutcome {
        var run = GroupProcess(executable: executable, arguments: arguments, environment: environment, timeout: timeout)
        // No probe outlives its attempt: its group dies after it (and at the deadline, and on
        // cancellation, at once).
        run.killGroupAfter = true
        if insideContainer {
            // `runc exec` is the parent of the probe it runs inside the container, which is not in
            // our process group: at the deadline or on cancellation its descendants go first.
            // (After a normal end runc has waited for them already.)
            run.alsoKill = { runtime in
                for pid in ProcessTree.descendants(of: runtime) { kill(pid, SIGKILL) }
            }
        }
        do {
            let result = try await run.run()
            let output = trimmed(result.output)
            if result.killed == "timeout" {
                return ProbeOutcome(healthy: false, output: "timed out after \(timeout.shortDescription)" + (output.isEmpty ? "" : ": \(output)"))
            }
            switch result.status {
            case .exited(0): return ProbeOutcome(healthy: true, output: output)
            case .exited(let code): return ProbeOutcome(healthy: false, output: "exit \(code)" + (output.isEmpty ? "" : ": \(output)"))
            case .signaled(let signal): return ProbeOutcome(healthy: false, output: "killed by signal \(signal)")
            }
        } catch {
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
            try? await channel.close()  // connected is the answer; a failed close changes nothing
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

