import CgroupFreezer
import ContainerRuntimes

/// Who acts on a target: the one answer every command (and the daemon) builds on.
public enum Route: Sendable {
    /// The kernel's freezer, written directly on this cgroup: a cgroup or PID target, a runc or
    /// crun container no engine owns, a unit's cgroup for CRIU, or anything with `direct`.
    case kernel(FreezerTarget)
    /// An engine that keeps its own pause state, asked through its API. `cgroup` is the
    /// container's cgroup, read for the true state and to see drift; nil when it has none.
    case engine(any ContainerEngine, Container, cgroup: FreezerTarget?)
    /// systemd's FreezeUnit and ThawUnit on a unit, with the unit's cgroup (nil when systemd
    /// gives none that is visible here).
    case systemd(unit: String, cgroup: FreezerTarget?)

    /// The cgroup whose state is the truth: the one written, or the one the engine or systemd writes.
    public var cgroup: FreezerTarget? {
        switch self {
        case .kernel(let target): return target
        case .engine(_, _, let cgroup), .systemd(_, let cgroup): return cgroup
        }
    }

    /// Who changes the state along this route.
    public var backend: Backend {
        switch self {
        case .kernel(let target): return Backend(target.backend)
        case .engine(let engine, _, _): return engine.backend
        case .systemd: return .systemd
        }
    }
}

/// What a route is for: it decides the engine-ownership policy and the self-freeze guard.
public enum Purpose: Sendable, Hashable {
    /// Freeze through whoever keeps the state (refuses what would freeze the caller).
    case pause
    /// Thaw through whoever keeps the state.
    case unpause
    /// Read the state only: no policy, every route allowed.
    case inspect
    /// CRIU freezes the cgroup itself (checkpoint, restore into a cgroup): a kernel route; an
    /// engine's container only with `direct`.
    case checkpoint

    /// Whether the route freezes: the self-freeze guard applies.
    var freezes: Bool { self == .pause || self == .checkpoint }
}

/// A target resolved to its route.
public struct ResolvedTarget: Sendable {
    /// The target as given, or `source:shortid` for a container picked by `--all` or a filter.
    public var reference: String
    /// The container, when the target is one.
    public var container: Container?
    /// Who acts.
    public var route: Route
    /// What the caller should know about the route (an engine's view left stale by `direct`).
    public var warnings: [String] = []

    /// The cgroup whose state is the truth, when there is one.
    public var cgroup: FreezerTarget? { route.cgroup }
}

/// One item of a selection: resolved, or why not (kept so that results stay in input order).
public struct Resolution: Sendable {
    /// The target as given (or `source:shortid`, `--all`, `--filter`).
    public var reference: String
    /// Where it resolved to.
    public var resolved: ResolvedTarget?
    /// Why it could not be resolved; nothing was done for it.
    public var failure: (any FreezectlError)?

    /// A resolved item.
    public init(_ resolved: ResolvedTarget) {
        reference = resolved.reference
        self.resolved = resolved
    }

    /// An item that failed to resolve.
    public init(reference: String, failure: any FreezectlError) {
        self.reference = reference
        self.failure = failure
    }
}

/// What a command acts on: named targets, and every container of the sources that are present
/// (`all`, or a filter without targets), narrowed by `filter`.
public struct TargetSelection: Sendable {
    /// The targets, in the order given.
    public var targets: [TargetSpec]
    /// Every container of every source that is present.
    public var all: Bool
    /// Container filters (docker's `--filter`).
    public var filter: ContainerFilter
    /// containerd's namespaces searched (`--namespace`); empty: every namespace but Docker's.
    public var namespaces: [String]

    /// A selection searching every containerd namespace but Docker's.
    public init(targets: [TargetSpec], all: Bool = false, filter: ContainerFilter = ContainerFilter()) {
        self.targets = targets
        self.all = all
        self.filter = filter
        namespaces = []
    }

    /// A selection searching containerd's `namespaces` (empty: all but Docker's). A namespace that
    /// is not a containerd namespace name is bad input.
    public init(targets: [TargetSpec], all: Bool, filter: ContainerFilter, namespaces: [String]) throws(ContainerCatalog.Error) {
        for namespace in namespaces where !ContainerCatalog.isNamespaceName(namespace) {
            throw ContainerCatalog.Error.invalidFilter("--namespace \(namespace)", reason: "a containerd namespace is letters and digits, joined by single . _ or - (e.g. k8s.io)")
        }
        self.init(targets: targets, all: all, filter: filter)
        self.namespaces = namespaces
    }

    /// Whether containers are picked from the sources besides the named targets.
    public var selectsFromSources: Bool { all || (targets.isEmpty && !filter.isEmpty) }
}

extension Error {
    /// This error as the library's: itself when it is one, `.cancelled` for a cancellation, else
    /// an engine error naming `reference` (what an engine's HTTP client throws).
    public func asFreezectlError(reference: String) -> any FreezectlError {
        if let error = self as? any FreezectlError { return error }
        if self is CancellationError { return CgroupFreezer.Error.cancelled }
        return ContainerCatalog.Error.engineError(reference, status: 0, message: "\(self)")
    }
}
