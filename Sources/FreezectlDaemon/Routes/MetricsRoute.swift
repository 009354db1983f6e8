import CgroupFreezer
import ContainerEngines
import ContainerRuntimes
import FreezectlAPI
import FreezectlReports
import FreezerOperations
import HealthProbes
import Foundation
import Hummingbird
import NIOCore
import SystemPackage

/// `GET /metrics`: Prometheus text (docs/daemon.md).
extension API {
    /// `GET /metrics`: root, or anyone a rule lets read some status.
    func metricsText(_ context: DaemonContext) async throws -> Response {
        guard let caller = await callers.of(context.channel) else { return noCredentials(.status) }
        guard policy.policy.mayEver(caller, .status) else {
            return refuse(caller, .status, ["(metrics)"], message: "metrics: \(caller) is not allowed to read any status (no rule of the policy grants it)")
        }
        metrics.set(activeLeases: await leases.all().count, pausedCgroups: watcher.pausedCount, eventStreams: hub.subscriberCount)
        return respond(metrics.text(), status: .ok, type: "text/plain; version=0.0.4; charset=utf-8")
    }
}
