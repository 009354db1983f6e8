import CgroupFreezer
import SystemPackage

/// Every place containers are found: one driver per source and place (ContainerSources), asked
/// in the registry's order.
///
/// The engines' clients live in ContainerEngines (HTTP, gRPC), which a program links only when it
/// talks to an engine: a catalog without them reads the other sources alone, and treats every
/// engine as absent (freezectl's kernel-side CLI, docs/architecture.md).
public struct ContainerCatalog: Sendable {
    /// What a source's drivers are made from.
    public struct Settings: Sendable {
        /// The runc/crun state directories given (empty: /run/runc and /run/crun).
        public var runtimeRoots: [FilePath]
        /// containerd's namespaces searched (empty: every namespace but Docker's).
        public var namespaces: [String]
    }

    /// The drivers, in the registry's order.
    public private(set) var drivers: [any ContainerSourceDriver]
    /// containerd's namespaces searched (empty: every namespace but Docker's).
    public private(set) var namespaces: [String]

    /// A catalog of `runtimeRoots` (default: /run/runc and /run/crun), the sources ContainerRuntimes
    /// drives itself, and `engines` (the drivers of the sources whose clients live in
    /// ContainerEngines). Reads nothing yet: a command reads a source only when a target or
    /// selection needs it.
    public init(runtimeRoots: [FilePath] = [], engines: [ContainerSource: any ContainerSourceDriver] = [:],
                namespaces: [String] = []) {
        let settings = Settings(runtimeRoots: runtimeRoots, namespaces: namespaces)
        drivers = ContainerSources.all.flatMap { kind -> [any ContainerSourceDriver] in
            if let make = kind.drivers { return make(settings) }
            return engines[kind.source].map { [$0] } ?? []
        }
        self.namespaces = namespaces
    }

    /// This catalog with containerd searching only `namespaces` (empty: as it was).
    public func narrowed(toNamespaces namespaces: [String]) -> ContainerCatalog {
        guard !namespaces.isEmpty else { return self }
        var catalog = self
        catalog.drivers = drivers.map { $0.narrowed(toNamespaces: namespaces) }
        catalog.namespaces = namespaces
        return catalog
    }

    /// This catalog with the sources that are there already asked for their containers, for a
    /// caller about to list them all (`--all`, `--filter`): the engines answer while the caller
    /// reads the layout. Only the list calls are sent; nothing is changed.
    public func listingAhead() -> ContainerCatalog {
        var catalog = self
        catalog.drivers = drivers.map { $0.listingAhead() }
        return catalog
    }

    /// Whether `source` needs a client this program does not link (the kernel-side CLI): its
    /// containers can only be found by the program that does.
    public func lacksClient(for source: ContainerSource) -> Bool {
        source.needsEngineClient && !drivers.contains { $0.source == source }
    }

    /// Who pauses `source`'s containers through their owner, or nil where the kernel freezer is
    /// their path (runc and crun, and an engine whose client is not linked).
    public func engine(for source: ContainerSource) -> (any ContainerEngine)? {
        drivers.first { $0.source == source }?.owner
    }

    /// Whether any source whose client lives in ContainerEngines is there to ask, judged without
    /// the client: where none is, `all()` finds the same containers with or without the clients.
    public static func anyEnginePresent(environment: [String: String]) -> Bool {
        ContainerSources.all.contains { $0.needsEngineClient && $0.isPresent(environment) }
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
        for driver in drivers where driver.source.isEngine && !driver.isAbsent {
            do {
                if let problem = driver.unavailability() { throw problem }
                let listed = try await driver.containers()
                listedByEngines.formUnion(listed.map(\.id))
                found += listed.filter { $0.engineState?.isLive == true && !$0.isSandbox }
            } catch {
                let reason = (error as? any FreezectlError)?.message ?? "\(error)"
                failures.append(Error.sourceFailed(source: driver.source.rawValue, path: driver.location, reason: reason))
            }
        }
        var fromOthers: [Container] = []
        for driver in drivers where !driver.source.isEngine && !driver.isAbsent {
            do {
                fromOthers += try await driver.containers().filter { !listedByEngines.contains($0.id) && $0.engineState?.isLive != false }
            } catch let error as any FreezectlError {
                failures.append(error)
            } catch {
                failures.append(Error.sourceFailed(source: driver.source.rawValue, path: driver.location, reason: "\(error)"))
            }
        }
        return (fromOthers + found, failures)
    }

