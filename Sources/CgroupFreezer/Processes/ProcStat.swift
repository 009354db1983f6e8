import SystemPackage

/// /proc/PID/stat, split after the command name (which may hold spaces and parentheses):
/// element 0 is field 3 (the state), element 19 is field 22 (the start time).
package enum ProcStat {
    package static func fields(of pid: Int32) -> [Substring]? {
        guard pid > 0, let stat = CgroupFile.procFileIfReadable(FilePath("/proc/\(pid)/stat")),
              let close = stat.lastIndex(of: ")") else { return nil }
        return stat[stat.index(after: close)...].split(separator: " ")
    }
}
