import AsyncHTTPClient
import CgroupFreezer
import ContainerEngines
import ContainerRuntimes
import Foundation
import FreezectlAPI
import FreezectlReports
import NIOCore
import NIOHTTP1
import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// A client of freezectld (docs/daemon.md, docs/api.yaml) on its unix socket: what the CLI's
/// `--host` uses, and what a Swift program uses to pause through the daemon.
public struct DaemonClient: Sendable {
    /// The daemon's socket.
    public let socket: FilePath

    /// The variable that names the daemon when `--host` is not given.
    public static let environmentVariable = "FREEZECTL_HOST"
    /// Where freezectld listens by default.
    public static let defaultSocket: FilePath = "/run/freezectl/freezectl.sock"

    /// The largest answer read (a batch of thousands of targets is well below it).
    static let answerLimit = 64 << 20

    /// `unix:///run/freezectl/freezectl.sock` (or the path alone).
    public init(host: String) throws(DaemonClient.Error) {
        let path = host.hasPrefix("unix://") ? String(host.dropFirst("unix://".count)) : host
        guard path.hasPrefix("/"), !host.contains("://") || host.hasPrefix("unix://") else { throw .badHost(host) }
        socket = FilePath(path)
    }

    /// The daemon named by `--host`, else by FREEZECTL_HOST; nil when neither names one.
    public static func named(host: String?, environment: [String: String]) throws(DaemonClient.Error) -> DaemonClient? {
        guard let host = host ?? environment[environmentVariable], !host.isEmpty else { return nil }
        return try DaemonClient(host: host)
    }

    /// Shuts a hold's client down. Its only error says it was shut down already.
    static func shutDown(_ client: HTTPClient) async {
        do {
            try await client.shutdown()
        } catch {
            return
        }
    }

    /// A request body: one that cannot be encoded is not sent.
    private static func encoded(_ request: DaemonAPI.OperationRequest) throws(DaemonClient.Error) -> [UInt8] {
        do {
            return try JSONLine.encode(request)
        } catch {
            throw .notEncoded(error)
        }
    }

    /// `POST /v1/pause` or `/v1/unpause`; the answer when the daemon acted (200 or 207).
    public func operate(_ action: String, _ request: DaemonAPI.OperationRequest,
                        timeout: Duration = .seconds(600)) async throws(DaemonClient.Error) -> DaemonAPI.OperationAnswer {
        let (status, body) = try await send(.POST, "/v1/\(action)", body: Self.encoded(request), timeout: timeout)
        return try decode(DaemonAPI.OperationAnswer.self, body, status: status)
    }

    /// `GET /v1/status`: the status of targets, of a selection, or every frozen cgroup.
    public func status(targets: [String], all: Bool, filters: [String], namespaces: [String] = []) async throws(DaemonClient.Error) -> [StatusReport] {
        var query = targets.map { "target=\(Self.encode($0))" } + filters.map { "filter=\(Self.encode($0))" }
            + namespaces.map { "namespace=\(Self.encode($0))" }
        if all { query.append("all=true") }
        let (status, body) = try await send(.GET, "/v1/status" + (query.isEmpty ? "" : "?" + query.joined(separator: "&")), body: nil, timeout: .seconds(600))
        guard status == 200 else { throw refusal(body, status: status) }
        var reports: [StatusReport] = []
        for line in body.split(separator: 0x0A) where !line.isEmpty {
            reports.append(try decode(StatusReport.self, Array(line), status: status))
        }
        return reports
    }

