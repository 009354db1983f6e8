import CgroupFreezer

// The deep pause along a route (docs/deep-pause.md): whoever froze the target (the kernel
// route, an engine, systemd), its memory is worked on through its cgroup's processes.
extension Resolver {
    /// After a confirmed freeze: the target's memory pushed out, within `timeout` of its own.
    /// The freeze stands whatever happens here; what was not done is said in a warning.
    func reclaim(_ route: Route, timeout: Duration, into result: inout BatchResult) async {
        guard let target = memoryTarget(route, verb: "reclaimed", into: &result) else { return }
        // Only a frozen tree (by its own request or an ancestor's): reclaiming a running one
        // would be undone by its next touch.
        let state = result.state ?? currentState(target)
        guard state == .frozen || state == .frozenByParent else {
            result.warnings.append("its memory was not reclaimed: the target is not frozen (\(state?.rawValue ?? "its state cannot be read"))")
            return
        }
        let report = await freezer.reclaim(target, deadline: .now + timeout)
        result.memory = report
        note(report, verb: "reclaim", timeout: timeout, into: &result)
    }

    /// Before a thaw: the target's swapped memory brought back, within `timeout` of its own, so
    /// that the workload does not wait for it page by page when it runs again.
    func prefetch(_ route: Route, timeout: Duration, into result: inout BatchResult) async {
        guard let target = memoryTarget(route, verb: "prefetched", into: &result) else { return }
        let report = await freezer.prefetch(target, deadline: .now + timeout)
        result.memory = report
        note(report, verb: "prefetch", timeout: timeout, into: &result)
    }

    private func memoryTarget(_ route: Route, verb: String, into result: inout BatchResult) -> FreezerTarget? {
        guard let target = route.cgroup else {
            result.warnings.append("its memory was not \(verb): its cgroup is not visible here")
            return nil
        }
        return target
    }

    /// What the user must know about `report`: how far it got when it did not finish, and the
    /// library's own warning (no swap).
    private func note(_ report: MemoryReport, verb: String, timeout: Duration, into result: inout BatchResult) {
        if !report.complete {
            let why = report.error.map { "\($0.message)" } ?? (Task.isCancelled ? "interrupted" : "the deadline (\(timeout.shortDescription)) passed")
            result.warnings.append("the \(verb) stopped after \(report.processes) of \(report.total) processes: \(why)")
        }
        if let warning = report.warning { result.warnings.append(warning) }
    }
}
