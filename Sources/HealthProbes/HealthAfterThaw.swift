import CgroupFreezer
import ContainerEngines
import ContainerRuntimes
import FreezerOperations
import HealthProbes

/// What a caller sees of the health checks after a thaw while they run (the CLI's live lines).
public struct HealthProgress: Sendable {
    /// Called once before the first probe, with every item's reference (indices below refer to it).
    public var started: @Sendable ([String]) -> Void
    /// Called after each probe with the item's index, the attempt and its outcome.
    public var probed: @Sendable (Int, Int, ProbeOutcome) -> Void

    /// Callbacks for both.
    public init(started: @escaping @Sendable ([String]) -> Void, probed: @escaping @Sendable (Int, Int, ProbeOutcome) -> Void) {
        self.started = started
        self.probed = probed
    }

    /// No callbacks.
    public static let none = HealthProgress(started: { _ in }, probed: { _, _, _ in })
}

extension Resolver {
    /// `run(_:options:)`, then with `health` and an unpause, a check of every item that ended
    /// thawed (`checkHealth`), unless a stop signal cancelled the batch.
    public func run(_ selection: TargetSelection, options: BatchOptions, health: HealthCheckOptions?,
                    progress: HealthProgress = .none) async -> [BatchResult] {
        let results = await run(selection, options: options)
        guard let health, options.operation == .thaw, !Task.isCancelled else { return results }
        return await checkHealth(results, options: health, batch: options, progress: progress)
    }

    /// Probes every item of an unpause batch that ended thawed, all at once (one slow target does
    /// not hold back the others), and with `.refreeze` freezes again those this call thawed that
    /// ended unhealthy. Items that failed to thaw, or are still frozen, are not probed: a probe
    /// spawned into a frozen cgroup would block.
    ///
    public func checkHealth(
        _ results: [BatchResult], options: HealthCheckOptions, batch: BatchOptions, progress: HealthProgress = .none
    ) async -> [BatchResult] {
        var checked = results
        progress.started(results.map(\.reference))
        let reports = await withTaskGroup(of: (Int, HealthReport?).self) { group in
            for (index, result) in results.enumerated() where result.error == nil && result.state == .thawed {
                let context = ProbeContext(
                    target: result.reference, cgroup: result.cgroup?.cgroup.path.string,
                    pid: result.container?.pid ?? result.cgroup.flatMap { freezer.processes(of: $0).first },
                    container: result.container, docker: result.container.flatMap { catalog.dockerAPI(for: $0.source) })
                group.addTask {
                    // Nil only when cancelled (a stop signal): the item is then reported without a health result.
                    let report = try? await options.probe.waitUntilHealthy(policy: options.policy, context: context) { attempt, outcome in
                        progress.probed(index, attempt, outcome)
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
        let unhealthy = checked.indices.filter { checked[$0].health?.healthy == false && checked[$0].outcome == .ok }
        await withTaskGroup(of: (Int, BatchResult).self) { group in
            for index in unhealthy {
                let item = checked[index].resolution
                group.addTask { (index, await self.perform(item, operation: .freeze, timeout: batch.timeout)) }
            }
            for await (index, refreeze) in group {
                if let error = refreeze.error {
                    checked[index].warnings.append("refreeze failed: \(error.message)")
                } else {
                    checked[index].refrozen = true
                }
                checked[index].state = refreeze.state
                batch.audit?.record(refreeze.auditRecord(action: .refreeze, message:
                    refreeze.error.map { "refreeze failed: \($0.message)" } ?? "unhealthy after the thaw"))
            }
        }
        return checked
    }
}