    /// `POST /v1/pause` with `hold`: the answer, and the connection that keeps the lease. The
    /// lease ends when `Hold.release()` is called, or when this process exits however it exits
    /// (the kernel closes the connection, and the daemon thaws).
    public func hold(_ request: DaemonAPI.OperationRequest) async throws(DaemonClient.Error) -> Hold {
        var request = request
        request.hold = true
        try checkReachable()
        // A client of its own: its connection is the lease, closed when the hold is released.
        let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: .init())
        do {
            let http = HTTPClientRequest(unixSocket: socket, .POST, "/v1/pause", json: try Self.encoded(request))
            let response = try await client.execute(http, timeout: .hours(24 * 365))
            var lines = LineReader(response.body.makeAsyncIterator())
            guard (200..<300).contains(Int(response.status.code)) else {
                throw refusal(try await lines.rest(limit: Self.answerLimit), status: Int(response.status.code))
            }
            guard let first = try await lines.next(limit: Self.answerLimit) else {
                throw DaemonClient.Error.malformed(socket, "the hold's answer ended before its first line")
            }
            let answer = try decode(DaemonAPI.OperationAnswer.self, first, status: Int(response.status.code))
            return Hold(answer: answer, client: self, http: client, lines: lines)
        } catch {
            await Self.shutDown(client)
            throw error as? DaemonClient.Error ?? .unreachable(socket, Self.reason(error))
        }
    }

    /// `DELETE /v1/leases/{id}`: ends a lease now; the thaw's results.
    public func endLease(_ id: String) async throws(DaemonClient.Error) -> DaemonAPI.OperationAnswer {
        let (status, body) = try await send(.DELETE, "/v1/leases/\(Self.encode(id))", body: nil, timeout: .seconds(600))
        return try decode(DaemonAPI.OperationAnswer.self, body, status: status)
    }

    // MARK: -

    /// Whether a daemon accepts connections on the socket: the HTTP client retries a failed
    /// connect until its deadline, so a missing daemon is found here at once, by the kernel's word.
    private func checkReachable() throws(DaemonClient.Error) {
        switch Syscall.connectUnixSocket(socket.string) {
        case .success(let fd): close(fd)
        case .failure(.fileNameTooLong): throw .badHost(socket.string)
        case .failure(let errno): throw .unreachable(socket, "connect: \(errno)")
        }
    }

    private func send(_ method: HTTPMethod, _ path: String, body: [UInt8]?, timeout: Duration) async throws(DaemonClient.Error) -> (Int, [UInt8]) {
        try checkReachable()
        do {
            let response = try await HTTPClient.shared.execute(HTTPClientRequest(unixSocket: socket, method, path, json: body), timeout: .nanoseconds(timeout.nanoseconds))
            let bytes = Array(try await response.body.collect(upTo: Self.answerLimit).readableBytesView)
            return (Int(response.status.code), bytes)
        } catch {
            throw .unreachable(socket, Self.reason(error))
        }
    }

    /// A connection failure as the kernel said it (`connect: No such file or directory`).
    static func reason(_ error: any Swift.Error) -> String {
        if let error = error as? IOError { return "connect: \(Errno(rawValue: error.errnoCode))" }
        return "\(error)"
    }

    private func decode<T: Decodable>(_ type: T.Type, _ body: [UInt8], status: Int) throws(DaemonClient.Error) -> T {
        guard (200..<300).contains(status) else { throw refusal(body, status: status) }
        do {
            return try JSONDecoder().decode(T.self, from: Data(body))
        } catch {
            throw .malformed(socket, "\(error)")
        }
    }

    private func refusal(_ body: [UInt8], status: Int) -> DaemonClient.Error {
        // Not a refusal: the body itself is the error reported, as malformed.
        guard let refusal = try? JSONDecoder().decode(DaemonAPI.Refusal.self, from: Data(body)) else {
            return .malformed(socket, "HTTP \(status): \(String(decoding: body.prefix(500), as: UTF8.self))")
        }
        return .refused(refusal, status: status)
    }

    private static func encode(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~:/"))) ?? text
    }
}

extension DaemonClient {
    /// A pause held by an open connection.
    public final class Hold: @unchecked Sendable {
        /// The pause's answer: its results and its lease (nil when it froze nothing).
        public let answer: DaemonAPI.OperationAnswer
        private let client: DaemonClient
        private let http: HTTPClient
        /// The rest of the answer, kept unread: the response, and with it the connection that is
        /// the hold, stays open for as long as this value lives.
        private let lines: LineReader

        init(answer: DaemonAPI.OperationAnswer, client: DaemonClient, http: HTTPClient, lines: LineReader) {
            self.answer = answer
            self.client = client
            self.http = http
            self.lines = lines
        }

