#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Synchronization
import SystemPackage

/// The cgroups of one process, as /proc/PID/cgroup lists them (one line per hierarchy:
/// `ID:controllers:path`, with `0::path` for v2).
///
/// The paths differ between hierarchies (on a hybrid host a process can sit in `/` of the freezer
/// hierarchy and in `/process_api/x` of the memory hierarchy), so every lookup names its hierarchy.
public struct ProcessCgroups: Sendable, Hashable {
    /// One line of /proc/PID/cgroup.
    public struct Entry: Sendable, Hashable {
        /// The v1 controller list as the kernel prints it (`cpu,cpuacct`, `name=systemd`); empty for v2.
        public var controllers: String
        /// The cgroup path relative to the reader's cgroup namespace root.
        public var path: String
    }

    /// The process.
    public var pid: Int32
    /// Each line of the file.
    public var entries: [Entry]

    /// Parses the text of /proc/PID/cgroup.
    public init(pid: Int32, text: String) {
        self.pid = pid
        // On the bytes: every freeze and every container check reads one of these files.
        entries = text.utf8.split(separator: UInt8(ascii: "\n")).compactMap { line in
            let fields = line.split(separator: UInt8(ascii: ":"), maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count == 3 else { return nil }
            return Entry(controllers: String(Substring(fields[1])), path: String(Substring(fields[2])))
        }
    }

    /// Reads /proc/PID/cgroup; `noSuchProcess` when the process does not exist.
    public static func of(pid: Int32) throws(CgroupLayout.Error) -> ProcessCgroups {
        do {
            return ProcessCgroups(pid: pid, text: try CgroupFile.readProcFile(FilePath("/proc/\(pid)/cgroup")))
        } catch CgroupLayout.Error.notFound {
            throw CgroupLayout.Error.noSuchProcess(pid: pid)
        }
    }

    /// This process's cgroups, read now. /proc/self/cgroup is opened once and read again from its
    /// start at each call: a batch checks its own cgroup before every freeze (refuseSelfFreeze),
    /// and a read of an open file is one system call where a fresh open, read and close are
    /// four, each walking the path. Where it cannot be opened, /proc/PID/cgroup is read.
    public static func ofSelf() throws(CgroupLayout.Error) -> ProcessCgroups {
        guard let file = ownFile else { return try of(pid: getpid()) }
        return ProcessCgroups(pid: getpid(), text: try CgroupFile.readProcFile(file, path: "/proc/self/cgroup"))
    }

    /// This process's cgroup directory in `hierarchy`, from the kernel's text read now. The text
    /// is read at every call (this process may have been moved since the last), but parsed only
    /// when it differs from the last call's: a batch asks before every route and every freeze,
    /// and the parse and lookup were 90,000 instructions each time against one system call.
    package static func ownDirectory(in hierarchy: Hierarchy, layout: CgroupLayout) throws(CgroupLayout.Error) -> FilePath? {
        guard let file = ownFile else { return try of(pid: getpid()).directory(in: hierarchy, layout: layout) }
        let text = try CgroupFile.readProcRecord(file, path: "/proc/self/cgroup")
        if let known = lastOwn.withLock({ last in
            last.first { $0.text == text && $0.hierarchy == hierarchy && $0.layout == layout }?.directory
        }) {
            return known
        }
        let directory = ProcessCgroups(pid: getpid(), text: String(decoding: text, as: UTF8.self)).directory(in: hierarchy, layout: layout)
        lastOwn.withLock { last in
            // One entry per hierarchy a batch freezes in (two on a hybrid host); a move of this
            // process changes the text and starts over.
            last.removeAll { $0.text != text || ($0.hierarchy == hierarchy && $0.layout == layout) }
            if last.count < 4 { last.append(OwnLookup(text: text, hierarchy: hierarchy, layout: layout, directory: directory)) }
        }
        return directory
    }

    private struct OwnLookup {
        let text: [UInt8]
        let hierarchy: Hierarchy
        let layout: CgroupLayout
        let directory: FilePath?
    }

    private static let lastOwn = Mutex<[OwnLookup]>([])

    // Close-on-exec: a program this process starts opens its own.
    private static let ownFile = try? FileDescriptor.open("/proc/self/cgroup", .readOnly, options: [.closeOnExec], retryOnInterrupt: true)

    /// The cgroups of `pid`, or nil when it cannot be read now (the process exited since it was
    /// listed): for what describes processes, where "gone" is an answer.
    public static func ifAlive(pid: Int32) -> ProcessCgroups? {
        try? of(pid: pid)
    }

    /// The cgroup directory of this process in `hierarchy`, or nil when the process's line for it is
    /// missing or outside what the mount shows.
    public func directory(in hierarchy: Hierarchy, layout: CgroupLayout) -> FilePath? {
        for entry in entries {
            switch hierarchy.version {
            case .v2 where entry.controllers.isEmpty:
                return hierarchy.directory(forCgroupPath: entry.path)
            case .v1 where !entry.controllers.isEmpty:
                // The cheap test first: most lines name other controllers.
                let controllers = entry.controllers.utf8.split(separator: UInt8(ascii: ","))
                guard controllers.count == hierarchy.controllers.count,
                      controllers.allSatisfy({ hierarchy.controllers.contains(String(Substring($0))) }) else { continue }
                if layout.v1Hierarchy(controllerList: Substring(entry.controllers)) == hierarchy {
                    return hierarchy.directory(forCgroupPath: entry.path)
                }
            default:
                continue
            }
        }
        return nil
    }
}

/// The member processes of cgroups, read from cgroup.procs.
package enum CgroupProcesses {
    /// The PIDs in `directory` and every cgroup below it: everything a freeze of `directory` stops.
    package static func inSubtree(_ directory: FilePath) -> [Int32] {
        var pids = members(of: directory)
        if case .success(let children) = Syscall.subdirectories(of: directory) {
            for child in children { pids += inSubtree(directory.appending(child)) }
        }
        return pids
    }

    /// Whether a process may be in `directory` or a cgroup below it: the first cgroup.procs with a
    /// PID answers, so a container whose processes sit in its own cgroup costs one read and no
    /// listing of its children (asked per container of a batch, before and after its freeze).
    /// False only when every cgroup.procs was read empty or its cgroup is gone: a read or a
    /// listing that fails answers true, so that no caller takes a failed read for an emptied
    /// container (Resolver thaws back a container found empty right after its freeze).
    package static func anyInSubtree(_ directory: FilePath) -> Bool {
        hasMembers(directory) || anyInChildren(of: directory)
    }

    /// Whether a process may be in `directory` or below it, or nil when `directory` does not
    /// exist (its cgroup.procs is not there): one question where a stat and `anyInSubtree` were
    /// two. A failed read answers true, as in `anyInSubtree`.
    package static func anyInSubtreeIfPresent(_ directory: FilePath) -> Bool? {
        switch firstRead(of: directory) {
        case .failure(let error) where isGone(error): return nil
        case .failure: return true
        case .success(true): return true
        case .success(false): return anyInChildren(of: directory)
        }
    }

    /// Whether a cgroup below `directory` may have a process (true when the listing fails for
    /// another reason than the cgroup being gone).
    private static func anyInChildren(of directory: FilePath) -> Bool {
        switch Syscall.subdirectories(of: directory) {
        case .success(let children): return children.contains { anyInSubtree(directory.appending($0)) }
        case .failure(let errno): return !isGone(errno)
        }
    }

    /// Whether `directory` may have a member process: one read of cgroup.procs, which the kernel
    /// prints a PID per record and of which a read returns at least the first record when there
    /// is one, so no byte needs parsing. False when it was read empty or the cgroup is gone;
    /// true when the read failed otherwise.
    package static func hasMembers(_ directory: FilePath) -> Bool {
        switch firstRead(of: directory) {
        case .success(let populated): return populated
        case .failure(let error): return !isGone(error)
        }
    }

    /// A cgroup removed meanwhile: its directory or cgroup.procs is not there (ENOENT,
    /// ENOTDIR), or the open file belongs to a removed cgroup (ENODEV).
    private static func isGone(_ error: CgroupLayout.Error) -> Bool {
        if case .notFound = error { return true }
        return error.errno.map(isGone) ?? false
    }

    private static func isGone(_ errno: Errno) -> Bool {
        errno == .noSuchFileOrDirectory || errno == .notDirectory || errno == .operationNotSupportedByDevice
    }

    /// Whether the first read of `directory`'s cgroup.procs returns a byte; the open's or the
    /// read's error.
    private static func firstRead(of directory: FilePath) -> Result<Bool, CgroupLayout.Error> {
        let file = directory.appending("cgroup.procs")
        let fd: FileDescriptor
        do {
            fd = try CgroupFile.open(file, .readOnly)
        } catch {
            return .failure(error)
        }
        defer { CgroupFile.close(fd) }
        var bytes = (UInt64(0), UInt64(0))
        do {
            let count = try withUnsafeMutableBytes(of: &bytes) { buffer in
                try fd.read(fromAbsoluteOffset: 0, into: buffer, retryOnInterrupt: true)
            }
            return .success(count > 0)
        } catch {
            return .failure(.io(path: file, operation: "read", errno: error as? Errno ?? .ioError))
        }
    }

    /// The PIDs directly in `directory` (empty when it cannot be read).
    package static func members(of directory: FilePath) -> [Int32] {
        // Removed meanwhile (its processes exited): it has no members.
        guard let text = CgroupFile.readIfPresent(directory.appending("cgroup.procs")) else { return [] }
        return text.split(separator: "\n").compactMap { Int32($0) }
    }
}

