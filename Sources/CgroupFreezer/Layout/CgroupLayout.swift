import SystemPackage

/// One mounted cgroup hierarchy: the v2 (unified) hierarchy or one v1 hierarchy with its controllers.
public struct Hierarchy: Sendable, Hashable, CustomStringConvertible {
    /// cgroup v1 (one hierarchy per controller set) or cgroup v2 (one unified hierarchy).
    public enum Version: String, Sendable, Hashable, Codable {
        case v1, v2
    }

    /// v1 or v2.
    public var version: Version
    /// The v1 controllers (`freezer`, `memory`, `name=systemd`, ...); empty for v2.
    public var controllers: Set<String>
    /// Where the hierarchy is mounted.
    public var mountPoint: FilePath
    /// The cgroup (relative to this process's cgroup namespace) that the mount shows at its mount point.
    /// `/` for a normal mount; e.g. `/docker/abc` for a bind mount of a subtree.
    public var mountRoot: String

    /// Whether this is the v1 hierarchy that carries the freezer controller.
    public var isV1Freezer: Bool { version == .v1 && controllers.contains("freezer") }

    /// The directory of a cgroup given as a path relative to the cgroup namespace root (the form
    /// /proc/PID/cgroup and runtimes use), or nil when this mount does not show that cgroup.
    public func directory(forCgroupPath cgroupPath: String) -> FilePath? {
        let cgroup = FilePath(cgroupPath).lexicallyNormalized()
        let root = FilePath(mountRoot).lexicallyNormalized()
        guard cgroup.isAbsolute, cgroup.starts(with: root) else { return nil }
        var directory = mountPoint
        for component in cgroup.components.dropFirst(root.components.count) {
            directory.append(component)
        }
        return directory
    }

    /// The cgroup path (relative to the namespace root) of a directory under this mount.
    public func cgroupPath(forDirectory directory: FilePath) -> String? {
        // On the strings (see `hierarchy(containing:)`): the directory is canonical, so its
        // components after the mount point are the rest of its string.
        let text = directory.string, mount = mountPoint.string
        let rest: Substring
        if text == mount {
            rest = ""
        } else if text.hasPrefix(mount == "/" ? "/" : mount + "/") {
            rest = text.dropFirst(mount == "/" ? 1 : mount.utf8.count + 1)
        } else {
            return nil
        }
        if rest.isEmpty { return mountRoot }
        return mountRoot.hasSuffix("/") ? mountRoot + rest : mountRoot + "/" + rest
    }

    /// `cgroup2 at PATH` or `cgroup v1 (CONTROLLERS) at PATH`.
    public var description: String {
        version == .v2 ? "cgroup2 at \(mountPoint)" : "cgroup v1 (\(controllers.sorted().joined(separator: ","))) at \(mountPoint)"
    }
}

/// The cgroup layout of this host as the calling process sees it: which hierarchies are mounted where.
///
/// Discovered from mountinfo, never from fixed paths: distributions mount v2 at /sys/fs/cgroup
/// (unified), or v1 controllers plus v2 at /sys/fs/cgroup/unified (hybrid), or v1 only (legacy),
/// and containers and namespaces move all of them.
public struct CgroupLayout: Sendable, Hashable {
    /// The three layouts systemd and the distributions use.
    public enum Mode: String, Sendable, Codable {
        /// Only cgroup2 is mounted ("pure v2").
        case unified
        /// v1 controller hierarchies and cgroup2 side by side.
        case hybrid
        /// Only v1 hierarchies.
        case legacy
    }

    /// Every mounted hierarchy that is visible (mounts hidden under a later mount are left out).
    public var hierarchies: [Hierarchy]

    /// The layout kind, from what is mounted (not from /proc/self/cgroup, which lists v1
    /// hierarchies even where none is mounted).
    public var mode: Mode {
        let hasV1 = hierarchies.contains { $0.version == .v1 }
        let hasV2 = hierarchies.contains { $0.version == .v2 }
        if hasV1 && hasV2 { return .hybrid }
        return hasV2 ? .unified : .legacy
    }

    /// The v1 hierarchy with the freezer controller, if mounted.
    public var freezer: Hierarchy? { hierarchies.first { $0.isV1Freezer } }

    /// The cgroup v2 hierarchy, if mounted.
    public var unified: Hierarchy? { hierarchies.first { $0.version == .v2 } }

