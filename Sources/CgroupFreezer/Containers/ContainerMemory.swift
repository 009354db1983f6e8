import SystemPackage

/// Memory usage of a cgroup against its limit, in percent: v1 `memory.usage_in_bytes` /
/// `memory.limit_in_bytes`, v2 `memory.current` / `memory.max`. Without a limit (v2 `max`, or a v1
/// limit at or above the host's memory) the host's MemTotal is the limit.
enum ContainerMemory {
    static func percent(pid: Int32, layout: CgroupLayout) -> Double? {
        guard let cgroups = try? ProcessCgroups.of(pid: pid), let total = memTotal else { return nil }
        if let v1 = layout.hierarchies.first(where: { $0.version == .v1 && $0.controllers.contains("memory") }),
           let directory = cgroups.directory(in: v1, layout: layout),
           let usage = number(directory.appending("memory.usage_in_bytes")),
           let limit = number(directory.appending("memory.limit_in_bytes")) {
            return 100 * Double(usage) / Double(min(limit, total))
        }
        if let v2 = layout.unified, let directory = cgroups.directory(in: v2, layout: layout),
           let usage = number(directory.appending("memory.current")) {
            let limit = number(directory.appending("memory.max")) ?? total
            return 100 * Double(usage) / Double(min(limit, total))
        }
        return nil
    }

    private static func number(_ path: FilePath) -> UInt64? {
        guard let text = try? CgroupFile.read(path) else { return nil }
        return UInt64(text.trimmingSpaces())
    }

    /// MemTotal from /proc/meminfo, in bytes; read once, not once per container.
    static let memTotal: UInt64? = readMemTotal()

    private static func readMemTotal() -> UInt64? {
        guard let text = try? CgroupFile.readProcFile("/proc/meminfo") else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("MemTotal:") {
            let fields = line.split(separator: " ")
            if fields.count >= 2, let kib = UInt64(fields[1]) {
                let (bytes, overflow) = kib.multipliedReportingOverflow(by: 1024)
                return overflow ? nil : bytes
            }
        }
        return nil
    }
}

extension String {
    func trimmingSpaces() -> String {
        String(drop(while: { $0 == " " || $0 == "\n" }).reversed().drop(while: { $0 == " " || $0 == "\n" }).reversed())
    }
}
