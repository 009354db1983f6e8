import Foundation
import FreezectlReports
import FreezerOperations
import HealthProbes

/// The bodies of freezectld's API v1 (docs/api.yaml), shared by the daemon that writes them and
/// the clients that read them (the CLI's `--host`): one definition of the wire format.
public enum DaemonAPI {
    /// A pause or unpause request.
    public struct OperationRequest: Codable, Sendable {
        public var targets: [String]?
        public var all: Bool?
        public var filters: [String]?
        /// containerd's namespaces searched (the CLI's `--namespace`); nil: all but Docker's.
        public var namespaces: [String]?
        public var timeout: String?
        public var atomic: Bool?
        public var direct: Bool?
        public var parallel: Int?
        /// Pause for this long (a lease that thaws on its own).
        public var duration: String?
        /// Pause for as long as this connection stays open.
        public var hold: Bool?
        /// Unpause only: probe each target after its thaw.
        public var health: HealthRequest?
        /// Pause only: push each target's memory out once it is frozen (the deep pause).
        public var reclaim: Bool?
        /// Unpause, or a pause with `for` or `hold`: bring each target's memory back before its thaw.
        public var prefetch: Bool?

        public init(targets: [String]? = nil, all: Bool? = nil, filters: [String]? = nil, namespaces: [String]? = nil, timeout: String? = nil,
                    atomic: Bool? = nil, direct: Bool? = nil, parallel: Int? = nil, duration: String? = nil, hold: Bool? = nil,
                    health: HealthRequest? = nil, reclaim: Bool? = nil, prefetch: Bool? = nil) {
            self.targets = targets
            self.all = all
            self.filters = filters
            self.namespaces = namespaces
            self.timeout = timeout
            self.atomic = atomic
            self.direct = direct
            self.parallel = parallel
            self.duration = duration
            self.hold = hold
            self.health = health
            self.reclaim = reclaim
            self.prefetch = prefetch
        }

        public enum CodingKeys: String, CodingKey {
            case targets, all, filters, namespaces, timeout, atomic, direct, parallel, hold, health, reclaim, prefetch
            case duration = "for"
        }
    }

    /// The answer to a pause or unpause: one CLI result per target, the overall status, what
    /// `all` or a filter picked that the caller may not touch, and the lease that ends the pause.
    public struct OperationAnswer: Codable, Sendable {
        public var status: String
        public var results: [OperationReport]
        public var skipped: [String]?
        public var lease: LeaseReport?

        public init(results: [OperationReport], skipped: [String]? = nil, lease: LeaseReport? = nil) {
            status = results.contains { $0.failure != nil } ? "partial" : "ok"
            self.results = results
            self.skipped = skipped
            self.lease = lease
        }

        /// Whether some target failed (HTTP 207).
        public var isPartial: Bool { status == "partial" }
    }

    /// A request refused before anything was done (400, 403, 404, 500, 503).
    public struct Refusal: Codable, Sendable, Error {
        public var error: String
        public var message: String
        public var refused: [Refused]?

        public init(error: String, message: String, refused: [Refused]? = nil) {
            self.error = error
            self.message = message
            self.refused = refused
        }
    }

    /// A named target the policy refuses, and the rule that would allow it.
    public struct Refused: Codable, Sendable {
        public var target: String
        public var action: String
        public var ruleNeeded: String

        public init(target: String, action: String, ruleNeeded: String) {
            self.target = target
            self.action = action
            self.ruleNeeded = ruleNeeded
        }

        public enum CodingKeys: String, CodingKey {
            case target, action
            case ruleNeeded = "rule_needed"
        }
    }

    /// A lease as the API shows it.
    public struct LeaseReport: Codable, Sendable {
        public var id: String
        public var kind: String
        public var created: String
        public var expires: String?
        public var holderPID: Int32?
        public var uid: UInt32
        public var user: String?
        public var targets: [String]

        public init(id: String, kind: String, created: String, expires: String?, holderPID: Int32?, uid: UInt32,
                    user: String?, targets: [String]) {
            self.id = id
            self.kind = kind
            self.created = created
            self.expires = expires
            self.holderPID = holderPID
            self.uid = uid
            self.user = user
            self.targets = targets
        }

        public enum CodingKeys: String, CodingKey {
            case id, kind, created, expires, uid, user, targets
            case holderPID = "holder_pid"
        }
    }

