import SystemPackage

/// The effective freezer state of a cgroup, in the kernel's words.
public enum FreezeState: String, Sendable, Hashable, Codable {
    /// Running.
    case thawed
    /// Asked to freeze; some tasks are not frozen yet (v1 `FREEZING`, v2 `cgroup.freeze` 1 with `frozen 0`).
    case freezing
    /// Frozen at its own request.
    case frozen
    /// Frozen although it did not ask: an ancestor cgroup is frozen.
    case frozenByParent = "frozen-by-parent"
}

/// What the freezer of one cgroup says now.
public struct FreezerStatus: Sendable, Hashable {
    /// The target the status is about.
    public var target: FreezerTarget
    /// Our own request: `freezer.self_freezing` (v1) or `cgroup.freeze` (v2) is 1.
    public var selfFrozen: Bool
    /// The effective state: `freezer.state` (v1) or `frozen` in `cgroup.events` (v2), with the ancestors taken into account.
    public var state: FreezeState
    /// The processes in the cgroup and its descendants: everything its freezer stops.
    public var processes: [Int32]
}

/// How a freeze or thaw ended when it succeeded.
public struct FreezeOutcome: Sendable, Hashable {
    /// Whether this call changed anything.
    public enum Change: String, Sendable, Codable {
        /// The state was changed and the kernel confirmed it.
        case ok
        /// The cgroup was already in the requested state; nothing was written.
        case already
    }

    /// The target.
    public var target: FreezerTarget
    /// `ok` or `already`.
    public var result: Change
    /// The effective state after the operation.
    public var state: FreezeState
    /// How long the operation took, from the first read to the kernel's confirmation.
    public var duration: Duration
}

/// The control files of the two freezers (Documentation/admin-guide/cgroup-v1/freezer-subsystem.rst,
/// Documentation/admin-guide/cgroup-v2.rst "Core Interface Files").
package enum FreezerFiles {
    package static let v1State = "freezer.state"
    package static let v1SelfFreezing = "freezer.self_freezing"
    package static let v1ParentFreezing = "freezer.parent_freezing"
    package static let v2Freeze = "cgroup.freeze"
    package static let v2Events = "cgroup.events"

    /// The file whose presence says a cgroup can be frozen by this backend.
    package static func freezeFile(_ version: Hierarchy.Version) -> String {
        version == .v1 ? v1State : v2Freeze
    }
}

extension FreezeState {
    /// What a v1 `freezer.state` text says, given whether the cgroup asked to be frozen itself
    /// (`freezer.self_freezing`): its first line is `FROZEN`, `FREEZING` or `THAWED`; anything
    /// else reads as thawed, the state in which nothing was stopped.
    package init(v1StateText text: String, selfFrozen: Bool) {
        switch text.split(separator: "\n", omittingEmptySubsequences: false).first ?? "" {
        case "FROZEN": self = selfFrozen ? .frozen : .frozenByParent
        case "FREEZING": self = .freezing
        default: self = .thawed
        }
    }
}
