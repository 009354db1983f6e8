import SystemPackage

/// A target resolved to the one cgroup directory that will be frozen, and so to its backend.
public struct FreezerTarget: Sendable, Hashable, CustomStringConvertible {
    /// What the user named.
    public let spec: TargetSpec
    /// The cgroup whose freezer is written.
    public let cgroup: CgroupDirectory

    /// `v1` (`freezer.state`) or `v2` (`cgroup.freeze`).
    public var backend: Hierarchy.Version { cgroup.hierarchy.version }

    /// A target for a directory the caller validated itself.
    public init(spec: TargetSpec, cgroup: CgroupDirectory) {
        self.spec = spec
        self.cgroup = cgroup
    }

    /// `SPEC (DIRECTORY, BACKEND)`.
    public var description: String { "\(spec) (\(cgroup.path), \(backend))" }
}
