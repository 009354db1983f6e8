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

/// `POST /v1/pause` and `POST /v1/unpause` (docs/api.yaml), with leases and holds.
extension API {
    /// One step of a request: what it gives the next step, or the answer that ends the request.
    enum Step<Value> {
        case next(Value)
        case answered(Response)
    }

    /// A request after its body was read and the policy agreed: its targets, resolved and sorted.
    struct Granted {
        var parsed: ParsedOperationRequest
        var sorted: Authorization
    }

    func operate(_ operation: BatchOptions.Operation, _ request: Request, _ context: DaemonContext) async throws -> Response {
        let action: Policy.Action = operation == .freeze ? .pause : .unpause
        guard let caller = await callers.of(context.channel) else { return noCredentials(action) }
        let granted: Granted
        switch await grant(operation, request, context, caller: caller) {
        case .answered(let response): return response
        case .next(let value): granted = value
        }
        let (parsed, sorted) = (granted.parsed, granted.sorted)
        // Recorded before anything is written, so that a daemon killed in the middle puts back at
        // its next start a freeze it left half-done (InflightPauses).
        var inflightID: String?
        if operation == .freeze {
            do {
                inflightID = try inflight.begin(sorted.items, requester: caller.requester)
            } catch {
                return json(Refusal(error: error.code, message: "\(action): the in-flight record cannot be written, so nothing was paused: \(error.withNextStep)"),
                            status: .internalServerError)
            }
        }
        defer { inflight.end(inflightID) }
        let lease: Lease?
        switch try await beginLease(parsed, sorted, caller: caller, action: action) {
        case .answered(let response): return response
        case .next(let value): lease = value
        }
        return await run(operation, granted, lease: lease, caller: caller, channel: context.channel)
    }

    /// Reads the body and asks the policy: the request's targets resolved and every one of them
    /// granted, or the answer (400, 403) saying why not.
    private func grant(_ operation: BatchOptions.Operation, _ request: Request, _ context: DaemonContext, caller: Caller) async -> Step<Granted> {
        let action: Policy.Action = operation == .freeze ? .pause : .unpause
        let parsed: ParsedOperationRequest
        do {
            let body = try await request.decode(as: OperationRequest.self, context: context)
            do {
                parsed = try ParsedOperationRequest(body, operation: operation)
            } catch {
                return .answered(json(Refusal(error: "invalid-request", message: "\(action): \(error.withNextStep)"), status: .badRequest))
            }
        } catch {
            return .answered(json(Refusal(error: "invalid-request", message: "\(action): the body is not a request: \(error)"), status: .badRequest))
        }
        let selection = parsed.selection
        if selection.targets.isEmpty && !selection.selectsFromSources {
            return .answered(json(Refusal(error: "invalid-request", message: "\(action): give targets, all, or filters"), status: .badRequest))
        }
        if case .exec = parsed.health?.probe, !caller.credentials.isRoot {
            // A command the daemon runs would run with the daemon's powers.
            return .answered(refuse(caller, action, selection.targets.map(\.description),
                                    message: "\(action): health.cmd runs a command as the daemon, so only root may give it; \(caller) may use health.http or health.tcp"))
        }
        let policy = self.policy.policy
        let named = selection.targets.map(\.description)
        // A pause that ends on its own is granted by `lease` as well as by `pause`.
        let actions: [Policy.Action] = (parsed.leaseDuration != nil || parsed.hold) ? [.lease, .pause] : [action]
        // Named targets each get a refusal with the rule they need; a pick from the sources by a
        // caller no rule names is refused as a whole, before any source is read.
        guard !named.isEmpty || actions.contains(where: { policy.mayEver(caller, $0) }) else {
            return .answered(refuse(caller, action, [selection.all ? "--all" : "--filter"],
                                    message: "\(action): \(caller) is not allowed to \(action) anything (no rule of the policy grants it)"))
        }
        let items = await resolver.resolve(selection, for: operation.purpose, direct: parsed.options.direct)
        var sorted = policy.authorize(items, named: Set(named), caller: caller, actions: actions, resolver: resolver)
        // The deep pause's memory work needs its own grant as well, target by target.
        for extra in parsed.memoryActions {
            sorted = sorted.narrowed(by: policy.authorize(sorted.items, named: Set(named), caller: caller, actions: [extra], resolver: resolver))
        }
        guard sorted.refused.isEmpty else { return .answered(refuse(caller, action, sorted.refused)) }
        return .next(Granted(parsed: parsed, sorted: sorted))
    }

