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
/// socket credentials against the policy, and audited.
struct API: Sendable {
    let resolver: Resolver
    let policy: PolicyStore
    let audit: AuditTrail
    let leases: LeaseKeeper
    let inflight: InflightPauses
    let hub: EventHub
    let watcher: StateWatcher
    let metrics: DaemonMetrics

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
    private func noCredentials(_ action: Policy.Action) -> Response {
        json(Refusal(error: "forbidden", message: "\(action.rawValue): the caller's credentials cannot be read"), status: .forbidden)
    }

    private func status(_ request: Request, _ context: DaemonContext) async throws -> Response {
        guard let caller = await Caller.of(context.channel) else { return noCredentials(.status) }
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
            return jsonLines(statuses.map(StatusReport.init))
        }
        let items = await resolver.resolve(selection, for: .inspect)
        let sorted = policy.authorize(items, named: Set(targets.map(\.description)), caller: caller, actions: [.status], resolver: resolver)
        guard sorted.refused.isEmpty else { return refuse(caller, .status, sorted.refused) }
        return jsonLines(sorted.items.map { StatusReport(resolver.status($0)) })
    }

    private func operate(_ operation: BatchOptions.Operation, _ request: Request, _ context: DaemonContext) async throws -> Response {
        let action: Policy.Action = operation == .freeze ? .pause : .unpause
        guard let caller = await Caller.of(context.channel) else { return noCredentials(action) }
        let body: OperationRequest
        do {
            body = try await request.decode(as: OperationRequest.self, context: context)
        } catch {
            return json(Refusal(error: "invalid-request", message: "\(action): the body is not a request: \(error)"), status: .badRequest)
        }
        let parsed: ParsedOperationRequest
        do {
            parsed = try ParsedOperationRequest(body, operation: operation)
        } catch {
            return json(Refusal(error: "invalid-request", message: "\(action): \(error.withNextStep)"), status: .badRequest)
        }
        let (selection, leaseDuration, health, hold) = (parsed.selection, parsed.leaseDuration, parsed.health, parsed.hold)
        var options = parsed.options
        if selection.targets.isEmpty && !selection.selectsFromSources {
            return json(Refusal(error: "invalid-request", message: "\(action): give targets, all, or filters"), status: .badRequest)
        }
        if case .exec = health?.probe, !caller.credentials.isRoot {
            // A command the daemon runs would run with the daemon's powers.
            return refuse(caller, action, selection.targets.map(\.description),
                          message: "\(action): health.cmd runs a command as the daemon, so only root may give it; \(caller) may use health.http or health.tcp")
        }
        let policy = self.policy.policy
        let named = selection.targets.map(\.description)
        // A pause that ends on its own is granted by `lease` as well as by `pause`.
        let actions: [Policy.Action] = (leaseDuration != nil || hold) ? [.lease, .pause] : [action]
        // Named targets each get a refusal with the rule they need; a pick from the sources by a
        // caller no rule names is refused as a whole, before any source is read.
        guard !named.isEmpty || actions.contains(where: { policy.mayEver(caller, $0) }) else {
            return refuse(caller, action, [selection.all ? "--all" : "--filter"],
                          message: "\(action): \(caller) is not allowed to \(action) anything (no rule of the policy grants it)")
        }
        let items = await resolver.resolve(selection, for: operation.purpose, direct: options.direct)
        let sorted = policy.authorize(items, named: Set(named), caller: caller, actions: actions, resolver: resolver)
        guard sorted.refused.isEmpty else { return refuse(caller, action, sorted.refused) }
        let decisions = sorted.decisions
        let requester = caller.requester
        // Recorded before anything is written, so that a daemon killed in the middle puts back at
        // its next start a freeze it left half-done (InflightPauses).
        var inflightID: String?
        if operation == .freeze {
            do {
                inflightID = try inflight.begin(sorted.items, requester: requester)
            } catch {
                return json(Refusal(error: error.code, message: "\(action): the in-flight record cannot be written, so nothing was paused: \(error.withNextStep)"),
                            status: .internalServerError)
            }
        }
        defer { inflight.end(inflightID) }
        var lease: Lease?
        if leaseDuration != nil || hold {
            let holder = hold ? ProcessStart.of(caller.credentials.pid).map { Lease.Holder(pid: caller.credentials.pid, startTime: $0) } : nil
            let expires = leaseDuration.map { Date().timeIntervalSince1970 + $0.milliseconds / 1000 }
            do {
                lease = try await leases.begin(hold ? .hold : .timed, expires: expires, holder: holder, requester: requester, items: sorted.items)
            } catch .stopping {
                return json(Refusal(error: "unavailable", message: "\(action): the daemon is stopping; no new lease"), status: .serviceUnavailable)
            } catch .notRecorded(let error) {
                return json(Refusal(error: error.code, message: "\(action): the lease cannot be recorded, so nothing was paused: \(error.withNextStep)"),
                            status: .internalServerError)
            }
        }
        let leaseID = lease?.id
        options.audit = audit.annotating { record in
            record.requester = requester
            record.rule = decisions[record.target]?.description
            record.lease = leaseID
        }
        let cgroups = sorted.items.compactMap { $0.resolved?.cgroup }
        watcher.changing(cgroups)
        var batch = await resolver.run(sorted.items, options: options)
        if let health { batch = await resolver.checkHealth(batch, options: health, batch: options) }
        watcher.changed(cgroups)
        if operation == .thaw {
            await leases.release(cgroups: Set(batch.filter { $0.outcome != .error }.compactMap { $0.cgroup?.cgroup.identity }))
        }
        let confirmed = if let leaseID { await leases.confirm(leaseID, results: batch) } else { Lease?.none }
        let results = batch.map(OperationReport.init)
        let answer = OperationAnswer(results: results, skipped: sorted.skipped.isEmpty ? nil : sorted.skipped, lease: confirmed.map(LeaseReport.init))
        let status = answer.isPartial ? HTTPResponse.Status(code: 207, reasonPhrase: "Multi-Status") : .ok
        guard hold, let confirmed else { return json(answer, status: status) }
        return holding(confirmed.id, answer: answer, status: status, channel: context.channel)
    }

    /// A hold's answer: the result line at once, then the response stays open for as long as the
    /// lease lasts. The connection closing (the client exits, is killed, crashes) ends the lease;
    /// a lease ended otherwise (DELETE, an unpause, the daemon stopping) ends the response with
    /// a last line saying why.
    private func holding(_ id: String, answer: OperationAnswer, status: HTTPResponse.Status, channel: any Channel) -> Response {
        let leases = self.leases
        channel.closeFuture.whenComplete { _ in
            Task { await leases.end(id, reason: "released: the holder's connection closed") }
        }
        var headers = HTTPFields()
        headers[.contentType] = "application/x-ndjson"
        let first = JSONLine.encode(answer) + [0x0A]
        return Response(status: status, headers: headers, body: ResponseBody { writer in
            try await writer.write(ByteBuffer(bytes: first))
            let reason = await leases.ending(id)
            try await writer.write(ByteBuffer(bytes: JSONLine.encode(DaemonAPI.LeaseEnded(lease: id, ended: reason)) + [0x0A]))
            try await writer.finish(nil)
        })
    }

    /// `GET /v1/events`: one JSON object per line, from `since` (docker's: seconds since the
    /// epoch, or a duration ago such as `10m`) on, narrowed by `filters` (docker's JSON form).
    /// Anyone but root sees only the events of targets a rule lets them read, and their own requests.
    private func events(_ request: Request, _ context: DaemonContext) async throws -> Response {
        guard let caller = await Caller.of(context.channel) else { return noCredentials(.status) }
        let filter: EventFilter
        var since: Int64?
        do {
            filter = try EventFilter(json: request.uri.queryParameters.get("filters"))
            if let text = request.uri.queryParameters.get("since") { since = try Self.since(text) }
        } catch {
            return json(Refusal(error: "invalid-request", message: "events: \(error)"), status: .badRequest)
        }
        let policy = self.policy
        guard policy.policy.mayEver(caller, .status) else {
            return refuse(caller, .status, ["(events)"], message: "events: \(caller) is not allowed to read any status (no rule of the policy grants it)")
        }
        let (events, end) = hub.subscribe(since: since)
        context.channel.closeFuture.whenComplete { _ in end() }
        let resolver = self.resolver
        var headers = HTTPFields()
        headers[.contentType] = "application/x-ndjson"
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            for await event in events where filter.matches(event) {
                guard caller.credentials.isRoot || event.requester?.uid == caller.credentials.uid
                    || policy.policy.decide(caller, .status, Policy.Subject(
                        container: event.container, cgroupPath: event.cgroupPath, unit: nil,
                        matches: { resolver.matches($0, $1) })).isAllowed else { continue }
                try await writer.write(ByteBuffer(bytes: JSONLine.encode(event) + [0x0A]))
            }
            try await writer.finish(nil)
        })
    }

    /// `since` as docker takes it: seconds since the epoch (with a fraction), or a duration ago.
    static func since(_ text: String) throws -> Int64 {
        if let seconds = Double(text), seconds.isFinite, seconds >= 0, seconds < 1e11 { return Int64(seconds * 1e9) }
        let ago = try DurationArgument.parse(text, option: "since")
        return Int64((Date().timeIntervalSince1970 * 1e9).rounded()) - ago.nanoseconds
    }

    /// `GET /metrics`: root, or anyone a rule lets read some status.
    private func metricsText(_ context: DaemonContext) async throws -> Response {
        guard let caller = await Caller.of(context.channel) else { return noCredentials(.status) }
        guard policy.policy.mayEver(caller, .status) else {
            return refuse(caller, .status, ["(metrics)"], message: "metrics: \(caller) is not allowed to read any status (no rule of the policy grants it)")
        }
        metrics.set(activeLeases: await leases.all().count, pausedCgroups: watcher.pausedCount, eventStreams: hub.subscriberCount)
        return respond(metrics.text(), status: .ok, type: "text/plain; version=0.0.4; charset=utf-8")
    }

    /// Root sees every lease; anyone else the leases they took.
    private func listLeases(_ context: DaemonContext) async throws -> Response {
        guard let caller = await Caller.of(context.channel) else { return noCredentials(.lease) }
        let visible = await leases.all().filter { caller.credentials.isRoot || $0.requester.uid == caller.credentials.uid }
        return json(visible.map(LeaseReport.init), status: .ok)
    }

    /// Ends a lease now (thaws what it froze): root, or whoever took it.
    private func deleteLease(_ context: DaemonContext) async throws -> Response {
        guard let caller = await Caller.of(context.channel) else { return noCredentials(.lease) }
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

    /// 403 for named targets the policy refuses; each refusal is audited.
    private func refuse(_ caller: Caller, _ action: Policy.Action, _ refused: [DaemonAPI.Refused]) -> Response {
        let lines = refused.map { "\($0.target): needs \($0.ruleNeeded)" }
        record(refused: refused.map(\.target), caller: caller, action: action, message: "refused by the policy")
        return json(Refusal(error: "forbidden", message: "\(action): \(caller) is not allowed on \(lines.joined(separator: "; "))", refused: refused),
                    status: .forbidden)
    }

    /// 403 for a caller no rule grants `action` at all.
    private func refuse(_ caller: Caller, _ action: Policy.Action, _ targets: [String], message: String) -> Response {
        record(refused: targets.isEmpty ? ["(every frozen cgroup)"] : targets, caller: caller, action: action, message: "refused by the policy")
        return json(Refusal(error: "forbidden", message: message), status: .forbidden)
    }

    private func record(refused targets: [String], caller: Caller, action: Policy.Action, message: String) {
        // Reading a status changes nothing and is not a freezer action: only refusals to change are audited.
        guard let auditAction = AuditRecord.Action(rawValue: action.rawValue) else { return }
        let requester = caller.requester
        for target in targets {
            var record = AuditRecord(action: auditAction, target: target, cgroup: nil, backend: nil, result: .refused, message: message, duration: .zero)
            record.requester = requester
            audit.record(record)
        }
    }

    private func json(_ value: some Encodable, status: HTTPResponse.Status) -> Response {
        respond(JSONLine.encode(value) + [0x0A], status: status, type: "application/json")
    }

    private func jsonLines(_ values: [StatusReport]) -> Response {
        respond(values.flatMap { JSONLine.encode($0) + [0x0A] }, status: .ok, type: "application/x-ndjson")
    }

    private func respond(_ bytes: [UInt8], status: HTTPResponse.Status, type: String) -> Response {
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
