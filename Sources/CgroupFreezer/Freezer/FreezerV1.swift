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
struct FreezerV1: FreezerBackend {
    let cgroup: CgroupDirectory

    func requestsFreeze(_ directory: CgroupDirectory) throws(CgroupLayout.Error) -> Bool {
        try CgroupFile.readValue(directory.file(FreezerFiles.v1SelfFreezing)).hasPrefix("1")
    }

    /// cgroup v1 has no notification for freezer.state: it is read again every 500 ms.
    func waitForChange(from state: FreezeState, deadline: ContinuousClock.Instant) async throws {
        while ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(500))
            if try status().state != state { return }
        }
    }

    /// `freezer.parent_freezing` tells a parent's freeze from a torn read (`settledStatus`).
    func status() throws(CgroupLayout.Error) -> (selfFrozen: Bool, state: FreezeState) {
        try status(readingState: { () throws(CgroupLayout.Error) in try CgroupFile.readValue(cgroup.file(FreezerFiles.v1State)) })
    }

    /// `status()` with freezer.state read by `readState` (through a descriptor the caller holds).
    private func status(readingState readState: () throws(CgroupLayout.Error) -> String) throws(CgroupLayout.Error) -> (selfFrozen: Bool, state: FreezeState) {
        try settledStatus(
            read: { () throws(CgroupLayout.Error) in
                let selfFrozen = try requestsFreeze(cgroup)
                return (selfFrozen, FreezeState(v1StateText: try readState(), selfFrozen: selfFrozen))
            },
            parentAsks: { () throws(CgroupLayout.Error) in try CgroupFile.readValue(cgroup.file(FreezerFiles.v1ParentFreezing)).hasPrefix("1") })
    }

    /// A task frozen by the v1 freezer sleeps in TASK_FROZEN, which /proc/PID/stat reports as `D`.
    static func isTaskFrozen(_ pid: Int32) -> Bool {
        guard let state = ProcStat.fields(of: pid)?.first, state != "Z" else { return true }
        return state == "D"
    }

    func freeze(deadline: ContinuousClock.Instant, timeout: Duration) async throws -> FreezeOutcome.Change {
        let stateFile = cgroup.file(FreezerFiles.v1State)
        // One descriptor for the state's first read, the write and every read-back: a batch
        // freezes many cgroups, and each open walks the whole path through cgroupfs. Where it
        // cannot be opened for writing (a user who may only read the cgroup, which may be frozen
        // already), the state is read as `status()` reads it, and the write then fails as before.
        var opened = try? CgroupFile.openForWriting(stateFile, .readWrite)
        defer { if let opened { CgroupFile.close(opened) } }
        let now: (selfFrozen: Bool, state: FreezeState)
        if let descriptor = opened {
            now = try status(readingState: { () throws(CgroupLayout.Error) in try CgroupFile.readValue(descriptor, path: stateFile) })
        } else {
            now = try status()
        }
        if now.selfFrozen && now.state == .frozen { return .already }
        // Put back on failure: a freeze someone else asked for (still FREEZING) stays asked for.
        let previous = now.selfFrozen ? "FROZEN" : "THAWED"
        let state: FileDescriptor
        if let descriptor = opened {
            state = descriptor
        } else {
            state = try CgroupFile.openForWriting(stateFile, .readWrite)
            opened = state
        }
        try CgroupFile.write("FROZEN", to: state, path: stateFile)
        do {
            try await waitFrozen(deadline: deadline, timeout: timeout, state: state, stateFile: stateFile)
        } catch {
            // Timed out, unreadable or cancelled: never leave the cgroup half-frozen by this call.
            throw putBack(previous, to: stateFile, after: error)
        }
        return .ok
    }

    /// Re-reads freezer.state until FROZEN; throws the timeout error (stragglers counted while
    /// still frozen) at the deadline.
    private func waitFrozen(deadline: ContinuousClock.Instant, timeout: Duration, state: FileDescriptor, stateFile: FilePath) async throws {
        // A freeze usually completes within microseconds of the write: re-read at once a few
        // times, yielding the CPU to the tasks being frozen, before sleeping between reads
        // (a timer sleep costs more than such a whole freeze).
        var frozen = try effectiveState(state, stateFile) == "FROZEN"
        var spins = 0
        while !frozen, spins < 32, ContinuousClock.now < deadline {
            sched_yield()
            spins += 1
            frozen = try effectiveState(state, stateFile) == "FROZEN"
        }
        var retries = 0
        var pause = Duration.microseconds(10)
        while !frozen {
            if ContinuousClock.now >= deadline { throw freezeTimeout(timeout) }
            retries += 1
            // A v1 cgroup whose tasks keep forking can stay FREEZING: writing FROZEN again
            // freezes the newcomers, and an occasional thaw lets a task caught half-way through
            // fork finish it (runc PRs 2774 and 2791; CRIU's freezer "kludges").
            if retries % 50 == 0 {
                try CgroupFile.write("THAWED", to: state, path: stateFile)
            }
            try await Task.sleep(for: pause)
            pause = min(pause * 2, .milliseconds(1))
            try CgroupFile.write("FROZEN", to: state, path: stateFile)
            frozen = try effectiveState(state, stateFile) == "FROZEN"
        }
    }

    func clearRequestAndWait(deadline: ContinuousClock.Instant, timeout: Duration) async throws {
        let stateFile = cgroup.file(FreezerFiles.v1State)
        let state = try CgroupFile.openForWriting(stateFile, .readWrite)
        defer { CgroupFile.close(state) }
        try CgroupFile.write("THAWED", to: state, path: stateFile)
        // The kernel thaws synchronously; only a frozen ancestor keeps the state from reading THAWED.
        var pause = Duration.microseconds(10)
        while try effectiveState(state, stateFile) != "THAWED" {
            if try CgroupFile.readValue(cgroup.file(FreezerFiles.v1ParentFreezing)).hasPrefix("1") {
                throw CgroupFreezer.Error.frozenByParent(path: cgroup.path, ancestor: frozenAncestor())
            }
            if ContinuousClock.now >= deadline {
                throw CgroupFreezer.Error.thawTimeout(path: cgroup.path, deadline: timeout)
            }
            try await Task.sleep(for: pause)
            pause = min(pause * 2, .milliseconds(1))
        }
    }

    private func effectiveState(_ state: FileDescriptor, _ stateFile: FilePath) throws(CgroupLayout.Error) -> Substring {
        // Reading freezer.state also advances a FREEZING cgroup to FROZEN once every task is frozen.
        let text = try CgroupFile.readValue(state, path: stateFile)
        return text.split(separator: "\n", omittingEmptySubsequences: false).first ?? ""
    }
}
