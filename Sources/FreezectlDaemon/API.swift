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

/// API v1 (docs/api.yaml): status, pause and unpause over the library's resolver, the same code
/// path as the CLI, answering the CLI's JSON objects; every request authorized by the caller's
/// socket credentials against the policy, and audited. The routes are in Routes/, a file per
/// resource; here are their registration and the answers they share (refusals, JSON).
struct API: Sendable {
    let resolver: Resolver
    let policy: PolicyStore
    let audit: AuditTrail
    let leases: LeaseKeeper
    let inflight: InflightPauses
    let hub: EventHub
    let watcher: StateWatcher
    let metrics: DaemonMetrics
    let idle: IdleController
    /// Who is at the other end of each open connection.
    let callers = Callers()

    typealias OperationRequest = DaemonAPI.OperationRequest
    typealias OperationAnswer = DaemonAPI.OperationAnswer
    typealias Refusal = DaemonAPI.Refusal
    typealias LeaseReport = DaemonAPI.LeaseReport

    func register(on router: Router<DaemonContext>) {
        let v1 = router.group("v1")
        v1.get("status") { request, context in try await status(request, context) }
        v1.post("pause") { request, context in try await operate(.freeze, request, context) }
        v1.post("unpause") { request, context in try await operate(.thaw, request, context) }
        v1.get("leases") { _, context in try await listLeases(context) }
        v1.delete("leases/:id") { _, context in try await deleteLease(context) }
        v1.get("events") { request, context in try await events(request, context) }
        router.get("metrics") { _, context in try await metricsText(context) }
    }

    /// The 403 for a connection whose credentials cannot be read.
    func noCredentials(_ action: Policy.Action) -> Response {
        json(Refusal(error: "forbidden", message: "\(action.rawValue): the caller's credentials cannot be read"), status: .forbidden)
    }

    /// 403 for named targets the policy refuses; each refusal is audited.
    func refuse(_ caller: Caller, _ action: Policy.Action, _ refused: [DaemonAPI.Refused]) -> Response {
        let lines = refused.map { "\($0.target): needs \($0.ruleNeeded)" }
        record(refused: refused.map(\.target), caller: caller, action: action, message: "refused by the policy")
        return json(Refusal(error: "forbidden", message: "\(action): \(caller) is not allowed on \(lines.joined(separator: "; "))", refused: refused),
                    status: .forbidden)
    }

    /// 403 for a caller no rule grants `action` at all.
    func refuse(_ caller: Caller, _ action: Policy.Action, _ targets: [String], message: String) -> Response {
        record(refused: targets.isEmpty ? ["(every frozen cgroup)"] : targets, caller: caller, action: action, message: "refused by the policy")
        return json(Refusal(error: "forbidden", message: message), status: .forbidden)
    }

    func record(refused targets: [String], caller: Caller, action: Policy.Action, message: String) {
        // Reading a status changes nothing and is not a freezer action: only refusals to change are audited.
        guard let auditAction = AuditRecord.Action(rawValue: action.rawValue) else { return }
        let requester = caller.requester
        for target in targets {
            var record = AuditRecord(action: auditAction, target: target, cgroup: nil, backend: nil, result: .refused, message: message, duration: .zero)
            record.requester = requester
            audit.record(record)
        }
    }

    /// `value` as the answer; one that cannot be encoded (a bug) is answered 500 with the error,
    /// never with an empty body.
    func json(_ value: some Encodable, status: HTTPResponse.Status) -> Response {
        do {
            return respond(try JSONLine.encode(value) + [0x0A], status: status, type: "application/json")
        } catch {
            return respond(JSONLine.errorObject(error) + [0x0A], status: .internalServerError, type: "application/json")
        }
    }

    func jsonLines(_ values: [StatusReport]) -> Response {
        respond(values.flatMap { JSONLine.line($0) + [0x0A] }, status: .ok, type: "application/x-ndjson")
    }

    func respond(_ bytes: [UInt8], status: HTTPResponse.Status, type: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = type
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}

extension Caller {
    /// The caller as audit records name it.
    var requester: AuditRecord.Requester {
        AuditRecord.Requester(uid: credentials.uid, gid: credentials.gid, pid: credentials.pid, user: userName)
    }
}