    /// The one container that `reference` names in `source` (or in every source when nil): an
    /// exact ID or name first, else a unique ID prefix. A scoped source's are `SCOPE/ID` or `ID`
    /// (containerd's namespaces). A runc/crun container that podman runs is podman's when
    /// podman's service answers.
    public func lookup(_ source: ContainerSource?, _ reference: String) async throws -> Container {
        let given = source.map { "\($0.rawValue):\(reference)" } ?? reference
        let named = drivers.filter { source == nil || $0.source == source }
        if let source, named.isEmpty, source.needsEngineClient {
            throw Error.sourceUnavailable(source: source.rawValue, path: "", reason: "this program has no client for it (freezectl hands such targets to freezectl-engines)")
        }
        // A full ID or name in a named source: read that one alone rather than every container.
        if source != nil {
            // Not there or unreadable: the full search below finds it by prefix, or says why not.
            let exact = try? await named.asyncCompactMap { driver in driver.unavailability() == nil ? try await driver.container(exactly: reference) : nil }
            if let exact, exact.count == 1 { return try await ownedByPodman(exact[0]) ?? exact[0] }
        }
        var candidates: [Container] = []
        var searched: [String] = []
        for driver in named {
            if let problem = driver.unavailability() {
                // A bare reference looks only in the sources that are there; a named one says why
                // it cannot look when no place of that source can be read.
                if source != nil && named.allSatisfy({ $0.unavailability() != nil }) { throw problem }
                continue
            }
            searched.append("\(driver.source.rawValue) \(driver.location)")
            do {
                let listed = try await driver.containers()
                // The engine's own entry wins over the runc state of the same container.
                if driver.source.isEngine {
                    let ids = Set(listed.map(\.id))
                    candidates.removeAll { !$0.source.isEngine && ids.contains($0.id) }
                }
                candidates += listed
            } catch Error.sourceUnavailable(let name, let path, let reason) where driver.source.isEngine {
                if source != nil { throw Error.sourceUnavailable(source: name, path: path, reason: reason) }
            }
        }
        // `SOURCE:SCOPE/ID` names a scope (containerd's namespace) too.
        var wanted = reference
        if let source, ContainerSources.kind(of: source)?.syntax.scopedReferences == true, let slash = reference.firstIndex(of: "/") {
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
        guard container.owner == "podman", let podman = drivers.first(where: { $0.source == .podman }), podman.unavailability() == nil else { return nil }
        return try await podman.containers().first { $0.id == container.id }
    }
}

extension Array {
    /// `compactMap` with an async transform, in order.
    func asyncCompactMap<T>(_ transform: (Element) async throws -> T?) async rethrows -> [T] {
        var result: [T] = []
        for element in self {
            if let value = try await transform(element) { result.append(value) }
        }
        return result
    }
}

extension ContainerCatalog {
    /// Whether `name` is a containerd namespace name: `[A-Za-z0-9]+([._-][A-Za-z0-9]+)*`.
    public static func isNamespaceName(_ name: String) -> Bool {
        guard name.utf8.count <= 76 else { return false }
        let parts = name.split(omittingEmptySubsequences: false) { $0 == "." || $0 == "_" || $0 == "-" }
        return parts.allSatisfy { !$0.isEmpty && $0.unicodeScalars.allSatisfy { $0.isASCII && $0.properties.isAlphabetic || ("0"..."9").contains($0) } }
    }
}
