import SystemPackage

/// The cgroup v2 freezer: `cgroup.freeze` holds our request, `frozen` in `cgroup.events` says when
/// the kernel has stopped every task of the subtree (Documentation/admin-guide/cgroup-v2.rst).
struct FreezerV2: FreezerBackend {
    let cgroup: CgroupDirectory
    let waiter: EventsWaiter

    func requestsFreeze(_ directory: CgroupDirectory) throws(CgroupLayout.Error) -> Bool {
        try CgroupFile.readValue(directory.file(FreezerFiles.v2Freeze)).hasPrefix("1")
    }

    /// A request in an ancestor tells a parent's freeze from a torn read or a thaw still
    /// completing (`settledStatus`).
    func status() throws(CgroupLayout.Error) -> (selfFrozen: Bool, state: FreezeState) {
        try settledStatus(
            read: { () throws(CgroupLayout.Error) in
                let selfFrozen = try requestsFreeze(cgroup)
                if Self.isFrozen(try CgroupFile.readValue(cgroup.file(FreezerFiles.v2Events))) { return (selfFrozen, selfFrozen ? .frozen : .frozenByParent) }
                if selfFrozen || frozenAncestor() != nil { return (selfFrozen, .freezing) }
                return (false, .thawed)
            },
            parentAsks: { frozenAncestor() != nil })
    }

    /// A task frozen by the v2 freezer waits in the freezer trap of signal delivery (wchan
    /// `get_signal` or `do_freezer_trap`, kernel/signal.c), or is a vfork parent waiting for its
    /// frozen child (cgroup_enter_frozen, kernel/fork.c).
    static func isTaskFrozen(_ pid: Int32) -> Bool {
        guard let state = ProcStat.fields(of: pid)?.first, state != "Z" else { return true }
        guard let wchan = CgroupFile.procFileIfReadable(FilePath("/proc/\(pid)/wchan")) else { return true }  // gone meanwhile
        return ["get_signal", "do_freezer_trap", "kernel_clone", "wait_for_vfork_done"].contains(wchan)
    }

    func freeze(deadline: ContinuousClock.Instant, timeout: Duration) async throws -> FreezeOutcome.Change {
        let now = try status()
        if now.selfFrozen && now.state == .frozen { return .already }
        // Put back on failure: the request that was there before this call (a freeze someone
        // else asked for and that is still completing stays asked for), else thawed. runc leaves
        // a cgroup that did not finish freezing as it is (runc issue 5325).
        let previous = now.selfFrozen ? "1" : "0"
        let freezeFile = cgroup.file(FreezerFiles.v2Freeze)
        let events = try openEvents()
        defer { CgroupFile.close(events) }
        try CgroupFile.write("1", to: freezeFile)
        do {
            if try await wait(on: events, deadline: deadline, until: { Self.isFrozen($0) }) { return .ok }
            throw freezeTimeout(timeout)
        } catch {
            // Timed out, unreadable or cancelled: never leave the cgroup half-frozen by this call.
            throw putBack(previous, to: freezeFile, after: error)
        }
    }

    func clearRequestAndWait(deadline: ContinuousClock.Instant, timeout: Duration) async throws {
        let events = try openEvents()
        defer { CgroupFile.close(events) }
        try CgroupFile.write("0", to: cgroup.file(FreezerFiles.v2Freeze))
        // A frozen ancestor keeps us frozen however long we wait: say so at once.
        if let ancestor = frozenAncestor() { throw CgroupFreezer.Error.frozenByParent(path: cgroup.path, ancestor: ancestor) }
        if try await !wait(on: events, deadline: deadline, until: { !Self.isFrozen($0) }) {
            throw CgroupFreezer.Error.thawTimeout(path: cgroup.path, deadline: timeout)
        }
    }

    /// The kernel notifies cgroup.events when `frozen` flips, for a freeze of this cgroup or of an
    /// ancestor: no polling.
    func waitForChange(from state: FreezeState, deadline: ContinuousClock.Instant) async throws {
        let events = try openEvents()
        defer { CgroupFile.close(events) }
        let path = cgroup.file(FreezerFiles.v2Events)
        _ = try await waiter.wait(on: events, deadline: deadline) {
            // The read of this descriptor is what re-arms its notification.
            _ = try CgroupFile.readValue(events, path: path)
            return try status().state != state
        }
    }

    /// cgroup.events, opened before the write so that no change is missed.
    private func openEvents() throws(CgroupLayout.Error) -> FileDescriptor {
        try CgroupFile.open(cgroup.file(FreezerFiles.v2Events), .readOnly)
    }

    /// Waits for the kernel's notifications on cgroup.events until `condition` holds of its
    /// text; false at the deadline.
    private func wait(on events: FileDescriptor, deadline: ContinuousClock.Instant,
                      until condition: @escaping @Sendable (String) -> Bool) async throws -> Bool {
        let path = cgroup.file(FreezerFiles.v2Events)
        return try await waiter.wait(on: events, deadline: deadline) { condition(try CgroupFile.readValue(events, path: path)) }
    }

    private static func isFrozen(_ events: String) -> Bool {
        CgroupFile.value(of: "frozen", inKeyedText: events) == "1"
    }
}
