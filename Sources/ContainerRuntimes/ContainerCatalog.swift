import CgroupFreezer
import SystemPackage

/// Every place containers are found: the OCI runtimes' state directories, and the engines that
/// keep their own state (Docker, podman, containerd).
///
/// The engines' clients live in ContainerEngines (HTTP, gRPC), which a program links only when it
/// talks to an engine: a catalog without them reads runc and crun alone, and treats every engine
/// as absent (freezectl's kernel-side CLI, docs/architecture.md).
public struct ContainerCatalog: Sendable {
    /// The runc/crun state directories searched.
    public var runtimes: [OCIRuntimeSource]
    /// The engines' clients by source (`.docker`, `.podman`, `.containerd`).
    public var engines: [ContainerSource: any ListingEngine]
    /// containerd's namespaces searched (empty: every namespace but Docker's).
    public private(set) var namespaces: [String]

    /// A catalog of `runtimeRoots` (default: /run/runc and /run/crun) and `engines`. Reads
    /// nothing yet: a command reads a source only when a target or selection needs it.
    public init(runtimeRoots: [FilePath] = [], engines: [ContainerSource: any ListingEngine] = [:], namespaces: [String] = []) {
        runtimes = runtimeRoots.isEmpty ? OCIRuntimeSource.defaults : runtimeRoots.map(OCIRuntimeSource.detecting(root:))
        self.engines = engines
        self.namespaces = namespaces
    }

    /// This catalog with containerd searching only `namespaces` (empty: as it was).
    public func narrowed(toNamespaces namespaces: [String]) -> ContainerCatalog {
        guard !namespaces.isEmpty else { return self }
        var catalog = self
        catalog.engines = engines.mapValues { $0.narrowed(toNamespaces: namespaces) }
        catalog.namespaces = namespaces
        return catalog
    }

    /// This catalog with the engines that are there already asked for their containers, for a
    /// caller about to list them all (`--all`, `--filter`): the engines answer while the caller
    /// reads the layout. Only the list calls are sent; nothing is changed.
    public func listingAhead() -> ContainerCatalog {
        var catalog = self
        catalog.engines = engines.mapValues { $0.listingAhead() }
        return catalog
    }

    /// Whether `source` is an engine whose client this program does not link (the kernel-side
    /// CLI): its containers can only be found by the program that does.
    public func lacksClient(for source: ContainerSource) -> Bool {
        source.isEngine && engines[source] == nil
    }

    /// The engine that pauses `source`'s containers, or nil for runc and crun (and for an engine
    /// whose client is not linked).
    public func engine(for source: ContainerSource) -> (any ContainerEngine)? {
        source.isEngine ? engines[source] : nil
    }

    /// The engines, in the order selections list their containers.
    static let engineOrder: [ContainerSource] = [.docker, .podman, .containerd]

    /// Whether any engine is there to ask, judged by its address alone (EngineAddress, no
    /// client): where none is, `all()` finds the runc and crun containers only, with or without
    /// the engines' clients.
    public static func anyEnginePresent(environment: [String: String]) -> Bool {
        engineOrder.contains { EngineAddress.of($0, environment: environment)?.isAbsent == false }
    }

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
        for source in Self.engineOrder {
            guard let engine = engines[source], !engine.isAbsent else { continue }
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
            do {
                fromRuntimes += try runtime.containers().filter { !listedByEngines.contains($0.id) }
            } catch {
                failures.append(error)
            }
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
            candidates += try runtime.containers()
        }
        for engine in Self.engineOrder where source == nil || source == engine {
            guard let client = engines[engine] else {
                if source == engine {
                    throw Error.sourceUnavailable(source: engine.rawValue, path: "", reason: "this program has no client for it (freezectl hands such targets to freezectl-engines)")
                }
                continue
            }
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

    /// The podman container a runc/crun container is, when podman owns it and its service is
    /// there; nil otherwise (the resolver then refuses it as engine-owned, saying why). A service
    /// that is there and fails is the error.
    private func ownedByPodman(_ container: Container) async throws -> Container? {
        guard container.owner == "podman", let podman = engines[.podman], podman.unavailability() == nil else { return nil }
        return try await podman.containers().first { $0.id == container.id }
    }
}

/// What the catalog asks of an engine that lists its containers through its socket.
public protocol ListingEngine: ContainerEngine {
    /// The daemon's socket.
    var socketPath: FilePath { get }
    /// No socket at all: the engine is not installed or not running (`--all` skips it quietly).
    var isAbsent: Bool { get }
    /// Why the socket cannot be used, or nil when it can.
    func unavailability() -> ContainerCatalog.Error?
    /// Every container the engine lists.
    func containers() async throws -> [Container]
    /// This engine searching only `namespaces` (containerd's); others are unchanged.
    func narrowed(toNamespaces namespaces: [String]) -> any ListingEngine
    /// This engine with its listing already asked for, when it can send it ahead (Docker's and
    /// podman's list call); others are unchanged.
    func listingAhead() -> any ListingEngine
}

extension ListingEngine {
    public func narrowed(toNamespaces namespaces: [String]) -> any ListingEngine { self }
    public func listingAhead() -> any ListingEngine { self }
}

extension ContainerCatalog {
    /// Whether `name` is a containerd namespace name: `[A-Za-z0-9]+([._-][A-Za-z0-9]+)*`.
    public static func isNamespaceName(_ name: String) -> Bool {
        guard name.utf8.count <= 76 else { return false }
        let parts = name.split(omittingEmptySubsequences: false) { $0 == "." || $0 == "_" || $0 == "-" }
        return parts.allSatisfy { !$0.isEmpty && $0.unicodeScalars.allSatisfy { $0.isASCII && $0.properties.isAlphabetic || ("0"..."9").contains($0) } }
    }
}
