#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import SystemPackage

/// One of the kernel's two freezers, as `CgroupFreezer` drives it: cgroup v1 `freezer.state`
/// (`FreezerV1`) or cgroup v2 `cgroup.freeze` (`FreezerV2`). What the two share is written once
/// here: the frozen ancestor, the thaw preamble, and the count of tasks not yet frozen.
protocol FreezerBackend: Sendable {
    /// The cgroup this backend writes.
    var cgroup: CgroupDirectory { get }

    /// Whether `directory` asks to be frozen itself (v1 `freezer.self_freezing`, v2 `cgroup.freeze`).
    func requestsFreeze(_ directory: CgroupDirectory) throws(CgroupLayout.Error) -> Bool

    /// Our own request and the effective state, ancestors taken into account.
    func status() throws(CgroupLayout.Error) -> (selfFrozen: Bool, state: FreezeState)

    /// Freezes and waits for the kernel's confirmation until `deadline`; on timeout, failure or
    /// cancellation the request found before the call is written back before the error is thrown.
    func freeze(deadline: ContinuousClock.Instant, timeout: Duration) async throws -> FreezeOutcome.Change

    /// Clears our request (the preamble found the cgroup frozen at its own request) and waits
    /// until the kernel reports it thawed.
    func clearRequestAndWait(deadline: ContinuousClock.Instant, timeout: Duration) async throws

    /// Whether the kernel shows task `pid` as stopped by this freezer (or unable to run: a zombie, or gone).
    static func isTaskFrozen(_ pid: Int32) -> Bool

    /// Returns when the effective state is no longer `state`, or at `deadline`.
    func waitForChange(from state: FreezeState, deadline: ContinuousClock.Instant) async throws
}

extension FreezerBackend {
    /// The request and the state are two files, read one after the other: a freeze or thaw by
    /// someone else between the reads gives a pair that never was, frozen without a request of
    /// its own, which would read as frozen by a parent (found by the soak, on v1 and on v2; on v2
    /// also a thaw the kernel is still completing). `read` gives the pair; a `frozenByParent` is
    /// believed only when `parentAsks` confirms it, else the pair is read again. Under a writer
    /// that never stops the answer is `freezing`: the cgroup is changing, and it is not frozen by
    /// a parent, which is the one thing known.
    func settledStatus(
        read: () throws(CgroupLayout.Error) -> (selfFrozen: Bool, state: FreezeState),
        parentAsks: () throws(CgroupLayout.Error) -> Bool
    ) throws(CgroupLayout.Error) -> (selfFrozen: Bool, state: FreezeState) {
        for _ in 0..<64 {
            let pair = try read()
            guard pair.state == .frozenByParent, !(try parentAsks()) else { return pair }
        }
        return (try requestsFreeze(cgroup), .freezing)
    }

    /// The nearest ancestor that asks to be frozen, if any. The roots of both hierarchies have
    /// no freeze file, so their read fails and counts as "not asking".
    func frozenAncestor() -> FilePath? {
        var current = cgroup.parent
        while let directory = current {
            // A failed read (the root, or an ancestor removed meanwhile) is "not asking": this
            // only names the ancestor in an error.
            if (try? requestsFreeze(directory)) == true { return directory.path }
            current = directory.parent
        }
        return nil
    }

    /// Thaws: `.already` when the cgroup neither asks to be frozen nor is frozen; `frozenByParent`
    /// naming the ancestor when only an ancestor keeps it frozen (nothing to clear here).
    func thaw(deadline: ContinuousClock.Instant, timeout: Duration) async throws -> FreezeOutcome.Change {
        let now = try status()
        if !now.selfFrozen {
            switch now.state {
            case .thawed: return .already
            case .frozenByParent: throw CgroupFreezer.Error.frozenByParent(path: cgroup.path, ancestor: frozenAncestor())
            case .freezing:
                // Not asked here: an ancestor's freeze still completing, or someone else's thaw
                // still completing (v2), which the wait below sees through.
                if let ancestor = frozenAncestor() { throw CgroupFreezer.Error.frozenByParent(path: cgroup.path, ancestor: ancestor) }
            case .frozen: break
            }
        }
        try await clearRequestAndWait(deadline: deadline, timeout: timeout)
        return .ok
    }

    /// The timeout error of a freeze, with how many tasks of the subtree the kernel had not
    /// stopped yet (read before the request is put back).
    func freezeTimeout(_ timeout: Duration) -> any FreezectlError {
        let processes = CgroupProcesses.inSubtree(cgroup.path)
        let stragglers = processes.filter { !Self.isTaskFrozen($0) }.count
        return CgroupFreezer.Error.timeout(path: cgroup.path, deadline: timeout, notFrozen: stragglers, processes: processes.count)
    }

    /// Writes back the request found before a freeze that failed with `error`, and returns the
    /// error to throw: `error` itself, or `leftFrozen` when the request could not be put back.
    func putBack(_ previous: String, to file: FilePath, after error: any Error) -> any Error {
        do {
            try CgroupFile.write(previous, to: file)
            return error
        } catch let putBackError {
            // Gone (the failure was its files vanishing): nothing is left to be frozen.
            if !Syscall.exists(cgroup.path) { return CgroupFreezer.Error.removed(path: cgroup.path) }
            let state: String
            do { state = try status().state.rawValue } catch { state = "in an unknown state" }
            let cause = (error as? any FreezectlError)?.message ?? "\(error)"
            return CgroupFreezer.Error.leftFrozen(path: cgroup.path, state: state,
                                           cause: "\(cause); putting back the previous request failed: \(putBackError.message)")
        }
    }
}
