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

/// `GET /v1/leases` and `DELETE /v1/leases/{id}` (docs/api.yaml).
extension API {
    /// Root sees every lease; anyone else the leases they took.
    func listLeases(_ context: DaemonContext) async throws -> Response {
        guard let caller = await callers.of(context.channel) else { return noCredentials(.lease) }
        let visible = await leases.all().filter { caller.credentials.isRoot || $0.requester.uid == caller.credentials.uid }
        return json(visible.map(LeaseReport.init), status: .ok)
    }

    /// Ends a lease now (thaws what it froze): root, or whoever took it.
    func deleteLease(_ context: DaemonContext) async throws -> Response {
        guard let caller = await callers.of(context.channel) else { return noCredentials(.lease) }
        let id = context.parameters.get("id") ?? ""
        guard let lease = await leases.lease(id) else {
            return json(Refusal(error: "not-found", message: "lease \(id): no such lease (GET /v1/leases lists them)"), status: .notFound)
        }
        guard caller.credentials.isRoot || lease.requester.uid == caller.credentials.uid else {
            record(refused: lease.targets.map(\.reference), caller: caller, action: .unpause, message: "lease \(id) belongs to uid \(lease.requester.uid)")
            return json(Refusal(error: "forbidden", message: "lease \(id): \(caller) did not take it; only its owner or root may end it"), status: .forbidden)
        }
        let answer = OperationAnswer(results: await leases.end(id, reason: "ended by \(caller)").map(OperationReport.init))
        return json(answer, status: answer.isPartial ? HTTPResponse.Status(code: 207, reasonPhrase: "Multi-Status") : .ok)
    }
}
