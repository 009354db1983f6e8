import CgroupFreezer
import ContainerRuntimes
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization
import SystemPackage

/// The Docker Engine API on its unix socket, through async-http-client (`http+unix`); podman's
/// API service speaks the same endpoints, so one client serves both (`source` says which).
///
/// Docker and podman keep their own pause state and do not notice a freezer written behind
/// their back (`docker unpause` then fails with "container not paused"), so their containers are
/// paused and unpaused through this API unless the caller asks for a direct cgroup write.
public struct DockerEngine: ContainerEngine {
    /// `.docker` or `.podman`.
    public let source: ContainerSource
    public var backend: Backend { source == .podman ? .podman : .docker }

    /// The socket of the daemon.
    public let socketPath: FilePath

    /// Docker's default socket.

    /// Why the configured address cannot be used; reported only by the targets and selections that need it.
    let configurationProblem: ContainerCatalog.Error?

    /// Whether the engine has answered a request of this run: after that, a connection that
    /// fails is an engine that went away during the run (a failure), not an absent one (bad input).
    private let answered = AnsweredFlag()

    /// The list request sent ahead, if any (`listingAhead`).
    private var ahead: ListAhead?

    private final class AnsweredFlag: Sendable {
        let value = Atomic(false)
    }

    /// The engine `DOCKER_HOST` names (EngineAddress). An unsupported DOCKER_HOST does not fail
    /// here: commands that never name a Docker container must not fail because of it.
    public static func fromEnvironment(_ environment: [String: String]) -> DockerEngine {
        engine(.docker, environment)
    }

    /// podman's API service at the address `CONTAINER_HOST` names (EngineAddress).
    public static func podmanFromEnvironment(_ environment: [String: String]) -> DockerEngine {
        engine(.podman, environment)
    }

    private static func engine(_ source: ContainerSource, _ environment: [String: String]) -> DockerEngine {
        // Every engine source has an address.
        let address = EngineAddress.of(source, environment: environment)!
        return DockerEngine(source: source, socketPath: address.socketPath, problem: address.problem)
    }

    /// A Docker engine at `socketPath`.
    public init(socketPath: FilePath) {
        self.init(source: .docker, socketPath: socketPath, problem: nil)
    }

    /// An engine of `source` (`.docker` or `.podman`) at `socketPath`.
    public init(source: ContainerSource, socketPath: FilePath) {
        self.init(source: source, socketPath: socketPath, problem: nil)
    }

    private init(source: ContainerSource, socketPath: FilePath, problem: ContainerCatalog.Error?) {
        self.source = source
        self.socketPath = socketPath
        configurationProblem = problem
    }

    /// Whether there is simply no daemon: no socket at all (the only case `--all` skips quietly).
    public var isAbsent: Bool { configurationProblem == nil && !Syscall.exists(socketPath) }

    /// What to do when the socket is not there.
    private var startAdvice: String {
        source == .podman
            ? "is podman's API service running? start it with `systemctl start podman.socket` or `podman system service --time=0 unix://\(socketPath)`"
            : "is dockerd running?"
    }

