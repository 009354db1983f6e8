import SystemPackage

/// /proc/PID/stat, split after the command name (which may hold spaces and parentheses):
/// element 0 is field 3 (the state), element 19 is field 22 (the start time).
package enum ProcStat {
    package static func fields(of pid: Int32) -> [Substring]? {
        guard pid > 0, let stat = CgroupFile.procFileIfReadable(FilePath("/proc/\(pid)/stat")) else { return nil }
        return fields(statText: stat)
    }

    /// The fields after the command name of a stat line, or nil when it has no `)`. A process
    /// names itself (the command may hold `) `), so the last `)` ends the name. Bytes, not
    /// Characters: the kernel writes bytes, and a prepending mark (U+0600) makes itself and the
    /// next byte one Character: before a `)` it hid the `)` that ends the name, before a space
    /// it joined two fields (found by the proc-stat fuzz harness).
    package static func fields(statText stat: String) -> [Substring]? {
        guard let close = stat.utf8.lastIndex(of: UInt8(ascii: ")")) else { return nil }
        return stat.utf8[stat.utf8.index(after: close)...].split(separator: UInt8(ascii: " ")).map { Substring($0) }
    }
}

/// Tells a live process from a reused PID, by its start time (field 22 of /proc/PID/stat, in
/// clock ticks since boot): what a runtime records for a container's init, and the daemon for
/// the client holding a lease.
package enum ProcessStart {
    /// The start time of `pid`, or nil when it is gone or a zombie.
    package static func of(_ pid: Int32) -> UInt64? {
        guard let fields = ProcStat.fields(of: pid), fields.count > 19, fields[0] != "Z" else { return nil }
        return UInt64(fields[19])
    }

    /// Whether `pid` runs and, when `startTime` is given, is the process that started then.
    package static func isAlive(_ pid: Int32, startTime: UInt64?) -> Bool {
        guard let actual = of(pid) else { return false }
        return startTime.map { $0 == actual } ?? true
    }
}