    /// The layout described by a mountinfo text. Throws `noCgroupMount` when it holds no cgroup mount.
    public init(mountinfo: String) throws(CgroupLayout.Error) {
        let visible = Self.visibleMounts(MountinfoEntry.cgroupMounts(mountinfo))
        var byDevice: [String: MountinfoEntry] = [:]
        var order: [String] = []
        for entry in visible where entry.filesystemType == "cgroup" || entry.filesystemType == "cgroup2" {
            if let seen = byDevice[entry.device] {
                // The same hierarchy mounted twice: prefer the mount that shows the most of it.
                if entry.root.count < seen.root.count { byDevice[entry.device] = entry }
            } else {
                byDevice[entry.device] = entry
                order.append(entry.device)
            }
        }
        hierarchies = order.compactMap { byDevice[$0] }.map { entry in
            let isV2 = entry.filesystemType == "cgroup2"
            return Hierarchy(
                version: isV2 ? .v2 : .v1,
                controllers: isV2 ? [] : Self.controllers(fromSuperOptions: entry.superOptions),
                mountPoint: FilePath(entry.mountPoint),
                mountRoot: entry.root)
        }
        if hierarchies.isEmpty { throw CgroupLayout.Error.noCgroupMount }
    }

    /// The layout the calling process sees now (/proc/self/mountinfo).
    public static func current() throws(CgroupLayout.Error) -> CgroupLayout {
        try CgroupLayout(mountinfo: try CgroupFile.readProcFile("/proc/self/mountinfo"))
    }

    /// The hierarchy whose mount contains `path` (the longest mount point that is a prefix).
    public func hierarchy(containing path: FilePath) -> Hierarchy? {
        // On the strings, by whole components: FilePath's component views cost a parse per call,
        // and this runs for every cgroup a batch, a status or the daemon's events touch.
        // One pass without an intermediate array: a batch asks several times per container.
        let text = path.string
        var best: Hierarchy?
        var bestLength = -1
        for hierarchy in hierarchies {
            let mountPoint = hierarchy.mountPoint.string
            let length = mountPoint.utf8.count
            guard length > bestLength, mountPoint == "/" || Self.isSameOrBelow(text, mountPoint) else { continue }
            best = hierarchy
            bestLength = length
        }
        return best
    }

    /// The v1 hierarchy that /proc/PID/cgroup names by its controller list (`4:memory:/x`).
    package func v1Hierarchy(controllerList: Substring) -> Hierarchy? {
        let controllers = Set(controllerList.split(separator: ",").map(String.init))
        return hierarchies.first { $0.version == .v1 && $0.controllers == controllers }
    }

    /// Drops mounts hidden by a later mount on the same or an enclosing mount point: after
    /// `mount -t cgroup2 none /sys/fs/cgroup` on a hybrid host, mountinfo still lists the v1 mounts
    /// beneath it, but they can no longer be reached. Only the cgroup mounts are kept: the layout
    /// needs no other, and a host running containers has hundreds of overlay and bind mounts, so
    /// each cgroup mount is compared with the later mount points on the strings (whole
    /// components), not every mount with every other.
    static func visibleMounts(_ found: (mounts: [(entry: MountinfoEntry, position: Int)], mountPoints: [String])) -> [MountinfoEntry] {
        found.mounts.compactMap { mount in
            let point = mount.entry.mountPoint
            let hidden = found.mountPoints[(mount.position + 1)...].contains { cover in
                // A later mount on / (a chroot's root) hides nothing, as mount(8) lists it.
                cover != "/" && Self.isSameOrBelow(point, cover)
            }
            return hidden ? nil : mount.entry
        }
    }

    /// Whether `path` is `directory` or lies below it, by whole components (on the bytes: a
    /// hundred containers' mounts make this thousands of comparisons per layout).
    static func isSameOrBelow(_ path: String, _ directory: String) -> Bool {
        let path = path.utf8, directory = directory.utf8
        guard path.starts(with: directory) else { return false }
        return path.count == directory.count || path[path.index(path.startIndex, offsetBy: directory.count)] == UInt8(ascii: "/")
    }

    /// The controllers of a v1 hierarchy from its super options, leaving out the mount flags.
    static func controllers(fromSuperOptions options: [String]) -> Set<String> {
        let flags: Set<String> = ["rw", "ro", "xattr", "noprefix", "clone_children", "cpuset_v2_mode", "favordynmods"]
        return Set(options.filter { !flags.contains($0) && !$0.hasPrefix("release_agent=") })
    }
}