    /// The lease a timed pause or a hold asks for, recorded before anything is frozen; nil when
    /// none is asked; the answer (503, 500) when it cannot be taken or recorded: nothing is paused.
    private func beginLease(_ parsed: ParsedOperationRequest, _ sorted: Authorization, caller: Caller, action: Policy.Action) async throws -> Step<Lease?> {
        guard parsed.leaseDuration != nil || parsed.hold else { return .next(nil) }
        let pid = caller.credentials.pid
        let holder = parsed.hold ? ProcessStart.of(pid).map { Lease.Holder(pid: pid, startTime: $0) } : nil
        let expires = parsed.leaseDuration.map { Date().timeIntervalSince1970 + $0.milliseconds / 1000 }
        do {
            return .next(try await leases.begin(parsed.hold ? .hold : .timed, expires: expires, holder: holder, requester: caller.requester,
                                                 prefetch: parsed.options.prefetch, items: sorted.items))
        } catch .stopping {
            return .answered(json(Refusal(error: "unavailable", message: "\(action): the daemon is stopping; no new lease"), status: .serviceUnavailable))
        } catch .notRecorded(let error) {
            return .answered(json(Refusal(error: error.code, message: "\(action): the lease cannot be recorded, so nothing was paused: \(error.withNextStep)"),
                                  status: .internalServerError))
        }
    }

    /// Runs the granted batch (audited with the caller, the rule and the lease), then the health
    /// checks; ends the leases an unpause released, confirms this request's lease, answers.
    private func run(_ operation: BatchOptions.Operation, _ granted: Granted, lease: Lease?, caller: Caller, channel: any Channel) async -> Response {
        let (parsed, sorted) = (granted.parsed, granted.sorted)
        var options = parsed.options
        let (requester, decisions, leaseID) = (caller.requester, sorted.decisions, lease?.id)
        options.audit = audit.annotating { record in
            record.requester = requester
            record.rule = decisions[record.target]?.description
            record.lease = leaseID
        }
        let cgroups = sorted.items.compactMap { $0.resolved?.cgroup }
        let started = ContinuousClock.now
        watcher.changing(cgroups)
        var batch = await resolver.run(sorted.items, options: options)
        // The idle controller lets go of what a pause took over, and restarts the quiet time of
        // what an unpause woke.
        await idle.requested(operation, cgroups: Set(batch.filter { $0.outcome != .error }.compactMap { $0.cgroup?.cgroup.identity }),
                             lease: lease != nil, at: started)
        for result in batch { metrics.reclaimed(result.memory) }
        if let health = parsed.health { batch = await resolver.checkHealth(batch, options: health, batch: options) }
        watcher.changed(cgroups)
        if operation == .thaw {
            await leases.release(cgroups: Set(batch.filter { $0.outcome != .error }.compactMap { $0.cgroup?.cgroup.identity }))
        }
        let confirmed = if let leaseID { await leases.confirm(leaseID, results: batch) } else { Lease?.none }
        let answer = OperationAnswer(results: batch.map(OperationReport.init), skipped: sorted.skipped.isEmpty ? nil : sorted.skipped,
                                     lease: confirmed.map(LeaseReport.init))
        let status = answer.isPartial ? HTTPResponse.Status(code: 207, reasonPhrase: "Multi-Status") : .ok
        guard parsed.hold, let confirmed else { return json(answer, status: status) }
        return holding(confirmed.id, answer: answer, status: status, channel: channel)
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
        let first = JSONLine.line(answer) + [0x0A]
        return Response(status: status, headers: headers, body: ResponseBody { writer in
            try await writer.write(ByteBuffer(bytes: first))
            let reason = await leases.ending(id)
            try await writer.write(ByteBuffer(bytes: JSONLine.line(DaemonAPI.LeaseEnded(lease: id, ended: reason)) + [0x0A]))
            try await writer.finish(nil)
        })
    }
}
