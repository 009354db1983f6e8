import SystemPackage

/// A process tree and its place in a cgroup: CRIU seizes only tasks inside the cgroup it freezes,
/// so a descendant outside it makes the dump fail with "Unseizable non-zombie PID found"
/// (crun issue 1651, CRIU issues 1034 and 2577). After a restore, only the root process is put
/// back into the container's cgroup by some runtimes, which is how such strays arise.
public struct ProcessTree: Sendable {
    /// One process of the tree.
    public struct Member: Sendable, Hashable {
        /// Its PID.
        public var pid: Int32
        /// Its parent's PID.
        public var parent: Int32
        /// Its command line (or the kernel's `comm` when it has none).
        public var command: String
        /// Its cgroup directory in the hierarchy the tree was checked against, if visible.
        public var cgroup: FilePath?
        /// It exited (or is a zombie) by the time its cgroup was read: it has no cgroup to be in,
        /// and nothing of it is left to seize (CRIU dumps a zombie as one), so it is no stray.
        public var exited = false
    }

    /// The root process.
    public var root: Int32
    /// The root and every descendant, parents before children.
    public var members: [Member]

    /// The tree under `root`, read from /proc now; each member's cgroup is taken in `hierarchy`.
    public static func read(root: Int32, hierarchy: Hierarchy, layout: CgroupLayout) throws(CgroupLayout.Error) -> ProcessTree {
        guard Syscall.exists(FilePath("/proc/\(root)")) else { throw CgroupLayout.Error.noSuchProcess(pid: root) }
        let children = childrenByParent()
        var members: [Member] = []
        var queue: [(Int32, Int32)] = [(root, 0)]
        while !queue.isEmpty {
            let (pid, parent) = queue.removeFirst()
            // Its cgroups first, then whether it still runs: an exited task's /proc/PID/cgroup
            // shows the root of every hierarchy (the kernel moves it there at exit), which would
            // read as a stray. One that still runs after the read was in those cgroups when it
            // was read (a zombie never runs again).
            let cgroups = ProcessCgroups.ifAlive(pid: pid)
            let exited = ProcessStart.of(pid) == nil
            var member = Member(pid: pid, parent: parent, command: command(of: pid),
                                cgroup: exited ? nil : cgroups?.directory(in: hierarchy, layout: layout))
            member.exited = exited
            members.append(member)
            queue += (children[pid] ?? []).sorted().map { ($0, pid) }
        }
        return ProcessTree(root: root, members: members)
    }

    /// Every process's children, from the parent PIDs in /proc/PID/stat.
    package static func childrenByParent() -> [Int32: [Int32]] {
        var children: [Int32: [Int32]] = [:]
        if case .success(let entries) = Syscall.subdirectories(of: "/proc") {
            for entry in entries {
                guard let pid = Int32(entry), let fields = ProcStat.fields(of: pid), fields.count > 1,
                      let parent = Int32(fields[1]) else { continue }
                children[parent, default: []].append(pid)
            }
        }
        return children
    }

    /// The PIDs below `root` (not `root` itself), parents first.
    package static func descendants(of root: Int32) -> [Int32] {
        let children = childrenByParent()
        var found: [Int32] = []
        var queue = children[root] ?? []
        while let pid = queue.first {
            queue.removeFirst()
            found.append(pid)
            queue += children[pid] ?? []
        }
        return found
    }

    /// The running members whose cgroup is not `cgroup` or below it (or cannot be seen here).
    public func strays(outside cgroup: CgroupDirectory) -> [Member] {
        members.filter { member in
            guard !member.exited else { return false }
            guard let directory = member.cgroup else { return true }
            return !directory.starts(with: cgroup.path)
        }
    }

    /// Moves each stray into `cgroup` (writing its PID to `cgroup.procs`), and returns those
    /// moved: a stray that exited meanwhile is not moved and not returned.
    public static func repair(_ strays: [Member], into cgroup: CgroupDirectory) throws(CgroupLayout.Error) -> [Member] {
        var moved: [Member] = []
        for stray in strays {
            do {
                try CgroupFile.write(String(stray.pid), to: cgroup.file("cgroup.procs"))
                moved.append(stray)
            } catch CgroupLayout.Error.io(_, _, .noSuchProcess) {
                continue  // it exited meanwhile
            }
        }
        return moved
    }

    package static func command(of pid: Int32) -> String {
        if let cmdline = CgroupFile.procFileIfReadable(FilePath("/proc/\(pid)/cmdline")), !cmdline.isEmpty {
            return cmdline.split(separator: "\0").joined(separator: " ")
        }
        return (CgroupFile.procFileIfReadable(FilePath("/proc/\(pid)/comm")) ?? "?").trimmingSpaces()
    }
}

extension CgroupFreezer {
    /// How many times a repair reads the tree again after moving strays in.
    static let repairRounds = 12

    /// Checks that every running process of the tree under `root` is inside `target`'s cgroup
    /// (in the hierarchy it is frozen through); with `repair`, moves the strays into it first.
    ///
    /// A repair reads the tree again after each round of moves, until two reads in a row find
    /// none outside (at most `repairRounds` times): a stray that forks between the read and its
    /// move leaves its new child outside (a child is born in its parent's cgroup of the moment),
    /// and a later check would find it.
    /// - Returns: the tree as last read; the strays found (with `repair`, every one moved in);
    ///   and those outside now (without `repair`, the strays; with it, those it could not bring in).
    public func verifyTree(root: Int32, in target: FreezerTarget, repair: Bool) throws(CgroupLayout.Error)
        -> (tree: ProcessTree, strays: [ProcessTree.Member], remaining: [ProcessTree.Member]) {
        var tree = try ProcessTree.read(root: root, hierarchy: target.cgroup.hierarchy, layout: layout)
        var outside = tree.strays(outside: target.cgroup)
        guard repair else { return (tree, outside, outside) }
        var moved: [ProcessTree.Member] = []
        var confirmed = false
        for _ in 0..<Self.repairRounds {
            if outside.isEmpty {
                // After moves, one clean read is not enough: a child forked by a stray while it was
                // moved was once missed by the read right after (CI, a stray forking thousands of
                // children); a second clean read in a row confirms it.
                if moved.isEmpty || confirmed { break }
                confirmed = true
            } else {
                confirmed = false
                moved += try ProcessTree.repair(outside, into: target.cgroup)
            }
            tree = try ProcessTree.read(root: root, hierarchy: target.cgroup.hierarchy, layout: layout)
            outside = tree.strays(outside: target.cgroup)
        }
        if !moved.isEmpty { logger.info("moved \(moved.count) process(es) into \(target.cgroup.path): \(moved.map(\.pid))") }
        return (tree, moved, outside)
    }

    /// The root of the process tree in `target`: the one process of the cgroup whose parent is
    /// outside it (the container's init).
    public func treeRoot(of target: FreezerTarget) throws(CgroupLayout.Error) -> Int32 {
        let pids = Set(CgroupProcesses.inSubtree(target.cgroup.path))
        let roots = pids.filter { pid in
            guard let fields = ProcStat.fields(of: pid), fields.count > 1, let parent = Int32(fields[1]) else { return false }
            return !pids.contains(parent)
        }.sorted()
        guard roots.count == 1 else {
            throw CgroupLayout.Error.invalidTarget(target.spec.description, reason: roots.isEmpty
                ? "its cgroup has no process"
                : "its cgroup holds \(roots.count) process trees (roots \(roots.map(String.init).joined(separator: ", "))); name the one with --pid")
        }
        return roots[0]
    }
}
