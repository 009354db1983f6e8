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

/// `GET /v1/status` (docs/api.yaml).
extension API {
    func status(_ request: Request, _ context: DaemonContext) async throws -> Response {
        guard let caller = await callers.of(context.channel) else { return noCredentials(.status) }
        let policy = self.policy.policy
        var targets: [TargetSpec] = []
        let selection: TargetSelection
        do {
            for text in request.uri.queryParameters.getAll("target") { targets.append(try TargetSpec(parsing: String(text))) }
            let filter = try ContainerFilter(parsing: request.uri.queryParameters.getAll("filter").map { String($0) })
            selection = try TargetSelection(targets: targets, all: request.uri.queryParameters.get("all") == "true", filter: filter,
                                            namespaces: request.uri.queryParameters.getAll("namespace").map { String($0) })
        } catch {
            return json(Refusal(error: (error as? any FreezectlError)?.code ?? "invalid-request", message: "status: \(error.withNextStep)"), status: .badRequest)
        }
        guard !targets.isEmpty || policy.mayEver(caller, .status) else {
            return refuse(caller, .status, [], message: "status: \(caller) is not allowed to read any status (no rule of the policy grants it)")
        }
        if targets.isEmpty && !selection.selectsFromSources {
            // Every frozen cgroup of the host, narrowed to those the caller may read.
            let statuses = resolver.frozenCgroups().filter { status in
                guard let cgroup = status.freezer?.target.cgroup else { return false }
                return policy.decide(caller, .status, Policy.Subject(container: nil, cgroupPath: cgroup.cgroupPath, unit: nil, matches: { _, _ in false })).isAllowed
            }
            let idle = IdleFreeze.read(in: self.idle.records)
            return jsonLines(statuses.map { StatusReport($0.shown(idle: idle)) })
        }
        let items = await resolver.resolve(selection, for: .inspect)
        let sorted = policy.authorize(items, named: Set(targets.map(\.description)), caller: caller, actions: [.status], resolver: resolver)
        guard sorted.refused.isEmpty else { return refuse(caller, .status, sorted.refused) }
        let idle = IdleFreeze.read(in: self.idle.records)
        return jsonLines(sorted.items.map { StatusReport(resolver.status($0).shown(idle: idle)) })
    }
}
