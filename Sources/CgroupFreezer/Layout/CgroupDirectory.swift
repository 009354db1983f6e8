import SystemPackage

/// A directory that was checked to be a cgroup of a mounted hierarchy: it exists, it is on
/// cgroupfs (statfs magic), and its canonical path (symlinks and `..` resolved) lies under the
/// hierarchy's mount point. Only values of this type are ever written to.
public struct CgroupDirectory: Sendable, Hashable, CustomStringConvertible {
    /// The canonical path.
    public let path: FilePath
    /// The hierarchy it belongs to.
    public let hierarchy: Hierarchy

    /// Validates `path`; throws a bad-input error naming the path when it is not a cgroup directory.
    public init(validating path: FilePath, in layout: CgroupLayout) throws(CgroupLayout.Error) {
        guard path.isAbsolute else {
            throw CgroupLayout.Error.invalidTarget(path.string, reason: "a cgroup directory must be an absolute path")
        }
        let canonical: FilePath
        switch Syscall.realPath(path) {
        case .success(let resolved): canonical = resolved
        case .failure(.noSuchFileOrDirectory), .failure(.notDirectory): throw CgroupLayout.Error.notFound(path: path)
        case .failure(let errno): throw CgroupLayout.Error.io(path: path, operation: "resolve", errno: errno)
        }
        // A symlink or `..` that leads out of every cgroup mount is refused here, before statfs.
        guard let hierarchy = layout.hierarchy(containing: canonical) else {
            throw CgroupLayout.Error.notOnCgroupfs(path: canonical == path ? path : FilePath("\(path) (resolves to \(canonical))"))
        }
        switch Syscall.filesystemMagic(of: canonical) {
        case .success(let magic) where magic == FilesystemMagic.cgroup || magic == FilesystemMagic.cgroup2:
            break
        case .success:
            throw CgroupLayout.Error.notOnCgroupfs(path: canonical)
        case .failure(let errno):
            throw CgroupLayout.Error.io(path: canonical, operation: "statfs", errno: errno)
        }
        guard case .success(true) = Syscall.isDirectory(canonical) else {
            throw CgroupLayout.Error.invalidTarget(path.string, reason: "not a directory (give the cgroup directory, not one of its files)")
        }
        self.path = canonical
        self.hierarchy = hierarchy
    }

    /// The parent cgroup, or nil at the mount point.
    public var parent: CgroupDirectory? {
        guard path != hierarchy.mountPoint else { return nil }
        return CgroupDirectory(trusted: path.removingLastComponent(), hierarchy: hierarchy)
    }

    /// Whether this cgroup is `other` or one of its ancestors.
    public func contains(_ other: FilePath) -> Bool { other.starts(with: path) }

    private init(trusted path: FilePath, hierarchy: Hierarchy) {
        self.path = path
        self.hierarchy = hierarchy
    }

    /// A file of this cgroup.
    package func file(_ name: String) -> FilePath { path.appending(name) }

    /// The canonical path.
    public var description: String { path.string }
}

extension FilePath {
    /// This path or its nearest ancestor below `root` whose last component satisfies `matches`:
    /// how a container's own cgroup is found above a child cgroup its init moved into.
    package func nearestAncestor(below root: FilePath, where matches: (String) -> Bool) -> FilePath? {
        var candidate = self
        while candidate != root, let last = candidate.lastComponent {
            if matches(last.string) { return candidate }
            candidate.removeLastComponent()
        }
        return nil
    }
}
