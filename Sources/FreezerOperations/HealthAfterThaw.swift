import CgroupFreezer
import ContainerEngines
import HealthProbes
/// What to do with a target that is unhealthy after the thaw.
public enum UnhealthyAction: String, Sendable, CaseIterable {
    /// Report it; the command exits 3.
    case fail
    /// Freeze it again if this call thawed it (put it back as it was); the command exits 3.
    case refreeze
    /// Report it only.
    case ignore
}

/// A health check to run after a thaw.
public struct HealthCheckOptions: Sendable {
    /// The probe.
    public var probe: HealthProbe
    /// Its timing.
    public var policy: HealthPolicy
    /// What to do when a target ends unhealthy.
    public var onUnhealthy: UnhealthyAction

    /// Options for a check.
    public init(probe: HealthProbe, policy: HealthPolicy = HealthPolicy(), onUnhealthy: UnhealthyAction = .fail) {
        self.probe = probe
        self.policy = policy
        self.onUnhealthy = onUnhealthy
    }
}

extension CgroupFreezer {
    /// Probes every target of an unpause batch that ended thawed, all at once (one slow target does
    /// not hold back the others), and with `.refreeze` freezes again those this call thawed that
    /// ended unhealthy. Targets that failed to thaw, or are still frozen, are not probed: a probe
    /// spawned into a frozen cgroup would block.
    ///
    /// - Parameter progress: called after each probe with the item's index, the attempt and its outcome.
    public func checkHealth(
        _ results: [BatchResult], options: HealthCheckOptions, batch: BatchOptions, docker: DockerEngine,
        progress: @escaping @Sendable (Int, Int, ProbeOutcome) -> Void = { _, _, _ in }
    ) async -> [BatchResult] {
        var checked = results
        let reports = await withTaskGroup(of: (Int, HealthReport?).self) { group in
            for (index, result) in results.enumerated() where result.error == nil && result.state == .thawed {
                let context = ProbeContext(
                    target: result.item.reference, cgroup: result.target?.cgroup.path.string,
                    pid: result.item.container?.pid ?? result.target.flatMap { CgroupProcesses.inSubtree($0.cgroup.path).first },
                    container: result.item.container, docker: docker)
                group.addTask {
                    let report = try? await options.probe.waitUntilHealthy(policy: options.policy, context: context) { attempt, outcome in
                        progress(index, attempt, outcome)
                    }
                    return (index, report)
                }
            }
            var reports: [Int: HealthReport] = [:]
            for await (index, report) in group { reports[index] = report }
            return reports
        }
        for (index, report) in reports { checked[index].health = report }
        guard options.onUnhealthy == .refreeze else { return checked }
        // Back to the frozen state it was in before this call: only what this call thawed.
        let unhealthy = checked.indices.filter { checked[$0].health?.healthy == false && checked[$0].result == .ok }
        let refreezeOptions = BatchOptions(operation: .freeze, timeout: batch.timeout, parallel: batch.parallel, direct: batch.direct)
        await withTaskGroup(of: (Int, BatchResult).self) { group in
            for index in unhealthy {
                let item = checked[index].item
                group.addTask { (index, await self.perform(item, operation: .freeze, options: refreezeOptions, docker: docker)) }
            }
            for await (index, refreeze) in group {
                if let error = refreeze.error {
                    checked[index].warnings.append("refreeze failed: \(error.message)")
                } else {
                    checked[index].refrozen = true
                }
                checked[index].state = refreeze.state
                batch.audit?.record(refreeze.auditRecord(action: "refreeze", message:
                    refreeze.error.map { "refreeze failed: \($0.message)" } ?? "unhealthy after the thaw"))
            }
        }
        return checked
    }
}
