import CgroupFreezer
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
public struct DockerEngine: ContainerEngine {
    public var backend: Backend { .docker }

    /// The socket of the daemon.
    public let socketPath: FilePath

    /// The default socket.
    public static let defaultSocket: FilePath = "/var/run/docker.sock"

    /// Why `DOCKER_HOST` cannot be used; reported only by the targets and selections that need Docker.
    let configurationProblem: ContainerCatalog.Error?

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

    private init(socketPath: FilePath, problem: ContainerCatalog.Error?) {
        self.socketPath = socketPath
        configurationProblem = problem
    }

    /// Whether there is simply no daemon: no socket at all (the only case `--all` skips quietly).
    public var isAbsent: Bool { configurationProblem == nil && !Syscall.exists(socketPath) }

    /// Why the socket cannot be used, or nil when it exists and is a socket.
    public func unavailability() -> ContainerCatalog.Error? {
        if let configurationProblem { return configurationProblem }
        var buffer = stat()
        guard socketPath.withPlatformString({ stat($0, &buffer) }) == 0 else {
            return ContainerCatalog.Error.sourceUnavailable(source: "docker", path: socketPath, reason: "no such socket (is dockerd running?)")
        }
        guard (buffer.st_mode & S_IFMT) == S_IFSOCK else {
            return ContainerCatalog.Error.sourceUnavailable(source: "docker", path: socketPath, reason: "not a socket")
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
            throw ContainerCatalog.Error.engineError("docker", status: 200, message: "unreadable container list: \(error)")
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
                        } catch ContainerCatalog.Error.engineError(_, 404, _) {
                            // Removed between the list and its inspect: it is not there to act on.
                            return (index, nil)
                        }
                        // An inspect without a PID: listed, but with no process to act on.
                        pid = (try? JSONDecoder().decode(Inspection.self, from: body))?.State?.Pid
                    }
                    let name = summary.Names?.first.map { $0.hasPrefix("/") ? String($0.dropFirst()) : $0 } ?? summary.Id
                    let live = pid.flatMap { $0 > 0 ? $0 : nil }
                    return (index, Container(
                        source: .docker, id: summary.Id, name: name, labels: summary.Labels ?? [:],
                        pid: live, engineState: summary.State.flatMap(EngineState.init(rawValue:)), owner: nil,
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
        // Exited since the inspect: the PID target then fails with a clear no-such-process.
        guard let layout, let cgroups = ProcessCgroups.ifAlive(pid: pid) else { return .pid(pid) }
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

    package func request(_ method: HTTPMethod, _ path: String, reference: String, timeout: Duration = .seconds(30),
                         body: Data? = nil) async throws -> Data {
        if let problem = unavailability() { throw problem }
        let request = HTTPClientRequest(unixSocket: socketPath, method, path, json: body.map { Array($0) })
        let response: HTTPClientResponse
        do {
            response = try await HTTPClient.shared.execute(request, timeout: .nanoseconds(timeout.nanoseconds))
        } catch {
            throw ContainerCatalog.Error.sourceUnavailable(source: "docker", path: socketPath, reason: "\(error)")
        }
        let body = Data(try await response.body.collect(upTo: 64 << 20).readableBytesView)
        guard (200..<300).contains(Int(response.status.code)) else {
            // dockerd answers {"message": ...}; anything else is quoted as it came.
            let message = (try? JSONDecoder().decode(Message.self, from: body))?.message ?? String(decoding: body, as: UTF8.self)
            throw ContainerCatalog.Error.engineError(reference, status: Int(response.status.code), message: message)
        }
        return body
    }
}

extension HTTPClientRequest {
    /// A request to an HTTP server on a unix socket (dockerd, podman, freezectld), with a JSON body.
    package init(unixSocket socket: FilePath, _ method: HTTPMethod, _ path: String, json body: [UInt8]?) {
        let encodedSocket = socket.string.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? socket.string
        self.init(url: "http+unix://\(encodedSocket)\(path)")
        self.method = method
        // dockerd answers 400 to the default Host header (the encoded socket path).
        headers.replaceOrAdd(name: "Host", value: "localhost")
        if let body {
            headers.replaceOrAdd(name: "Content-Type", value: "application/json")
            self.body = .bytes(ByteBuffer(bytes: body))
        }
    }
}
