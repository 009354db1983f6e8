/// Who changes a target's freezer state: the kernel's v1 or v2 freezer written directly,
/// systemd, or the owner a container source pauses through (`docker`, `containerd`, `lxc`, ...:
/// each source names its own). Encoded as its name, as results and audit records show it.
public struct Backend: RawRepresentable, Sendable, Hashable, Codable, CustomStringConvertible {
    public let rawValue: String

    public init(rawValue: String) { self.rawValue = rawValue }

    /// The cgroup v1 freezer (`freezer.state`), written directly.
    public static let v1 = Backend(rawValue: "v1")
    /// The cgroup v2 freezer (`cgroup.freeze`), written directly.
    public static let v2 = Backend(rawValue: "v2")
    /// systemd's FreezeUnit and ThawUnit.
    public static let systemd = Backend(rawValue: "systemd")

    /// The kernel freezer of `version`.
    public init(_ version: Hierarchy.Version) {
        self = version == .v1 ? .v1 : .v2
    }

    public var description: String { rawValue }
}
