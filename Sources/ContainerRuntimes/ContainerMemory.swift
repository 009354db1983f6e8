import CgroupFreezer
import SystemPackage

/// Memory usage of a cgroup against its limit, in percent: v1 `memory.usage_in_bytes` /
/// `memory.limit_in_bytes`, v2 `memory.current` / `memory.max`. Without a limit (v2 `max`, or a v1
/// limit at or above the host's memory) the host's MemTotal is the limit.
package enum ContainerMemory {
    /// `container` is the container's cgroup (in the hierarchy it is frozen through): an init that
    /// moved into a child cgroup would otherwise report only its own part. The container's
    /// directory in the memory hierarchy is the init's nearest ancestor (or itself) that carries
    /// the same name (runc's `<id>`, Docker's `<id>` or `docker-<id>.scope`); the paths above it
    /// can differ between hierarchies (a nested host puts v1 memory cgroups under its own).
    package static func percent(pid: Int32, layout: CgroupLayout, container: CgroupDirectory? = nil) -> Double? {
        // Gone since it was listed: no usage to report (a memory filter then does not match).
        guard let cgroups = ProcessCgroups.ifAlive(pid: pid), let total = memTotal else { return nil }
        func widened(_ directory: FilePath, in hierarchy: Hierarchy) -> FilePath {
            guard let name = container?.path.lastComponent?.string else { return directory }
            return directory.nearestAncestor(below: hierarchy.mountPoint) { $0 == name } ?? directory
        }
        if let v1 = layout.hierarchies.first(where: { $0.version == .v1 && $0.controllers.contains("memory") }),
           let initDirectory = cgroups.directory(in: v1, layout: layout),
           case let directory = widened(initDirectory, in: v1),
           let usage = number(directory.appending("memory.usage_in_bytes")),
           let limit = number(directory.appending("memory.limit_in_bytes")) {
            return 100 * Double(usage) / Double(min(limit, total))
        }
        if let v2 = layout.unified, let initDirectory = cgroups.directory(in: v2, layout: layout),
           case let directory = widened(initDirectory, in: v2),
           let usage = number(directory.appending("memory.current")) {
            let limit = number(directory.appending("memory.max")) ?? total
            return 100 * Double(usage) / Double(min(limit, total))
        }
        return nil
    }

    private static func number(_ path: FilePath) -> UInt64? {
        guard let text = CgroupFile.readIfPresent(path) else { return nil }
        return UInt64(text.trimmingSpaces())
    }

    /// MemTotal from /proc/meminfo, in bytes; read once, not once per container.
    static let memTotal: UInt64? = Meminfo.bytes("MemTotal")
}
