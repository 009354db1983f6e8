import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import SystemPackage

/// The Docker Engine API on its unix socket, through async-http-client (`http+unix`).
///
/// Docker keeps its own pause state and does not notice a freezer written behind its back
/// (`docker unpause` then fails with "container not paused"), so Docker containers are paused
/// and unpaused through this API unless the caller asks for a direct cgroup write.
public struct DockerEngine: Sendable {
    /// The socket of the daemon.
    public let socketPath: FilePath

    /// The default socket.
    public static let defaultSocket: FilePath = "/var/run/docker.sock"

    /// Why `DOCKER_HOST` cannot be used; reported only by the targets and selections that need Docker.
    let configurationProblem: FreezerError?

    /// The engine `DOCKER_HOST` names (only `unix://` is supported), else the default socket. An
    /// unsupported DOCKER_HOST does not fail here: commands that never name a Docker container
    /// must not depend on it.
    public static func fromEnvironment(_ environment: [String: String]) -> DockerEngine {
        guard let host = environment["DOCKER_HOST"], !host.isEmpty else { return DockerEngine(socketPath: defaultSocket) }
        guard host.hasPrefix("unix://") else {
            return DockerEngine(socketPath: FilePath(host), problem: .sourceUnavailable(
                source: "docker", path: FilePath(host), reason: "only unix:// sockets are supported in DOCKER_HOST"))
        }
        return DockerEngine(socketPath: FilePath(String(host.dropFirst("unix://".count))))
    }

    /// An engine at `socketPath`.
    public init(socketPath: FilePath) {
        self.init(socketPath: socketPath, problem: nil)
    }

    private init(socketPath: FilePath, problem: FreezerError?) {
        self.socketPath = socketPath
        configurationProblem = problem
    }

    /// Whether there is simply no daemon: no socket at all (the only case `--all` skips quietly).
    public var isAbsent: Bool { configurationProblem == nil && !Syscall.exists(socketPath) }

    /// Why the socket cannot be used, or nil when it exists and is a socket.
    public func unavailability() -> FreezerError? {
        if let configurationProblem { return configurationProblem }
        var buffer = stat()
        guard socketPath.withPlatformString({ stat($0, &buffer) }) == 0 else {
            return .sourceUnavailable(source: "docker", path: socketPath, reason: "no such socket (is dockerd running?)")
        }
        guard (buffer.st_mode & S_IFMT) == S_IFSOCK else {
            return .sourceUnavailable(source: "docker", path: socketPath, reason: "not a socket")
        }
        return nil
    }

    private struct Summary: Decodable {
        var Id: String
        var Names: [String]?
        var Labels: [String: String]?
        var State: String?
    }

    private struct Inspection: Decodable {
        struct State: Decodable { var Pid: Int32? }
        var State: State?
    }

    /// Every container the daemon knows, with the PID of those that run (one inspect each).
    public func containers() async throws -> [Container] {
        let data = try await request(.GET, "/containers/json?all=1", reference: "docker")
        let summaries: [Summary]
        do {
            summaries = try JSONDecoder().decode([Summary].self, from: data)
        } catch {
            throw FreezerError.engineError("docker", status: 200, message: "unreadable container list: \(error)")
        }
        // Read once for the whole list: each container's cgroup is looked up in it.
        let layout = try? CgroupLayout.current()
        return try await withThrowingTaskGroup(of: (Int, Container?).self) { group in
            for (index, summary) in summaries.enumerated() {
                group.addTask {
                    var pid: Int32?
                    if summary.State == "running" || summary.State == "paused" {
                        let body: Data
                        do {
                            body = try await request(.GET, "/containers/\(summary.Id)/json", reference: "docker:\(summary.Id.prefix(12))")
                        } catch FreezerError.engineError(_, 404, _) {
                            // Removed between the list and its inspect: it is not there to act on.
                            return (index, nil)
                        }
                        pid = (try? JSONDecoder().decode(Inspection.self, from: body))?.State?.Pid
                    }
                    let name = summary.Names?.first.map { $0.hasPrefix("/") ? String($0.dropFirst()) : $0 } ?? summary.Id
                    let live = pid.flatMap { $0 > 0 ? $0 : nil }
                    return (index, Container(
                        source: .docker, id: summary.Id, name: name, labels: summary.Labels ?? [:],
                        pid: live, engineState: summary.State, owner: nil,
                        cgroup: live.map { Self.cgroup(id: summary.Id, pid: $0, layout: layout) }))
                }
            }
            var containers = [Container?](repeating: nil, count: summaries.count)
            for try await (index, container) in group { containers[index] = container }
            return containers.compactMap { $0 }
        }
    }

    /// A Docker container's cgroup is the one the engine created for it (`/docker/<id>` with the
    /// cgroupfs driver, `.../docker-<id>.scope` with systemd's), not the cgroup its init happens to
    /// be in now: an init that moved itself into a child cgroup (systemd in a container) would
    /// otherwise leave the rest of the container running. So the init's cgroup is walked up to the
    /// component that names the container's full ID, which by construction contains the init.
    static func cgroup(id: String, pid: Int32, layout: CgroupLayout?) -> TargetSpec {
        guard let layout, let cgroups = try? ProcessCgroups.of(pid: pid) else { return .pid(pid) }
        for hierarchy in [layout.freezer, layout.unified].compactMap({ $0 }) {
            if let directory = cgroups.directory(in: hierarchy, layout: layout)?
                .nearestAncestor(below: hierarchy.mountPoint, where: { $0 == id || $0 == "docker-\(id).scope" }) {
                return .directory(directory)
            }
        }
        return .pid(pid)
    }

