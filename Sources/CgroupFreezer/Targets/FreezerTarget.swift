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

/// Turns what the user named into a `FreezerTarget`, for this host's layout.
///
/// A target is one logical cgroup that may have a directory in the v1 freezer hierarchy and one in
/// the v2 hierarchy. The v1 freezer wins where it exists, because that is what runc and Docker
/// write on hybrid hosts, so their view (`runc list`, `docker ps`) agrees with ours.
public struct TargetResolver: Sendable {
    /// The layout targets are resolved against.
    public let layout: CgroupLayout

    /// A resolver for `layout`.
    public init(layout: CgroupLayout) {
        self.layout = layout
    }

    /// Resolves one target. Every error is bad input: nothing has been written.
    public func resolve(_ spec: TargetSpec) throws(CgroupLayout.Error) -> FreezerTarget {
        switch spec {
        case .directory(let path):
            // An absolute path is used as given: its own hierarchy decides the backend.
            let directory = try CgroupDirectory(validating: path, in: layout)
            try requireFreezer(directory)
            return FreezerTarget(spec: spec, cgroup: directory)

        case .cgroup(let relative):
            let candidates = [layout.freezer, layout.unified].compactMap { $0?.directory(forCgroupPath: relative) }
            for candidate in candidates where Syscall.exists(candidate) {
                let directory = try CgroupDirectory(validating: candidate, in: layout)
                try requireFreezer(directory)
                return FreezerTarget(spec: spec, cgroup: directory)
            }
            throw CgroupLayout.Error.noSuchCgroup(spec.description, checked: candidates)

        case .pid(let pid):
            let cgroups = try ProcessCgroups.of(pid: pid)
            // A process whose v1 freezer cgroup is the root is frozen through its v2 cgroup.
            for hierarchy in [layout.freezer, layout.unified].compactMap({ $0 }) {
                guard let candidate = cgroups.directory(in: hierarchy, layout: layout),
                      Syscall.exists(candidate.appending(FreezerFiles.freezeFile(hierarchy.version))) else { continue }
                return FreezerTarget(spec: spec, cgroup: try CgroupDirectory(validating: candidate, in: layout))
            }
            throw CgroupLayout.Error.processInRootCgroup(pid: pid)

        case .container:
            // Containers are found by ContainerCatalog (FreezerOperations' Resolver); their cgroup is then resolved here.
            throw CgroupLayout.Error.invalidTarget(spec.description, reason: "a container reference; resolve it with FreezerOperations' Resolver")

        case .unit:
            // A unit's cgroup is its ControlGroup property, asked of systemd (FreezerOperations' Resolver).
            throw CgroupLayout.Error.invalidTarget(spec.description, reason: "a systemd unit; resolve it with FreezerOperations' Resolver")
        }
    }

    /// Refuses a cgroup without a freeze file: the root of a hierarchy, or a v1 hierarchy without the freezer.
    private func requireFreezer(_ directory: CgroupDirectory) throws(CgroupLayout.Error) {
        let hierarchy = directory.hierarchy
        if hierarchy.version == .v1 && !hierarchy.isV1Freezer {
            let controllers = hierarchy.controllers.sorted().joined(separator: ",")
            throw CgroupLayout.Error.noFreezer(path: directory.path, reason: "it is in the v1 \(controllers) hierarchy, which has no freezer controller")
        }
        if !Syscall.exists(directory.file(FreezerFiles.freezeFile(hierarchy.version))) {
            let reason = directory.path == hierarchy.mountPoint
                ? "it is the root cgroup of its hierarchy, which has no \(FreezerFiles.freezeFile(hierarchy.version))"
                : "it has no \(FreezerFiles.freezeFile(hierarchy.version)) (kernel without the cgroup freezer?)"
            throw CgroupLayout.Error.noFreezer(path: directory.path, reason: reason)
        }
    }
}