    /// The last line of a hold's answer, when the lease ended other than by the connection closing.
    public struct LeaseEnded: Codable, Sendable {
        public var lease: String
        public var ended: String

        public init(lease: String, ended: String) {
            self.lease = lease
            self.ended = ended
        }
    }
}

extension DaemonAPI {
    /// `unpause`'s health check, as the CLI's `--health-*` flags say it (durations as text).
    public struct HealthRequest: Codable, Sendable {
        public var cmd: String?
        public var http: String?
        public var tcp: String?
        public var execInTarget: Bool?
        public var interval: String?
        public var timeout: String?
        public var retries: Int?
        public var startPeriod: String?
        public var waitHealthy: String?
        public var onUnhealthy: String?

        public init(cmd: String? = nil, http: String? = nil, tcp: String? = nil, execInTarget: Bool? = nil,
                    interval: String? = nil, timeout: String? = nil, retries: Int? = nil, startPeriod: String? = nil,
                    waitHealthy: String? = nil, onUnhealthy: String? = nil) {
            self.cmd = cmd
            self.http = http
            self.tcp = tcp
            self.execInTarget = execInTarget
            self.interval = interval
            self.timeout = timeout
            self.retries = retries
            self.startPeriod = startPeriod
            self.waitHealthy = waitHealthy
            self.onUnhealthy = onUnhealthy
        }

        public enum CodingKeys: String, CodingKey {
            case cmd, http, tcp, interval, timeout, retries
            case execInTarget = "exec_in_target"
            case startPeriod = "start_period"
            case waitHealthy = "wait_healthy"
            case onUnhealthy = "on_unhealthy"
        }

        /// The check, validated: the one converter for the CLI's flags and the daemon's bodies.
        /// Errors name the CLI's flag (`--health-tcp`), which is also the body's field.
        public func options() throws(ArgumentError) -> HealthCheckOptions? {
            guard [cmd, http, tcp].compactMap({ $0 }).count <= 1 else {
                throw ArgumentError("give one probe: --health-cmd, --health-http or --health-tcp")
            }
            if execInTarget == true && cmd == nil { throw ArgumentError("--health-exec-in-target needs --health-cmd") }
            let probe: HealthProbe
            if let cmd {
                probe = .exec(command: cmd, inTarget: execInTarget == true)
            } else if let url = http {
                guard url.hasPrefix("http://") || url.hasPrefix("https://"), URL(string: url)?.host != nil else {
                    throw ArgumentError("--health-http \"\(url)\" is not an http:// or https:// URL with a host")
                }
                probe = .http(url: url)
            } else if let tcp {
                guard let colon = tcp.lastIndex(of: ":"), let port = Int(tcp[tcp.index(after: colon)...]),
                      (1...65535).contains(port), colon != tcp.startIndex else {
                    throw ArgumentError("--health-tcp \"\(tcp)\" is not HOST:PORT (e.g. 127.0.0.1:8080)")
                }
                probe = .tcp(host: String(tcp[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]")), port: port)
            } else {
                return nil
            }
            let retries = self.retries ?? 3
            guard (1...1000).contains(retries) else { throw ArgumentError("--health-retries must be from 1 to 1000, got \(retries)") }
            var onUnhealthy = UnhealthyAction.fail
            if let text = self.onUnhealthy {
                guard let action = UnhealthyAction(rawValue: text) else {
                    throw ArgumentError("--on-unhealthy \"\(text)\" is not one of \(UnhealthyAction.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                onUnhealthy = action
            }
            func duration(_ text: String?, _ option: String, allowZero: Bool = false) throws(ArgumentError) -> Duration? {
                guard let text else { return nil }
                return try DurationArgument.parse(text, option: option, allowZero: allowZero)
            }
            let policy = HealthPolicy(
                interval: try duration(interval, "--health-interval") ?? .seconds(1),
                timeout: try duration(timeout, "--health-timeout") ?? .seconds(1),
                retries: retries,
                startPeriod: try duration(startPeriod, "--health-start-period", allowZero: true) ?? .zero,
                deadline: try duration(waitHealthy, "--wait-healthy"))
            return HealthCheckOptions(probe: probe, policy: policy, onUnhealthy: onUnhealthy)
        }
    }
}

extension DurationArgument {
    /// `duration` as this parser reads it back exactly (microseconds, the finest unit).
    public static func text(_ duration: Duration) -> String {
        "\(duration.components.seconds * 1_000_000 + duration.components.attoseconds / 1_000_000_000_000)us"
    }
}