    /// `POST /containers/{id}/pause`.
    public func pause(_ id: String, timeout: Duration) async throws {
        _ = try await request(.POST, "/containers/\(id)/pause", reference: "docker:\(id.prefix(12))", timeout: timeout)
    }

    /// `POST /containers/{id}/unpause`.
    public func unpause(_ id: String, timeout: Duration) async throws {
        _ = try await request(.POST, "/containers/\(id)/unpause", reference: "docker:\(id.prefix(12))", timeout: timeout)
    }

    private struct Message: Decodable { var message: String }

    private struct ExecCreate: Encodable {
        var Cmd: [String]
        var Env: [String]
        var AttachStdout = false
        var AttachStderr = false
    }
    private struct ExecCreated: Decodable { var Id: String }
    private struct ExecInspection: Decodable {
        var Running: Bool
        var ExitCode: Int?
        var Pid: Int32?
    }

    /// A health probe as `docker exec` runs it (`POST /containers/{id}/exec`, then `start`, then
    /// the exit code from `GET /exec/{id}/json`): Docker applies the container's user,
    /// capabilities, no_new_privs, seccomp and LSM profile and its cgroup. The exec is started
    /// detached and its exit code polled; at the timeout its process is killed by the PID Docker
    /// reports (Docker has no API to kill an exec). The outcome names the exit code only.
    func execProbe(_ id: String, command: String, environment: [String: String], timeout: Duration) async -> ProbeOutcome {
        let reference = "docker:\(id.prefix(12))"
        let deadline = ContinuousClock.now.advanced(by: timeout)
        var execID: String?
        var pid: Int32?
        do {
            let body = try JSONEncoder().encode(ExecCreate(Cmd: ["/bin/sh", "-c", command],
                                                           Env: environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }))
            let created = try JSONDecoder().decode(ExecCreated.self, from: try await request(.POST, "/containers/\(id)/exec", reference: reference,
                                                                                           timeout: timeout, body: body))
            execID = created.Id
            _ = try await request(.POST, "/exec/\(created.Id)/start", reference: reference, timeout: timeout,
                                  body: Data(#"{"Detach":true,"Tty":false}"#.utf8))
            var pause = Duration.milliseconds(5)
            while true {
                let inspection = try JSONDecoder().decode(ExecInspection.self, from: try await request(.GET, "/exec/\(created.Id)/json", reference: reference, timeout: timeout))
                pid = inspection.Pid.flatMap { $0 > 0 ? $0 : nil } ?? pid
                if !inspection.Running, let code = inspection.ExitCode {
                    return ProbeOutcome(healthy: code == 0, output: code == 0 ? "docker exec: exit 0" : "docker exec: exit \(code)")
                }
                guard ContinuousClock.now < deadline else {
                    if let pid { kill(pid, SIGKILL) }
                    return ProbeOutcome(healthy: false, output: "timed out after \(timeout.shortDescription)")
                }
                try await Task.sleep(for: pause)
                pause = min(pause * 2, .milliseconds(100))
            }
        } catch {
            // Cancelled or failed: the exec's process must not outlive the call.
            if pid == nil, let execID,
               let data = try? await request(.GET, "/exec/\(execID)/json", reference: reference, timeout: .seconds(2)) {
                pid = (try? JSONDecoder().decode(ExecInspection.self, from: data))?.Pid
            }
            if let pid, pid > 0 { kill(pid, SIGKILL) }
            return ProbeOutcome(healthy: false, output: HealthProbe.trimmed("docker exec failed: \((error as? FreezerError)?.message ?? "\(error)")"))
        }
    }

    private func request(_ method: HTTPMethod, _ path: String, reference: String, timeout: Duration = .seconds(30),
                         body: Data? = nil) async throws -> Data {
        if let problem = unavailability() { throw problem }
        let encodedSocket = socketPath.string.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? socketPath.string
        var request = HTTPClientRequest(url: "http+unix://\(encodedSocket)\(path)")
        request.method = method
        // dockerd answers 400 to the default Host header (the encoded socket path).
        request.headers.replaceOrAdd(name: "Host", value: "localhost")
        if let body {
            request.headers.replaceOrAdd(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        let response: HTTPClientResponse
        do {
            response = try await HTTPClient.shared.execute(request, timeout: .nanoseconds(timeout.nanoseconds))
        } catch {
            throw FreezerError.sourceUnavailable(source: "docker", path: socketPath, reason: "\(error)")
        }
        let body = Data(try await response.body.collect(upTo: 64 << 20).readableBytesView)
        guard (200..<300).contains(Int(response.status.code)) else {
            let message = (try? JSONDecoder().decode(Message.self, from: body))?.message ?? String(decoding: body, as: UTF8.self)
            throw FreezerError.engineError(reference, status: Int(response.status.code), message: message)
        }
        return body
    }
}
