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

/// `GET /v1/events` (docs/api.yaml).
extension API {
    /// `GET /v1/events`: one JSON object per line, from `since` (docker's: seconds since the
    /// epoch, or a duration ago such as `10m`) on, narrowed by `filters` (docker's JSON form).
    /// Anyone but root sees only the events of targets a rule lets them read, and their own requests.
    func events(_ request: Request, _ context: DaemonContext) async throws -> Response {
        guard let caller = await callers.of(context.channel) else { return noCredentials(.status) }
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
                try await writer.write(ByteBuffer(bytes: JSONLine.line(event) + [0x0A]))
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
}
