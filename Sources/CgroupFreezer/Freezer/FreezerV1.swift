#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import SystemPackage

/// The cgroup v1 freezer: `freezer.state` takes our request and reports the effective state
/// (`THAWED`, `FREEZING`, `FROZEN`); `freezer.self_freezing` and `freezer.parent_freezing` say
/// whose request it is (Documentation/admin-guide/cgroup-v1/freezer-subsystem.rst).
///
/// v1 has no completion notification: freezer.state cannot be polled, so completion is read
/// back, with a short backoff so the tasks being frozen get the CPU.
struct FreezerV1 {
    let cgroup: CgroupDirectory

    func status() throws(FreezerError) -> (selfFrozen: Bool, state: FreezeState) {
        let selfFrozen = try flag(FreezerFiles.v1SelfFreezing, of: cgroup)
        switch try effectiveState() {
        case "FROZEN": return (selfFrozen, selfFrozen ? .frozen : .frozenByParent)
        case "FREEZING": return (selfFrozen, .freezing)
        default: return (selfFrozen, .thawed)
        }
    }

    /// The nearest ancestor that asks to be frozen, if any.
    func frozenAncestor() -> FilePath? {
        var current = cgroup.parent
        while let directory = current, directory.path != directory.hierarchy.mountPoint {
            if (try? flag(FreezerFiles.v1SelfFreezing, of: directory)) == true { return directory.path }
            current = directory.parent
        }
        return nil
    }

    func freeze(deadline: ContinuousClock.Instant, timeout: Duration) async throws -> FreezeOutcome.Result {
        let now = try status()
        if now.selfFrozen && now.state == .frozen { return .already }
        // Put back on failure: a freeze someone else asked for (still FREEZING) stays asked for.
        let previous = now.selfFrozen ? "FROZEN" : "THAWED"
        let stateFile = cgroup.file(FreezerFiles.v1State)
        try CgroupFile.write("FROZEN", to: stateFile)
        var retries = 0
        var pause = Duration.microseconds(10)
        do {
            // A freeze usually completes within microseconds of the write: re-read at once a few
            // times, yielding the CPU to the tasks being frozen, before sleeping between reads
            // (a timer sleep costs more than such a whole freeze).
            var frozen = try effectiveState() == "FROZEN"
            var spins = 0
            while !frozen, spins < 32, ContinuousClock.now < deadline {
                sched_yield()
                spins += 1
                frozen = try effectiveState() == "FROZEN"
            }
            while !frozen {
                if ContinuousClock.now >= deadline {
                    let processes = CgroupProcesses.inSubtree(cgroup.path)
                    let stragglers = processes.filter { !CgroupProcesses.isFrozen($0, backend: .v1) }.count
                    try CgroupFile.write(previous, to: stateFile)
                    throw FreezerError.timeout(path: cgroup.path, deadline: timeout, notFrozen: stragglers, processes: processes.count)
                }
                retries += 1
                // A v1 cgroup whose tasks keep forking can stay FREEZING: writing FROZEN again
                // freezes the newcomers, and an occasional thaw lets a task caught half-way through
                // fork finish it (runc PRs 2774 and 2791; CRIU's freezer "kludges").
                if retries % 50 == 0 {
                    try CgroupFile.write("THAWED", to: stateFile)
                }
                try await Task.sleep(for: pause)
                pause = min(pause * 2, .milliseconds(1))
                try CgroupFile.write("FROZEN", to: stateFile)
                frozen = try effectiveState() == "FROZEN"
            }
        } catch let error as FreezerError {
            if case .timeout = error { throw error }
            try? CgroupFile.write(previous, to: stateFile)
            throw error
        } catch {
            // Cancelled: never leave the cgroup half-frozen by this call.
            try? CgroupFile.write(previous, to: stateFile)
            throw error
        }
        return .ok
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
        try CgroupFile.write("THAWED", to: cgroup.file(FreezerFiles.v1State))
        // The kernel thaws synchronously; only a frozen ancestor keeps the state from reading THAWED.
        var pause = Duration.microseconds(10)
        while try effectiveState() != "THAWED" {
            if try flag(FreezerFiles.v1ParentFreezing, of: cgroup) {
                throw FreezerError.frozenByParent(path: cgroup.path, ancestor: frozenAncestor())
            }
            if ContinuousClock.now >= deadline {
                throw FreezerError.thawTimeout(path: cgroup.path, deadline: timeout)
            }
            try await Task.sleep(for: pause)
            pause = min(pause * 2, .milliseconds(1))
        }
        return .ok
    }

    private func effectiveState() throws(FreezerError) -> Substring {
        // Reading freezer.state also advances a FREEZING cgroup to FROZEN once every task is frozen.
        let text = try CgroupFile.read(cgroup.file(FreezerFiles.v1State))
        return text.split(separator: "\n").first ?? ""
    }

    private func flag(_ name: String, of directory: CgroupDirectory) throws(FreezerError) -> Bool {
        try CgroupFile.read(directory.file(name)).hasPrefix("1")
    }
}
