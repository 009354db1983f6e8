import CgroupFreezer
import FreezerOperations
import ContainerEngines
import ContainerRuntimes
import SystemPackage

/// Who a target process is, read from /proc/PID/status and /proc/PID/cgroup, so that a probe
/// "in the target" gets exactly its powers: its uid/gid and groups, its capability sets (the
/// bounding set, inheritable and ambient; the effective and permitted sets follow from them at
/// exec, as they did for the target), its no_new_privs flag, and its cgroups. util-linux setpriv
/// applies the ids and capabilities (`--reuid`, `--regid`, `--groups`, `--bounding-set`,
/// `--inh-caps`, `--ambient-caps`, `--no-new-privs`).
struct ProbeIdentity {
    /// The target process's status cannot be read as the kernel writes it (a field missing or
    /// malformed): the probe is not run with a guessed identity.
    struct Unreadable: ErrorAdvice {
        let path: FilePath?
        let field: String
        var code: String { "probe-identity" }
        var message: String { "\(path?.string ?? "/proc/PID/status"): no readable \(field): the probe in the target cannot take its identity" }
        var advice: String { "check that the target's process still runs (its /proc entry is gone when it exits), or probe without --health-exec-in-target" }
    }

    /// The PATH the probe gets (its environment is not freezectl's).
    static let path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

    var uid: String
    var gid: String
    var groups: [String]
    var inheritable: UInt64
    var bounding: UInt64
    var ambient: UInt64
    var noNewPrivileges: Bool
    /// `cgroup.procs` of the target's cgroup in every mounted hierarchy.
    var cgroupProcsFiles: [String]

    init(of pid: Int32, layout: CgroupLayout? = nil) throws {
        let status = try CgroupFile.readProcFile(FilePath("/proc/\(pid)/status"))
        var fields: [Substring: Substring] = [:]
        for line in status.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            fields[line[..<colon]] = line[line.index(after: colon)...].drop { $0 == " " || $0 == "\t" }
        }
        func first(_ key: Substring) throws -> String {
            guard let value = fields[key]?.split(whereSeparator: { $0 == " " || $0 == "\t" }).first else {
                throw Unreadable(path: FilePath("/proc/\(pid)/status"), field: String(key))
            }
            return String(value)
        }
        func mask(_ key: Substring) throws -> UInt64 {
            guard let value = UInt64(try first(key), radix: 16) else {
                throw Unreadable(path: FilePath("/proc/\(pid)/status"), field: String(key))
            }
            return value
        }
        // Uid and Gid list real, effective, saved and filesystem ids: the effective one decides.
        let uids = fields["Uid"]?.split(whereSeparator: { $0 == " " || $0 == "\t" }) ?? []
        let gids = fields["Gid"]?.split(whereSeparator: { $0 == " " || $0 == "\t" }) ?? []
        guard uids.count >= 2, gids.count >= 2 else {
            throw Unreadable(path: FilePath("/proc/\(pid)/status"), field: "Uid/Gid")
        }
        uid = String(uids[1])
        gid = String(gids[1])
        groups = fields["Groups"]?.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init) ?? []
        inheritable = try mask("CapInh")
        bounding = try mask("CapBnd")
        ambient = try mask("CapAmb")
        // Kernels before 4.10 have no NoNewPrivs line: the process cannot have set it there.
        noNewPrivileges = (try? first("NoNewPrivs")) == "1"
        let layout = try layout ?? CgroupLayout.current()
        let cgroups = try ProcessCgroups.of(pid: pid)
        cgroupProcsFiles = layout.hierarchies.compactMap { hierarchy in
            guard let directory = cgroups.directory(in: hierarchy, layout: layout), directory != hierarchy.mountPoint else { return nil }
            return directory.appending("cgroup.procs").string
        }
    }

    /// The kernel's capability names by bit (include/uapi/linux/capability.h), as setpriv spells them.
    static let capabilityNames = [
        "chown", "dac_override", "dac_read_search", "fowner", "fsetid", "kill", "setgid", "setuid", "setpcap",
        "linux_immutable", "net_bind_service", "net_broadcast", "net_admin", "net_raw", "ipc_lock", "ipc_owner",
        "sys_module", "sys_rawio", "sys_chroot", "sys_ptrace", "sys_pacct", "sys_admin", "sys_boot", "sys_nice",
        "sys_resource", "sys_time", "sys_tty_config", "mknod", "lease", "audit_write", "audit_control", "setfcap",
        "mac_override", "mac_admin", "syslog", "wake_alarm", "block_suspend", "audit_read", "perfmon", "bpf",
        "checkpoint_restore",
    ]

    /// `-all,+cap_a,+cap_b`: exactly the set bits of `mask`.
    static func capabilityList(_ mask: UInt64) -> String {
        (["-all"] + capabilityNames.indices.filter { mask & (1 << UInt64($0)) != 0 }.map { "+" + capabilityNames[$0] })
            .joined(separator: ",")
    }

    var setprivArguments: [String] {
        var arguments = ["--reuid=\(uid)", "--regid=\(gid)"]
        arguments.append(groups.isEmpty ? "--clear-groups" : "--groups=\(groups.joined(separator: ","))")
        // Inheritable and ambient first (they need the capabilities we still hold), the bounding set last.
        arguments += ["--inh-caps=\(Self.capabilityList(inheritable))", "--ambient-caps=\(Self.capabilityList(ambient))",
                      "--bounding-set=\(Self.capabilityList(bounding))"]
        if noNewPrivileges { arguments.append("--no-new-privs") }
        return arguments
    }
}
