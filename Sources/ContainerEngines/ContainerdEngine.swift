import CgroupFreezer
import ContainerRuntimes
import ContainerdAPI
import GRPCCore
import GRPCNIOTransportHTTP2Posix
import SwiftProtobuf
import Synchronization
import SystemPackage

/// containerd's gRPC API on its unix socket (grpc-swift with its NIO HTTP/2 transport), for the
/// containers of Kubernetes nodes (namespace `k8s.io`) and anything else containerd runs.
///
/// containerd's runc shim answers a task's status from its own memory and never reads the freezer
/// again: a freeze written behind its back leaves it saying RUNNING, and `ctr task resume` then
/// fails. So its tasks are paused and resumed through `Tasks/Pause` and `Tasks/Resume`, the
/// namespace in the `containerd-namespace` header, unless the caller asks for a direct write.
public struct ContainerdEngine: ContainerEngine {
    public var backend: Backend { .containerd }

    /// The socket of the daemon.
    public let socketPath: FilePath
    /// The namespaces searched; empty: every namespace containerd has.
    public private(set) var namespaces: [String]

    /// At most this much in one answer (a container list carries every container's OCI spec, which
    /// freezectl skips but must receive: a few KiB each).
    static let answerLimit = 64 << 20

    /// The connection, shared by every copy of this engine and opened on first use.
    private let connection: Connection

    /// The engine `CONTAINERD_ADDRESS` names (EngineAddress); `namespaces` narrows the search.
    public static func fromEnvironment(_ environment: [String: String], namespaces: [String] = []) -> ContainerdEngine {
        // Every engine source has an address.
        ContainerdEngine(socketPath: EngineAddress.of(.containerd, environment: environment)!.socketPath, namespaces: namespaces)
    }

    /// An engine at `socketPath` searching `namespaces` (empty: all).
    public init(socketPath: FilePath, namespaces: [String] = []) {
        self.socketPath = socketPath
        self.namespaces = namespaces
        connection = Connection(socketPath: socketPath)
    }

    /// This engine searching only `namespaces` (the CLI's `--namespace`), on the same connection.
    public func narrowed(toNamespaces namespaces: [String]) -> any ContainerSourceDriver {
        var engine = self
        engine.namespaces = namespaces
        return engine
    }

    /// Whether there is simply no daemon: no socket at all (the only case `--all` skips quietly).
    public var isAbsent: Bool { !Syscall.exists(socketPath) }

    /// Why the socket cannot be used, or nil when it exists and is a socket.
    public func unavailability() -> ContainerCatalog.Error? {
        .socketUnavailability(source: .containerd, path: socketPath, advice: "is containerd running? CONTAINERD_ADDRESS names another socket")
    }

    /// Every container of the searched namespaces with its task's PID and status: per namespace
    /// one `Containers/List` and one `Tasks/List`. A live task's cgroup is the one containerd
    /// made for it, found from its init's cgroup (see `DockerEngine.engineCgroup`).
    public func containers() async throws -> [Container] {
        let searched = namespaces.isEmpty ? try await allNamespaces() : namespaces
        let layout = try CgroupLayout.current()
        var found: [Container] = []
        for namespace in searched {
            let listed = try await call("containerd", namespace: namespace) { client, request in
                try await Containerd_Services_Containers_V1_Containers.Client(wrapping: client).list(
                    request: ClientRequest(message: Containerd_Services_Containers_V1_ListContainersRequest(), metadata: request.metadata),
                    options: request.options)
            }
            let tasks = try await call("containerd", namespace: namespace) { client, request in
                try await Containerd_Services_Tasks_V1_Tasks.Client(wrapping: client).list(
                    request: ClientRequest(message: Containerd_Services_Tasks_V1_ListTasksRequest(), metadata: request.metadata),
                    options: request.options)
            }
            var taskOf: [String: Containerd_Services_Tasks_V1_Process] = [:]
            // Tasks/List lists each container's task (its init), not execs. containerd 1.6 fills
            // only `id` (the container's ID); later versions fill `container_id` too.
            for task in tasks.tasks { taskOf[task.containerID.isEmpty ? task.id : task.containerID] = task }
            for entry in listed.containers {
                let task = taskOf[entry.id]
                let state = task.map { Self.engineState($0.status) } ?? .created
                // PIDs fit in Int32 (pid_max is at most 2^22); anything else is not a process.
                let pid = state.isLive ? task.flatMap { Int32(exactly: $0.pid) }.flatMap { $0 > 0 ? $0 : nil } : nil
                let cgroup = pid.flatMap { DockerEngine.engineCgroup(id: entry.id, pid: $0, layout: layout) }
                var container = Container(source: .containerd, id: entry.id, name: entry.id, labels: entry.labels,
                                          pid: cgroup == nil ? nil : pid, engineState: state, owner: nil,
                                          cgroup: cgroup.map { TargetSpec.directory($0) })
                container.namespace = namespace
                found.append(container)
            }
        }
        return found
    }

    /// containerd's task status in Docker's words (PAUSING counts as paused: it is on its way).
    static func engineState(_ status: Containerd_Services_Tasks_V1_Status) -> EngineState {
        switch status {
        case .running: return .running
        case .paused, .pausing: return .paused
        case .created: return .created
        case .stopped: return .exited
        case .unknown, .UNRECOGNIZED: return .dead
        }
    }