        /// Ends the lease and closes the connection: the thaw's results (nil when the lease had
        /// already ended, e.g. someone unpaused its targets).
        public func release() async -> Result<DaemonAPI.OperationAnswer?, DaemonClient.Error> {
            defer { Task { [http] in await DaemonClient.shutDown(http) } }
            guard let lease = answer.lease else { return .success(nil) }
            do {
                return .success(try await client.endLease(lease.id))
            } catch {
                if case .refused(_, let status) = error, status == 404 { return .success(nil) }
                return .failure(error)
            }
        }
    }

    /// Lines of a streamed body.
    struct LineReader {
        private var iterator: HTTPClientResponse.Body.AsyncIterator
        private var buffer: [UInt8] = []

        init(_ iterator: HTTPClientResponse.Body.AsyncIterator) {
            self.iterator = iterator
        }

        /// The next line without its newline; nil at the end.
        mutating func next(limit: Int) async throws -> [UInt8]? {
            while true {
                if let newline = buffer.firstIndex(of: 0x0A) {
                    defer { buffer.removeSubrange(...newline) }
                    return Array(buffer[..<newline])
                }
                guard buffer.count <= limit else { throw DaemonClient.Error.malformed("-", "a line longer than \(limit) bytes") }
                guard let chunk = try await iterator.next() else {
                    defer { buffer = [] }
                    return buffer.isEmpty ? nil : buffer
                }
                buffer += chunk.readableBytesView
            }
        }

        /// Everything left.
        mutating func rest(limit: Int) async throws -> [UInt8] {
            var all: [UInt8] = []
            while let line = try await next(limit: limit) { all += line + [0x0A] }
            return all
        }
    }
}

extension DaemonClient {
    /// Why the daemon could not be asked, or refused.
    public enum Error: ErrorAdvice, Swift.Error {
        /// `--host` or FREEZECTL_HOST is not a unix socket URL.
        case badHost(String)
        /// No daemon answers there.
        case unreachable(FilePath, String)
        /// The daemon refused the request (400, 403, 404, 503, ...); nothing was done.
        case refused(DaemonAPI.Refusal, status: Int)
        /// The answer is not freezectld's.
        case malformed(FilePath, String)
        /// The request could not be written as JSON (a bug): nothing was sent.
        case notEncoded(UnexpectedError)

        public var code: String {
            switch self {
            case .badHost: return "invalid-host"
            case .unreachable: return "daemon-unreachable"
            case .refused(let refusal, _): return refusal.error
            case .malformed: return "daemon-error"
            case .notEncoded(let error): return error.code
            }
        }

        public var message: String {
            switch self {
            case .badHost(let host): return "--host \(host): freezectld is reached on a unix socket: unix:///path"
            case .unreachable(let socket, let reason): return "freezectld at unix://\(socket) cannot be reached: \(reason)"
            case .refused(let refusal, _): return refusal.message
            case .malformed(let socket, let reason): return "freezectld at unix://\(socket) gave an answer that is not the API's: \(reason)"
            case .notEncoded(let error): return "the request was not sent: \(error.message)"
            }
        }

        /// A malformed request or host (HTTP 400): nothing was done (exit 2).
        public var isBadInput: Bool {
            switch self {
            case .badHost: return true
            case .refused(_, let status): return status == 400
            default: return false
            }
        }

        public var advice: String {
            switch self {
            case .badHost: return "give --host unix:///run/freezectl/freezectl.sock (or set FREEZECTL_HOST)"
            case .unreachable: return "start it (sudo freezectld, or systemctl start freezectld.socket; docs/daemon.md), or leave out --host and FREEZECTL_HOST to act directly"
            case .refused(let refusal, let status):
                if status == 403 {
                    return refusal.refused?.first.map { "ask the daemon's administrator for a rule: \($0.ruleNeeded)" }
                        ?? "ask the daemon's administrator for a rule in its policy file (docs/daemon.md)"
                }
                return status == 400 ? "fix the request as the message says" : "see the daemon's log (journalctl -u freezectld)"
            case .malformed: return "check that --host names freezectld's socket, and that the CLI and the daemon are the same version"
            case .notEncoded(let error): return error.advice
            }
        }
    }
}
