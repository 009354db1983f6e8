import CgroupFreezer
import ContainerEngines
import FreezectlReports
import FreezerOperations
import Foundation
import Hummingbird
import SystemPackage

/// API v1 (docs/api.yaml): status, pause and unpause over the library's resolver, the same code
/// path as the CLI, answering the CLI's JSON objects.
struct API: Sendable {
    let resolver: Resolver

    /// A pause or unpause request body.
    struct OperationRequest: Decodable {
        var targets: [String]?
        var all: Bool?
        var filters: [String]?
        var timeout: String?
        var atomic: Bool?
        var direct: Bool?
        var parallel: Int?
    }

    /// The answer to a pause or unpause: one CLI result per target and the overall status.
    struct OperationAnswer: Encodable {
        var status: String
        var results: [OperationReport]
    }

    /// A request refused before anything was done (400, 403).
    struct Refusal: Encodable {
        var error: String
        var message: String
    }

    func register(on router: Router<DaemonContext>) {
        let v1 = router.group("v1")
        v1.get("status") { request, context in try await status(request, context) }
        v1.post("pause") { request, context in try await operate(.freeze, request, context) }
        v1.post("unpause") { request, context in try await operate(.thaw, request, context) }
    }

    /// Until the policy file exists (issue 13), only root may use the daemon: deny by default.
    private func authorize(_ context: DaemonContext, action: String) async -> Response? {
        guard let peer = await PeerCredentials.of(context.channel) else {
            return json(Refusal(error: "forbidden", message: "\(action): the caller's credentials cannot be read"), status: .forbidden)
        }
        guard peer.isRoot else {
            return json(Refusal(error: "forbidden", message: "\(action): \(peer) is not allowed (no policy grants it)"), status: .forbidden)
        }
        return nil
    }

    private func status(_ request: Request, _ context: DaemonContext) async throws -> Response {
        if let refusal = await authorize(context, action: "status") { return refusal }
        var targets: [TargetSpec] = []
        for text in request.uri.queryParameters.getAll("target") {
            do {
                targets.append(try TargetSpec(parsing: String(text)))
            } catch {
                return json(Refusal(error: error.code, message: error.withNextStep), status: .badRequest)
            }
        }
        let statuses = targets.isEmpty ? resolver.frozenCgroups() : await resolver.status(TargetSelection(targets: targets))
        return jsonLines(statuses.map(StatusReport.init))
    }

    private func operate(_ operation: BatchOptions.Operation, _ request: Request, _ context: DaemonContext) async throws -> Response {
        let action = operation.action.rawValue
        if let refusal = await authorize(context, action: action) { return refusal }
        let body: OperationRequest
        do {
            body = try await request.decode(as: OperationRequest.self, context: context)
        } catch {
            return json(Refusal(error: "invalid-request", message: "\(action): the body is not a request: \(error)"), status: .badRequest)
        }
        let selection: TargetSelection
        var options = BatchOptions(operation: operation, atomic: body.atomic ?? false, direct: body.direct ?? false)
        do {
            var targets: [TargetSpec] = []
            for text in body.targets ?? [] { targets.append(try TargetSpec(parsing: text)) }
            selection = TargetSelection(targets: targets,
                                        all: body.all ?? false, filter: try ContainerFilter(parsing: body.filters ?? []))
            if let timeout = body.timeout { options.timeout = try DurationArgument.parse(timeout, option: "timeout") }
            if let parallel = body.parallel {
                guard (1...1000).contains(parallel) else { throw DurationArgument.Error("parallel must be from 1 to 1000, got \(parallel)") }
                options.parallel = parallel
            }
        } catch {
            return json(Refusal(error: "invalid-request", message: "\(action): \(error.withNextStep)"), status: .badRequest)
        }
        if selection.targets.isEmpty && !selection.selectsFromSources {
            return json(Refusal(error: "invalid-request", message: "\(action): give targets, all, or filters"), status: .badRequest)
        }
        let results = await resolver.run(selection, options: options).map(OperationReport.init)
        let failed = results.contains { $0.failure != nil }
        return json(OperationAnswer(status: failed ? "partial" : "ok", results: results), status: failed ? HTTPResponse.Status(code: 207, reasonPhrase: "Multi-Status") : .ok)
    }

    private func json(_ value: some Encodable, status: HTTPResponse.Status) -> Response {
        var bytes = encode(value)
        bytes.append(0x0A)
        return respond(bytes, status: status, type: "application/json")
    }

    private func jsonLines(_ values: [StatusReport]) -> Response {
        var bytes: [UInt8] = []
        for value in values {
            bytes += encode(value)
            bytes.append(0x0A)
        }
        return respond(bytes, status: .ok, type: "application/x-ndjson")
    }

    private func respond(_ bytes: [UInt8], status: HTTPResponse.Status, type: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = type
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    private func encode(_ value: some Encodable) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Our reports hold strings, integers and finite numbers only, which always encode.
        return (try? encoder.encode(value)).map { Array($0) } ?? []
    }
}