    /// Why the socket cannot be used, or nil when it exists and is a socket.
    public func unavailability() -> ContainerCatalog.Error? {
        if let configurationProblem { return configurationProblem }
        return .socketUnavailability(source: source, path: socketPath, advice: startAdvice)
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

    /// Every container the engine knows, from one list call. The cgroup of one that runs comes
    /// from the OCI runtime's own state: one container's state file (checked against its init's
    /// start time, as for runc) shows how the engine names its containers' cgroups (`docker/<id>`,
    /// `system.slice/docker-<id>.scope`, `libpod_parent/libpod-<id>`), and each other container's
    /// cgroup is then the directory of that name, which by construction is its own; only where
    /// that directory is missing (a container with its own cgroup parent) is its state file
    /// decoded (runc's holds the whole OCI config, ~30 KiB, about 0.3 ms each: for a hundred
    /// containers, most of a batch). The teacher is a container the engine lists, running; its
    /// state is read while the engine answers the list (the first one in the runtime's state
    /// directory that the list then names), else after it. A named cgroup without processes is
    /// a container going away. Containers read from a state file have their init's PID; the
    /// others get it only where it is needed (`withInit`). A container whose state is elsewhere
    /// (another runtime, another state directory) costs an inspect. One that went away between
    /// the list and its state is left out: it is not there to act on.
    public func containers() async throws -> [Container] {
        let list = ahead?.take() ?? listRequest()
        // While the engine answers: where its runtime keeps state, and a teacher candidate.
        let states = runtimeStates()
        let candidate = Self.firstRuntimeState(in: states)
        let data = try await withTaskCancellationHandler { try await list.value } onCancel: { list.cancel() }
        let listed = try Self.listed(data, source: source)
        let learned: (index: Int, container: Container?)?
        if let candidate, let index = listed.firstIndex(where: { $0.id == candidate.container.id && $0.engineState?.isLive == true }) {
            learned = (index, Self.merging(listed[index], candidate))
        } else {
            learned = listed.indices.lazy
                .filter { listed[$0].engineState?.isLive == true }
                .compactMap { index in Self.fromRuntimeState(listed[index], states: states).map { (index, $0) } }
                .first
        }
        let naming = learned?.container.flatMap(CgroupNaming.init(learnedFrom:))
        let namingRoot = learned?.container?.runtimeRoot
        var containers: [Container?] = Array(listed.indices).concurrentMap { index in
            let container = listed[index]
            if index == learned?.index { return learned?.container }
            guard container.engineState?.isLive == true else { return container }
            // Its processes all gone, the cgroup is about to be removed (the container is
            // stopping or being removed): left out, as a state file whose init is gone is, so a
            // batch never freezes a cgroup its engine is tearing down.
            if let naming, let cgroup = naming.directory(for: container.id), let populated = CgroupProcesses.anyInSubtreeIfPresent(cgroup) {
                guard populated else { return nil }
                var named = container
                named.cgroup = .directory(cgroup)
                named.runtimeRoot = namingRoot
                return named
            }
            return Self.fromRuntimeState(container, states: states) ?? container
        }
        // Those whose runtime state was not found: one inspect each.
        let missing = containers.indices.filter { containers[$0].map { $0.engineState?.isLive == true && $0.cgroup == nil } ?? false }
        let layout = missing.isEmpty ? nil : try CgroupLayout.current()
        try await withThrowingTaskGroup(of: (Int, Container?).self) { group in
            for index in missing {
                guard let container = containers[index] else { continue }
                group.addTask { (index, try await inspected(container, layout: layout)) }
            }
            for try await (index, container) in group { containers[index] = container }
        }
        return containers.compactMap { $0 }
    }

    /// This engine with its list request already sent: the next `containers()` takes its answer,
    /// so the engine answers while the caller does its own start-up (reading the layout). A
    /// caller that lists anyway asks for it first thing; an engine that is not there is left as is.
    public func listingAhead() -> any ContainerSourceDriver {
        guard !isAbsent, unavailability() == nil else { return self }
        var engine = self
        engine.ahead = ListAhead(listRequest())
        return engine
    }

    /// `GET /containers/json?all=1`, on its way.
    private func listRequest() -> Task<Data, any Error> {
        Task { [self] in try await request(.GET, "/containers/json?all=1", reference: source.rawValue) }
    }

    /// A list request sent ahead (`listingAhead`), answered once: to the first `containers()`.
    private final class ListAhead: Sendable {
        private let pending: Mutex<Task<Data, any Error>?>
        init(_ task: Task<Data, any Error>) { pending = Mutex(task) }
        func take() -> Task<Data, any Error>? {
            pending.withLock { task in
                defer { task = nil }
                return task
            }
        }
    }

    /// The containers of a list answer (`GET /containers/json`) as it says them, with no PID or
    /// cgroup yet; an answer that is not such a list is the engine's error. The daemon's answer
    /// describes containers others created: the fuzz harness runs this on arbitrary bytes.
    package static func listed(_ data: Data, source: ContainerSource) throws(ContainerCatalog.Error) -> [Container] {
        do {
            return try JSONDecoder().decode([Summary].self, from: data).map { listed($0, source: source) }
        } catch {
            throw ContainerCatalog.Error.engineError(source.rawValue, status: 200, message: "unreadable container list: \(error)")
        }
    }

    /// A listed container as the list says it (no PID or cgroup yet).
    private static func listed(_ summary: Summary, source: ContainerSource) -> Container {
        let name = summary.Names?.first.map { $0.hasPrefix("/") ? String($0.dropFirst()) : $0 } ?? summary.Id
        let state = summary.State.flatMap(EngineState.init(rawValue:))
        return Container(source: source, id: summary.Id, name: name, labels: summary.Labels ?? [:], pid: nil,
                         engineState: state, owner: nil, cgroup: nil)
    }

    /// The container with its PID and cgroup from its runtime state file: `.some(nil)` when the
    /// state is there but its init is gone (it is stopping), nil when no state was found.
    private static func fromRuntimeState(_ listed: Container, states: [OCIRuntimeSource]) -> Container?? {
        for runtime in states {
            switch Result(catching: { try runtime.container(id: listed.id) }) {
            case .success(let found?):
                return .some(merging(listed, (found, runtime.root)))
            case .success(nil):
                return .some(nil)
            case .failure:
                continue
            }
        }
        return nil
    }

    /// The first container in the runtimes' state directories whose state reads with its init
    /// alive (at most a few tried: past them, the containers the list names are read one by one).
    private static func firstRuntimeState(in states: [OCIRuntimeSource]) -> (container: Container, root: FilePath)? {
        for runtime in states {
            guard case .success(let ids) = Syscall.subdirectories(of: runtime.root) else { continue }
            for id in ids.prefix(4) {
                // A sample only: one that does not read (stopped, not ours) is passed over.
                if let found = try? runtime.container(id: id) { return (found, runtime.root) }
            }
        }
        return nil
    }

    /// A listed container with the PID and cgroup its runtime state gave.
    private static func merging(_ listed: Container, _ state: (container: Container, root: FilePath)) -> Container {
        var container = listed
        container.pid = state.container.pid
        container.initStart = state.container.initStart
        container.cgroup = state.container.cgroup
        container.runtimeRoot = state.root
        container.state = state.container.state
        return container
    }

    /// The container with its PID and cgroup from an inspect, or nil when it was removed meanwhile.
    private func inspected(_ container: Container, layout: CgroupLayout?) async throws -> Container? {
        let body: Data
        do {
            body = try await request(.GET, "/containers/\(container.id)/json", reference: container.shortReference)
        } catch ContainerCatalog.Error.engineError(_, 404, _) {
            return nil
        }
        var container = container
        // An inspect without a PID: listed, but with no process to act on. An answer that is not
        // an inspect is the engine's error, as an unreadable list is.
        let pid: Int32?
        do {
            pid = try JSONDecoder().decode(Inspection.self, from: body).State?.Pid
        } catch {
            throw ContainerCatalog.Error.engineError(container.shortReference, status: 200, message: "unreadable inspect answer: \(error)")
        }
        container.pid = pid.flatMap { $0 > 0 ? $0 : nil }
        container.cgroup = container.pid.map { Self.cgroup(id: container.id, pid: $0, layout: layout) }
        return container
    }

    /// Where the engine's OCI runtime keeps its containers' state. Docker: runc under dockerd's
    /// exec root (`/run/docker`, or what `--exec-root` on the command line of the process
    /// listening on the socket says) in `runtime-runc/moby`. podman (as root): runc's and crun's
    /// default roots.
    private func runtimeStates() -> [OCIRuntimeSource] {
        switch source {
        case .podman:
            return OCIRuntimeSource.defaults
        default:
            let execRoot = Syscall.listeningProcess(ofUnixSocket: socketPath.string).flatMap(Self.execRoot(ofDockerd:)) ?? "/run/docker"
            return [OCIRuntimeSource(runtime: .runc, root: execRoot.appending("runtime-runc/moby"))]
        }
    }

    /// `--exec-root` from dockerd's command line (root's process, not a container's), if given.
    static func execRoot(ofDockerd pid: pid_t) -> FilePath? {
        guard let line = CgroupFile.procFileIfReadable(FilePath("/proc/\(pid)/cmdline")) else { return nil }
        let arguments = line.split(separator: "\0", omittingEmptySubsequences: false).map(String.init)
        for (index, argument) in arguments.enumerated() {
            if argument.hasPrefix("--exec-root=") { return FilePath(String(argument.dropFirst("--exec-root=".count))) }
            if argument == "--exec-root", index + 1 < arguments.count, arguments[index + 1].hasPrefix("/") {
                return FilePath(arguments[index + 1])
            }
        }
        return nil
    }

    /// A container's cgroup is the one its engine created for it (`/docker/<id>` with the
    /// cgroupfs driver, `.../docker-<id>.scope` with systemd's, `libpod_parent/libpod-<id>`,
    /// `/k8s.io/<id>`, `cri-containerd-<id>.scope`), not the cgroup its init happens to be in
    /// now: an init that moved itself into a child cgroup (systemd in a container) would
    /// otherwise leave the rest of the container running. So the init's cgroup is walked up to
    /// the component that names the container's full ID, which by construction contains the init.
    /// nil when no such component holds the init (its PID now belongs to someone else).
    static func engineCgroup(id: String, pid: Int32, layout: CgroupLayout) -> FilePath? {
        guard let cgroups = ProcessCgroups.ifAlive(pid: pid) else { return nil }
        for hierarchy in [layout.freezer, layout.unified].compactMap({ $0 }) {
            if let directory = cgroups.directory(in: hierarchy, layout: layout)?
                .nearestAncestor(below: hierarchy.mountPoint, where: { Self.names($0, id: id) }) {
                return directory
            }
        }
        return nil
    }

    /// Whether a cgroup directory's name is the engine's for container `id`: the ID itself, or
    /// `PREFIX-ID` and `PREFIX-ID.scope` (docker-, libpod-, cri-containerd-, crio-).
    static func names(_ component: String, id: String) -> Bool {
        guard !id.isEmpty else { return false }
        let name = component.hasSuffix(".scope") ? String(component.dropLast(".scope".count)) : component
        return name == id || name.hasSuffix("-" + id)
    }

    /// How an engine names its containers' cgroups: a parent directory and `PREFIX<id>SUFFIX`,
    /// learned from one container whose runtime state gave its cgroup.
    struct CgroupNaming {
        let parent: FilePath
        let prefix: String
        let suffix: String

        /// nil when the container's cgroup is not a directory named for its ID (see `names`).
        init?(learnedFrom container: Container) {
            guard case .directory(let path)? = container.cgroup, let last = path.lastComponent?.string,
                  DockerEngine.names(last, id: container.id) else { return nil }
            suffix = last.hasSuffix(".scope") ? ".scope" : ""
            let stem = last.dropLast(suffix.count)
            prefix = String(stem.dropLast(container.id.count))
            parent = path.removingLastComponent()
        }

        /// The cgroup the engine made for container `id`; nil for an ID that is not one plain name.
        func directory(for id: String) -> FilePath? {
            // On the bytes: with Foundation imported, String.contains(String) is NSString's search.
            guard !id.isEmpty, !id.utf8.contains(UInt8(ascii: "/")), id != ".", id != ".." else { return nil }
            return parent.appending(prefix + id + suffix)
        }
    }

    /// Docker's cgroup for an inspected container (see `engineCgroup`); the init's own cgroup when
    /// no component names the container (the PID target then fails clearly if it exited).
    static func cgroup(id: String, pid: Int32, layout: CgroupLayout?) -> TargetSpec {
        guard let layout, let directory = engineCgroup(id: id, pid: pid, layout: layout) else { return .pid(pid) }
        return .directory(directory)
    }

    /// `POST /containers/{id}/pause`.
    public func pause(_ container: Container, timeout: Duration) async throws {
        _ = try await request(.POST, "/containers/\(container.id)/pause", reference: container.shortReference, timeout: timeout)
    }

    /// `POST /containers/{id}/unpause`.
    public func unpause(_ container: Container, timeout: Duration) async throws {
        _ = try await request(.POST, "/containers/\(container.id)/unpause", reference: container.shortReference, timeout: timeout)
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
            // Never connected, and never answered in this run: the engine is not there. Anything
            // else (the connection reset or closed, no answer in time, or an engine that answered
            // earlier refusing now) is an engine that died or hung during the run: the request
            // may have been taken, so the change may be done (the caller reports the real state).
            let refused = (error as? IOError).map { [ECONNREFUSED, ENOENT, EACCES, EPERM].contains($0.errnoCode) } ?? false
            if !answered.value.load(ordering: .relaxed) && (refused || (error as? HTTPClientError) == .connectTimeout) {
                throw ContainerCatalog.Error.sourceUnavailable(source: source.rawValue, path: socketPath, reason: "\(error)")
            }
            throw ContainerCatalog.Error.engineLost(reference, path: socketPath, reason: "\(error)")
        }
        answered.value.store(true, ordering: .relaxed)
        let body = Data(try await response.body.collect(upTo: 64 << 20).readableBytesView)
        guard (200..<300).contains(Int(response.status.code)) else {
            // dockerd and podman answer {"message": ...}; anything else is quoted as it came.
            let message = (try? JSONDecoder().decode(Message.self, from: body))?.message ?? String(decoding: body, as: UTF8.self)
            throw ContainerCatalog.Error.engineError(reference, status: Int(response.status.code), message: message)
        }
        return body
    }
}

extension HTTPClientRequest {
    /// `text` with every byte but ASCII letters and digits as `%XX`: the socket path as the
    /// URL's host (Foundation's addingPercentEncoding did the same through UTF-16 and NSString,
    /// three protocol-conformance scans of the binary at every engine command's first request).
    static func percentEncoded(_ text: String) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var bytes: [UInt8] = []
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                bytes.append(byte)
            default:
                bytes += [UInt8(ascii: "%"), hex[Int(byte >> 4)], hex[Int(byte & 0x0F)]]
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// A request to an HTTP server on a unix socket (dockerd, podman, freezectld), with a JSON body.
    package init(unixSocket socket: FilePath, _ method: HTTPMethod, _ path: String, json body: [UInt8]?) {
        self.init(url: "http+unix://\(Self.percentEncoded(socket.string))\(path)")
        self.method = method
        // dockerd answers 400 to the default Host header (the encoded socket path).
        headers.replaceOrAdd(name: "Host", value: "localhost")
        if let body {
            headers.replaceOrAdd(name: "Content-Type", value: "application/json")
            self.body = .bytes(ByteBuffer(bytes: body))
        }
    }
}
