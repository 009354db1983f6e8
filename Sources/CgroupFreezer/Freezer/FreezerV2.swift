import SystemPackage

/// The cgroup v2 freezer: `cgroup.freeze` holds our request, `frozen` in `cgroup.events` says when
/// the kernel has stopped every task of the subtree (Documentation/admin-guide/cgroup-v2.rst).
struct FreezerV2 {
    let cgroup: CgroupDirectory
    let waiter: EventsWaiter

    func status() throws(FreezerError) -> (selfFrozen: Bool, state: FreezeState) {
        let selfFrozen = try readFreeze(cgroup) 
        let frozen = try isFrozen(try CgroupFile.read(cgroup.file(FreezerFiles.v2Events)))
        if frozen { return (selfFrozen, selfFrozen ? .frozen : .frozenByParent) }
        if selfFrozen || frozenAncestor() != nil { return (selfFrozen, .freezing) }
        return (false, .thawed)
    }

    /// The nearest ancestor that asks to be frozen, if any.
    func frozenAncestor() -> FilePath? {
        var current = cgroup.parent
        while let directory = current {
            if (try? readFreeze(directory)) == true { return directory.path }
            current = directory.parent
        }
        return nil
    }

    func freeze(deadline: ContinuousClock.Instant, timeout: Duration) async throws -> FreezeOutcome.Result {
        let now = try status()
        if now.selfFrozen && now.state == .frozen { return .already }
        // Put back on failure: the request that was there before this call (a freeze someone
        // else asked for and that is still completing stays asked for), else thawed.
        let previous = now.selfFrozen ? "1" : "0"
        let eventsPath = cgroup.file(FreezerFiles.v2Events)
        let events = try CgroupFile.open(eventsPath, .readOnly)
        defer { try? events.close() }
        try CgroupFile.write("1", to: cgroup.file(FreezerFiles.v2Freeze))
        let frozen: Bool
        do {
            frozen = try await waiter.wait(on: events, deadline: deadline) {
                try isFrozen(try CgroupFile.read(events, path: eventsPath))
            }
        } catch {
            // Cancelled or unreadable: never leave the cgroup half-frozen by this call.
            try? CgroupFile.write(previous, to: cgroup.file(FreezerFiles.v2Freeze))
            throw error
        }
        if frozen { return .ok }
        // runc leaves a cgroup that did not finish freezing as it is (runc issue 5325); we put back
        // the request found before this call (thawed, unless someone else had asked for a freeze).
        let processes = CgroupProcesses.inSubtree(cgroup.path)
        let stragglers = processes.filter { !CgroupProcesses.isFrozen($0, backend: .v2) }.count
        try CgroupFile.write(previous, to: cgroup.file(FreezerFiles.v2Freeze))
        throw FreezerError.timeout(path: cgroup.path, deadline: timeout, notFrozen: stragglers, processes: processes.count)
    }

    func thaw(deadline: ContinuousClock.Instant, timeout: Duration) async throws -> FreezeOutcome.Result {
        let now = try status()
        if !now.selfFrozen {
            switch now.state {
            case .thawed: return .already
            case .frozenByParent, .freezing: throw FreezerError.frozenByParent(path: cgroup.path, ancestor: frozenAncestor())
            case .frozen: break
            }
        }
        let eventsPath = cgroup.file(FreezerFiles.v2Events)
        let events = try CgroupFile.open(eventsPath, .readOnly)
        defer { try? events.close() }
        try CgroupFile.write("0", to: cgroup.file(FreezerFiles.v2Freeze))
        // A frozen ancestor keeps us frozen however long we wait: say so at once.
        if let ancestor = frozenAncestor() {
            throw FreezerError.frozenByParent(path: cgroup.path, ancestor: ancestor)
        }
        let thawed = try await waiter.wait(on: events, deadline: deadline) {
            try !isFrozen(try CgroupFile.read(events, path: eventsPath))
        }
        if !thawed {
            throw FreezerError.thawTimeout(path: cgroup.path, deadline: timeout)
        }
        return .ok
    }

    private func readFreeze(_ directory: CgroupDirectory) throws(FreezerError) -> Bool {
        try CgroupFile.read(directory.file(FreezerFiles.v2Freeze)).hasPrefix("1")
    }

    private func isFrozen(_ events: String) throws(FreezerError) -> Bool {
        CgroupFile.value(of: "frozen", inKeyedText: events) == "1"
    }
}
