import CgroupFreezer
import SystemPackage

/// Every place containers are found: the OCI runtimes' state directories, and the engines that
/// keep their own state (Docker, podman, containerd).
public struct ContainerCatalog: Sendable {
    /// The runc/crun state directories searched.
    public var runtimes: [OCIRuntimeSource]
    /// The Docker Engine.
    public var docker: DockerEngine
    /// podman's API service.
    public var podman: DockerEngine
    /// containerd.
    public var containerd: ContainerdEngine

    /// A catalog of `runtimes` (default: /run/runc and /run/crun), the engines the environment
    /// names (`DOCKER_HOST`, `CONTAINER_HOST`, `CONTAINERD_ADDRESS`) and containerd's
    /// `namespaces` (empty: all). Reads nothing yet: a command reads a source only when a target
    /// or selection needs it.
    public init(runtimeRoots: [FilePath] = [], environment: [String: String], namespaces: [String] = []) {
        runtimes = runtimeRoots.isEmpty ? OCIRuntimeSource.defaults : runtimeRoots.map(OCIRuntimeSource.detecting(root:))
        docker = DockerEngine.fromEnvironment(environment)
        podman = DockerEngine.podmanFromEnvironment(environment)
        containerd = ContainerdEngine.fromEnvironment(environment, namespaces: namespaces)
    }

    /// This catalog with containerd searching only `namespaces` (empty: as it was).
    public func narrowed(toNamespaces namespaces: [String]) -> ContainerCatalog {
        guard !namespaces.isEmpty else { return self }
        var catalog = self
        catalog.containerd = containerd.narrowed(to: namespaces)
        return catalog
    }

    /// The engine that pauses `source`'s containers, or nil for runc and crun.
    public func engine(for source: ContainerSource) -> (any ContainerEngine)? {
        source.isEngine ? listing(source) : nil
    }

    /// The one place an engine source is mapped to its client (runc and crun have none: they
    /// are read from their state directories).
    private func listing(_ source: ContainerSource) -> any ListingEngine {
        switch source {
        case .podman: return podman
        case .containerd: return containerd
        case .docker, .runc, .crun: return docker
        }
    }

    /// The engines, in the order selections list their containers.
    static let engines: [ContainerSource] = [.docker, .podman, .containerd]

    /// Every container with a live process (running or paused) in every source that is present,
    /// and why each source that is there could not be read. Only an absent source (no state
    /// directory, no socket) is skipped quietly; a daemon that fails or does not answer is a
    /// failure the caller reports, never a silent omission. A pod's sandbox is left out (it is
    /// acted on only when named), and a runc/crun container that an engine listed is that
    /// engine's (podman runs its containers with runc's default root).
    public func all() async -> (containers: [Container], failures: [any FreezectlError]) {
        var found: [Container] = []
        var failures: [any FreezectlError] = []
        var listedByEngines: Set<String> = []
        for source in Self.engines {
            let engine = listing(source)
            guard !engine.isAbsent else { continue }
            do {
                if let problem = engine.unavailability() { throw problem }
                let listed = try await engine.containers()
                listedByEngines.formUnion(listed.map(\.id))
                found += listed.filter { $0.engineState?.isLive == true && !$0.isSandbox }
            } catch {
                let reason = (error as? any FreezectlError)?.message ?? "\(error)"
                failures.append(Error.sourceFailed(source: source.rawValue, path: engine.socketPath, reason: reason))
            }
        }
        var fromRuntimes: [Container] = []
        for runtime in runtimes where runtime.isPresent {
            fromRuntimes += runtime.containers().filter { !listedByEngines.contains($0.id) }
        }
        return (fromRuntimes + found, failures)
    }

    /// The one container that `reference` names in `source` (or in every source when nil): an
    /// exact ID or name first, else a unique ID prefix. containerd's are `NAMESPACE/ID` or `ID`.
    /// A runc/crun container that podman runs is podman's when podman's service answers.
    public func lookup(_ source: ContainerSource?, _ reference: String) async throws -> Container {
        let given = source.map { "\($0.rawValue):\(reference)" } ?? reference
        // runc:ID and crun:ID with a full ID name a state directory: read that one alone rather
        // than every container on the host (a start-up cost the CLI pays per call).
        if let source, !source.isEngine, !reference.isEmpty, !reference.contains("/"), reference != ".", reference != ".." {
            // Not there or unreadable: the full search below finds it by prefix or name, or says why not.
            let exact = runtimes.filter { $0.runtime == source && $0.isPresent }.compactMap { try? $0.container(id: reference) }
            if exact.count == 1 { return try await ownedByPodman(exact[0]) ?? exact[0] }
        }
        var candidates: [Container] = []
        var searched: [String] = []
        for runtime in runtimes where source == nil || runtime.runtime == source {
            guard runtime.isPresent else {
                if source != nil && runtimes.filter({ $0.runtime == source }).allSatisfy({ !$0.isPresent }) {
                    throw Error.sourceUnavailable(source: runtime.runtime.rawValue, path: runtime.root, reason: "no such state directory")
                }
                continue
            }
            searched.append("\(runtime.runtime.rawValue) \(runtime.root)")
            candidates += runtime.containers()
        }
        for engine in Self.engines where source == nil || source == engine {
            let client = listing(engine)
            if let problem = client.unavailability() {
                // A bare reference looks only in the engines that are there.
                if source == engine { throw problem }
                continue
            }
            searched.append("\(engine.rawValue) \(client.socketPath)")
            do {
                let listed = try await client.containers()
                // The engine's own entry wins over the runc state of the same container.
                let ids = Set(listed.map(\.id))
                candidates.removeAll { !$0.source.isEngine && ids.contains($0.id) }
                candidates += listed
            } catch Error.sourceUnavailable(let name, let path, let reason) {
                if source == engine { throw Error.sourceUnavailable(source: name, path: path, reason: reason) }
            }
        }
        // containerd:NAMESPACE/ID names a namespace too.
        var wanted = reference
        if source == .containerd, let slash = reference.firstIndex(of: "/") {
            let namespace = String(reference[..<slash])
            wanted = String(reference[reference.index(after: slash)...])
            candidates.removeAll { $0.namespace != namespace }
        }
        let exact = candidates.filter { $0.id == wanted || $0.name == wanted }
        let matches = exact.isEmpty ? candidates.filter { $0.id.hasPrefix(wanted) } : exact
        switch matches.count {
        case 1: return matches[0]
        case 0: throw Error.noSuchContainer(given, searched: searched)
        default:
            throw Error.ambiguousContainer(given, matches: matches.map { "\($0.shortReference) (\($0.name))" })
        }
    }

    /// The podman container a runc/crun container is, when podman owns it and its service
    /// answers; nil otherwise (the resolver then refuses it as engine-owned, saying why).
    private func ownedByPodman(_ container: Container) async throws -> Container? {
        guard container.owner == "podman", podman.unavailability() == nil else { return nil }
        return try? await podman.containers().first { $0.id == container.id }
    }
}

/// What the catalog asks of an engine that lists its containers through its socket.
protocol ListingEngine: ContainerEngine {
    /// The daemon's socket.
    var socketPath: FilePath { get }
    /// No socket at all: the engine is not installed or not running (`--all` skips it quietly).
    var isAbsent: Bool { get }
    /// Why the socket cannot be used, or nil when it can.
    func unavailability() -> ContainerCatalog.Error?
    /// Every container the engine lists.
    func containers() async throws -> [Container]
}

extension DockerEngine: ListingEngine {}
extension ContainerdEngine: ListingEngine {}
