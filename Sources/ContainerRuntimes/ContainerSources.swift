import CgroupFreezer
import SystemPackage

/// One container source as the registry lists it: how its targets are written, what it can do,
/// and how a catalog gets its driver. A source is one `ContainerSourceDriver` in one file with
/// its `ContainerSourceKind` beside it, and one line in `ContainerSources.all` (docs/extending.md).
public struct ContainerSourceKind: Sendable {
    /// Its prefix, table line and reference form.
    public let syntax: ContainerSourceSyntax
    /// It keeps its own pause state (Docker, podman, containerd): a container it lists is its
    /// own, not the runc state beneath it, and `lookup` prefers its entry.
    public let keepsPauseState: Bool
    /// Its driver is a network client (ContainerEngines): only freezectl-engines links it, so
    /// freezectl hands such targets over (the rule of docs/architecture.md).
    public let needsEngineClient: Bool
    /// The drivers a catalog has for it on this host; nil for a source whose driver a program
    /// that links ContainerEngines passes to the catalog.
    let drivers: (@Sendable (ContainerCatalog.Settings) -> [any ContainerSourceDriver])?
    /// Whether anything of it is there, judged without its client (freezectl's handover of
    /// `--all` and `--filter`): an engine's socket that exists or is misconfigured.
    let isPresent: @Sendable ([String: String]) -> Bool
    /// The next steps its errors name.
    public let advice: SourceAdvice

    /// A source whose driver ContainerRuntimes builds (`drivers`), or, when `drivers` is nil, one
    /// whose client lives in ContainerEngines.
    public init(syntax: ContainerSourceSyntax, keepsPauseState: Bool, needsEngineClient: Bool,
                drivers: (@Sendable (ContainerCatalog.Settings) -> [any ContainerSourceDriver])?,
                isPresent: @escaping @Sendable ([String: String]) -> Bool, advice: SourceAdvice) {
        self.syntax = syntax
        self.keepsPauseState = keepsPauseState
        self.needsEngineClient = needsEngineClient
        self.drivers = drivers
        self.isPresent = isPresent
        self.advice = advice
    }

    /// The source's name.
    public var source: ContainerSource { syntax.source }

    /// Whether anything of it is there in `environment`, judged without its client.
    public func isPresent(in environment: [String: String]) -> Bool { isPresent(environment) }
}

/// What a source's errors tell the user to do next, in the source's own terms.
public struct SourceAdvice: Sendable {
    /// How its containers are listed, for a name not found (`` `docker ps` ``).
    public var list: String
    /// How to make it reachable, when a target names it and it is not there.
    public var start: String
    /// What to look at when it failed a selection.
    public var checkSource: String
    /// How to see one of its containers as it sees it, when it answered an error.
    public var checkContainer: String
    /// Its target form, as the advice for a runc/crun container it owns names it.
    public var target: String

    public init(list: String, start: String, checkSource: String, checkContainer: String, target: String) {
        self.list = list
        self.start = start
        self.checkSource = checkSource
        self.checkContainer = checkContainer
        self.target = target
    }
}

/// The registry: every container source, in the order a search reads them (the OCI runtimes
/// first, so an engine's own entry can replace the runc state of the same container).
public enum ContainerSources {
    public static let all: [ContainerSourceKind] = [.runc, .crun, .docker, .podman, .containerd, .lxc]

    /// What the target parser knows of the sources, in help-text order.
    public static let syntax: [ContainerSourceSyntax] = all.map(\.syntax)

    /// The source called `source`, or nil when there is none.
    public static func kind(of source: ContainerSource) -> ContainerSourceKind? {
        all.first { $0.source == source }
    }

    /// The source called `name`, as a filter or policy file writes it, or nil.
    public static func named(_ name: String) -> ContainerSource? {
        kind(of: ContainerSource(rawValue: name))?.source
    }

    /// The sources' names, for an error or help text that lists them: `runc, crun, docker, ...`.
    public static let names = names(separator: ", ")

    /// The sources' names joined by `separator`. A loop, not joined(separator:): pause's help
    /// texts are built from this at every start, where the stdlib's unspecialized joined costs
    /// a conformance lookup by mangled name (TargetSpec.formList's note).
    public static func names(separator: String) -> String {
        var list = ""
        for kind in all {
            if !list.isEmpty { list += separator }
            list += kind.source.rawValue
        }
        return list
    }
}

extension ContainerSource {
    /// Whether the source keeps its own pause state, so it must pause and resume its containers:
    /// a freeze written behind its back makes it wrong. runc, crun and LXC read the freezer.
    public var isEngine: Bool { ContainerSources.kind(of: self)?.keepsPauseState ?? false }

    /// Whether only freezectl-engines, which links the network clients, can reach it.
    public var needsEngineClient: Bool { ContainerSources.kind(of: self)?.needsEngineClient ?? false }
}

extension TargetSpec {
    /// Parses the CLI syntax with every registered source (`TargetSpec(parsing:sources:)`).
    public init(parsing text: String) throws(CgroupLayout.Error) {
        try self.init(parsing: text, sources: ContainerSources.syntax)
    }

    /// Every form, in the order help texts list them.
    public static let forms: [TargetForm] = forms(with: ContainerSources.syntax)

    /// The forms' syntax on one line: `/sys/fs/cgroup/..., cgroup:/PATH, pid:N, ...`.
    public static let formList: String = formList(with: ContainerSources.syntax)
}

/// How a catalog reads and acts on one source's containers: a state directory, an engine's
/// socket, a manager's tools. The catalog asks its drivers in the registry's order.
public protocol ContainerSourceDriver: Sendable {
    /// The source it reads.
    var source: ContainerSource { get }
    /// Where it reads them (state directory, socket), as messages name it.
    var location: FilePath { get }
    /// Nothing there at all (no state directory, no socket): `--all` skips it quietly.
    var isAbsent: Bool { get }
    /// Why it cannot be read (absent, misconfigured), or nil when it can.
    func unavailability() -> ContainerCatalog.Error?
    /// Every container it lists, live or not (`engineState` says, where it keeps one).
    func containers() async throws -> [Container]
    /// The container whose full ID or name is exactly `reference`, read alone when the source can
    /// (a start-up cost the CLI pays per call); nil sends the caller to the full search.
    func container(exactly reference: String) async throws -> Container?
    /// Who pauses and resumes its containers when freezectl must go through their owner (the
    /// engine's API, LXC's tools); nil when the kernel freezer is their path (runc, crun).
    var owner: (any ContainerEngine)? { get }
    /// This driver searching only `namespaces` (containerd's); others are unchanged.
    func narrowed(toNamespaces namespaces: [String]) -> any ContainerSourceDriver
    /// This driver with its listing already asked for, where it can send it ahead.
    func listingAhead() -> any ContainerSourceDriver
    /// Refuses state anyone but its owner may write, for a program that reads it for a long
    /// time (freezectld) before it serves anything.
    func refuseUntrustedState() throws(ContainerCatalog.Error)
}

extension ContainerSourceDriver {
    public func container(exactly reference: String) async throws -> Container? { nil }
    public var owner: (any ContainerEngine)? { nil }
    public func narrowed(toNamespaces namespaces: [String]) -> any ContainerSourceDriver { self }
    public func listingAhead() -> any ContainerSourceDriver { self }
    public func refuseUntrustedState() throws(ContainerCatalog.Error) {}
}
