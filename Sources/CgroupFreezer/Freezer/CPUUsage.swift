import SystemPackage

extension CgroupFreezer {
    /// The CPU time the target's cgroup has used since it was made, in nanoseconds: v2
    /// `cpu.stat`'s `usage_usec` (every v2 cgroup has it, with or without the cpu controller),
    /// v1 `cpuacct.usage` of the cgroup at the same path in the cpuacct hierarchy (runtimes make
    /// a container's cgroup at one path in every hierarchy). Nil when neither can be read (no
    /// cpuacct hierarchy, another path there, the cgroup gone): the idle controller then judges
    /// by the network alone. What the idle controller compares between two samples.
    public func cpuUsage(of target: FreezerTarget) -> UInt64? {
        let hierarchy = target.cgroup.hierarchy
        if hierarchy.version == .v2 {
            guard let text = CgroupFile.readIfPresent(target.cgroup.file("cpu.stat")),
                  let micros = CgroupFile.value(of: "usage_usec", inKeyedText: text).flatMap({ UInt64($0) }) else { return nil }
            let (nanos, overflow) = micros.multipliedReportingOverflow(by: 1000)
            return overflow ? nil : nanos
        }
        guard let cpuacct = layout.hierarchies.first(where: { $0.version == .v1 && $0.controllers.contains("cpuacct") }),
              let path = hierarchy.cgroupPath(forDirectory: target.cgroup.path),
              let directory = cpuacct.directory(forCgroupPath: path),
              let text = CgroupFile.readIfPresent(directory.appending("cpuacct.usage")) else { return nil }
        return UInt64(text.trimmingSpaces())
    }
}