    /// Docker's namespaces in a containerd Docker shares: Docker keeps its own pause state for
    /// those containers (they are `docker:` targets), so only an explicit `--namespace` reads them.
    static let dockersNamespaces: Set<String> = ["moby", "plugins.moby"]

    /// Every namespace containerd has, but Docker's.
    private func allNamespaces() async throws -> [String] {
        let answer = try await call("containerd", namespace: nil) { client, request in
            try await Containerd_Services_Namespaces_V1_Namespaces.Client(wrapping: client).list(
                request: ClientRequest(message: Containerd_Services_Namespaces_V1_ListNamespacesRequest(), metadata: request.metadata),
                options: request.options)
        }
        return answer.namespaces.map(\.name).filter { !Self.dockersNamespaces.contains($0) }
    }

    /// `Tasks/Pause`: containerd's runc shim freezes the cgroup and waits until it is frozen.
    public func pause(_ container: Container, timeout: Duration) async throws {
        let message = Containerd_Services_Tasks_V1_PauseTaskRequest.with { $0.containerID = container.id }
        _ = try await call(container.shortReference, namespace: container.namespace, timeout: timeout) { client, request in
            try await Containerd_Services_Tasks_V1_Tasks.Client(wrapping: client).pause(
                request: ClientRequest(message: message, metadata: request.metadata), options: request.options)
        }
    }

    /// `Tasks/Resume`.
    public func unpause(_ container: Container, timeout: Duration) async throws {
        let message = Containerd_Services_Tasks_V1_ResumeTaskRequest.with { $0.containerID = container.id }
        _ = try await call(container.shortReference, namespace: container.namespace, timeout: timeout) { client, request in
            try await Containerd_Services_Tasks_V1_Tasks.Client(wrapping: client).resume(
                request: ClientRequest(message: message, metadata: request.metadata), options: request.options)
        }
    }

    /// What every call carries: the namespace header and the call's bounds.
    private struct CallSettings: Sendable {
        var metadata: Metadata
        var options: CallOptions
    }

    /// One unary call within `timeout`, its failures said in the catalog's terms.
    private func call<Answer: Sendable>(_ reference: String, namespace: String?, timeout: Duration = .seconds(30),
                                        _ body: @Sendable (GRPCClient<HTTP2ClientTransport.Posix>, CallSettings) async throws -> Answer) async throws -> Answer {
        if let problem = unavailability() { throw problem }
        var metadata = Metadata()
        if let namespace { metadata.addString(namespace, forKey: "containerd-namespace") }
        var options = CallOptions.defaults
        options.timeout = timeout
        options.maxResponseMessageBytes = Self.answerLimit
        do {
            let answer = try await body(try connection.client(), CallSettings(metadata: metadata, options: options))
            connection.answered.store(true, ordering: .relaxed)
            return answer
        } catch let error as RPCError {
            throw Self.failure(error, reference: reference, socketPath: socketPath,
                               answeredBefore: connection.answered.load(ordering: .relaxed))
        }
    }

    /// containerd's gRPC status as the catalog's errors: an unreachable daemon is an unavailable
    /// source, unless it answered earlier in this run (then it went away during the run, and a
    /// request it took may be done: engine-lost, as for Docker); an answer is an engine error
    /// with the HTTP status of the same meaning (the JSON reports and exit codes treat both
    /// engines alike).
    static func failure(_ error: RPCError, reference: String, socketPath: FilePath, answeredBefore: Bool) -> ContainerCatalog.Error {
        let status: Int
        switch error.code {
        case .unavailable where answeredBefore: return .engineLost(reference, path: socketPath, reason: "containerd: \(error.message)")
        case .unavailable: return .sourceUnavailable(source: "containerd", path: socketPath, reason: error.message)
        case .notFound: status = 404
        case .failedPrecondition, .alreadyExists, .aborted: status = 409
        case .invalidArgument, .outOfRange: status = 400
        case .permissionDenied, .unauthenticated: status = 403
        case .deadlineExceeded: status = 504
        case .unimplemented: status = 501
        default: status = 500
        }
        return .engineError(reference, status: status, message: "containerd answered \(error.code): \(error.message)")
    }

    /// One gRPC client on the socket, started on first use and shut down with the last copy of
    /// the engine: a batch's calls share its HTTP/2 connection.
    private final class Connection: Sendable {
        let socketPath: FilePath
        /// Whether containerd answered a call of this run.
        let answered = Atomic(false)
        private let state = Mutex<GRPCClient<HTTP2ClientTransport.Posix>?>(nil)

        init(socketPath: FilePath) {
            self.socketPath = socketPath
        }

        func client() throws -> GRPCClient<HTTP2ClientTransport.Posix> {
            try state.withLock { current in
                if let current { return current }
                let transport = try HTTP2ClientTransport.Posix(
                    target: .unixDomainSocket(path: socketPath.string), transportSecurity: .plaintext)
                let client = GRPCClient(transport: transport)
                // Ends when the client is shut down; a connection's failure is each call's error.
                Task.detached { try? await client.runConnections() }
                current = client
                return client
            }
        }

        deinit {
            state.withLock { $0?.beginGracefulShutdown() }
        }
    }
}
