import ContainerRuntimes
import FreezerOperations
import CgroupFreezer
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import SystemPackage
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The error part of a JSON report.
public struct ErrorReport: Codable, Sendable {
    public let code: String
    public let message: String
    public let nextStep: String
    public let badInput: Bool

    public init(_ error: any Error) {
        // A cancellation that reached the CLI without the library's word for it is the same thing.
        let error: any Error = error is CancellationError ? CgroupFreezer.Error.cancelled : error
        if let error = error as? any FreezectlError {
            code = error.code
            message = error.message
            nextStep = error.nextStep
            badInput = error.isBadInput
        } else {
            code = "error"
            message = "\(error)"
            nextStep = "report this as a bug"
            badInput = false
        }
    }

    public enum CodingKeys: String, CodingKey {
        case code, message
        case nextStep = "next_step"
        case badInput = "bad_input"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        code = try container.decode(String.self, forKey: .code)
        message = try container.decode(String.self, forKey: .message)
        nextStep = try container.decodeIfPresent(String.self, forKey: .nextStep) ?? ""
        badInput = try container.decodeIfPresent(Bool.self, forKey: .badInput) ?? false
    }

    /// `bad_input` only when true: the input was wrong and nothing was done (exit code 2).
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(code, forKey: .code)
        try container.encode(message, forKey: .message)
        try container.encode(nextStep, forKey: .nextStep)
        if badInput { try container.encode(true, forKey: .badInput) }
    }
}

/// The columns every per-target report starts with (docs/json-output.md): which target, and
/// where it resolved to. Encoded flat, beside the report's own fields.
public struct TargetIdentity: Codable, Sendable {
    public var target: String
    public var source: String?
    public var id: String?
    public var name: String?
    public var cgroup: String?
    public var backend: String?

    /// The container columns of `container`, if any.
    public mutating func describe(_ container: Container?) {
        source = container?.source.rawValue
        id = container?.id
        name = container?.name
    }
}

/// The result of `pause` or `unpause` for one target (docs/json-output.md).
@dynamicMemberLookup
public struct OperationReport: Codable, Sendable {
    public var identity: TargetIdentity
    public var outcome: Outcome

    /// What happened to it.
    public struct Outcome: Codable, Sendable {
        public let result: String
        public let state: String?
        public let durationMS: Double
        public let warnings: [String]?
        public let health: HealthJSON?
        public let memory: MemoryJSON?
        public let error: ErrorReport?

        public enum CodingKeys: String, CodingKey {
            case result, state, warnings, health, memory, error
            case durationMS = "duration_ms"
        }
    }

    /// What `--reclaim` or `--prefetch` did (bytes as the kernel counts them: the tree's Pss and
    /// SwapPss, before and after).
    public struct MemoryJSON: Codable, Sendable {
        public let residentBefore: UInt64
        public let swappedBefore: UInt64
        public let residentAfter: UInt64
        public let swappedAfter: UInt64
        public let advised: UInt64
        public let cgroupReclaim: UInt64?
        public let processes: Int
        public let totalProcesses: Int
        public let durationMS: Double
        public let complete: Bool
        public let warning: String?
        public let error: ErrorReport?

        public enum CodingKeys: String, CodingKey {
            case advised, processes, complete, warning, error
            case residentBefore = "resident_before"
            case swappedBefore = "swapped_before"
            case residentAfter = "resident_after"
            case swappedAfter = "swapped_after"
            case cgroupReclaim = "cgroup_reclaim"
            case totalProcesses = "total_processes"
            case durationMS = "duration_ms"
        }

        public init(_ report: MemoryReport) {
            residentBefore = report.residentBefore
            swappedBefore = report.swappedBefore
            residentAfter = report.residentAfter
            swappedAfter = report.swappedAfter
            advised = report.advised
            cgroupReclaim = report.cgroupReclaim == 0 ? nil : report.cgroupReclaim
            processes = report.processes
            totalProcesses = report.total
            durationMS = report.duration.milliseconds
            complete = report.complete
            warning = report.warning
            error = report.error.map(ErrorReport.init)
        }
    }

    /// The health check part of a report.
    public struct HealthJSON: Codable, Sendable {
        public let status: String
        public let attempts: Int
        public let timeToHealthyMS: Double?
        public let lastOutput: String?
        public let reason: String?
        public let refrozen: Bool

        public enum CodingKeys: String, CodingKey {
            case status, attempts, reason, refrozen
            case timeToHealthyMS = "time_to_healthy_ms"
            case lastOutput = "last_output"
        }
    }

    public subscript<T>(dynamicMember keyPath: KeyPath<TargetIdentity, T>) -> T { identity[keyPath: keyPath] }
    public subscript<T>(dynamicMember keyPath: KeyPath<Outcome, T>) -> T { outcome[keyPath: keyPath] }

    public var failure: ErrorReport? { outcome.error }

    public init(_ batch: BatchResult) {
        identity = TargetIdentity(target: batch.reference, cgroup: batch.cgroup?.cgroup.path.string, backend: batch.backend?.rawValue)
        identity.describe(batch.container)
        outcome = Outcome(
            result: batch.outcome.rawValue, state: batch.state?.rawValue, durationMS: batch.duration.milliseconds,
            warnings: batch.warnings.isEmpty ? nil : batch.warnings,
            health: batch.health.map { report in
                HealthJSON(status: report.healthy ? "healthy" : "unhealthy", attempts: report.attempts,
                           timeToHealthyMS: report.timeToHealthy?.milliseconds, lastOutput: report.last?.output,
                           reason: report.reason, refrozen: batch.refrozen)
            },
            memory: batch.memory.map(MemoryJSON.init),
            error: batch.error.map(ErrorReport.init))
    }

    public func encode(to encoder: any Encoder) throws {
        try identity.encode(to: encoder)
        try outcome.encode(to: encoder)
    }

    /// The flat object again (what the daemon sends to the CLI's `--host`).
    public init(from decoder: any Decoder) throws {
        identity = try TargetIdentity(from: decoder)
        outcome = try Outcome(from: decoder)
    }
}

/// An idle freeze in a status (JSON `idle`): `{"since": "2026-12-07T20:51:03Z", "wake":
/// "traffic", "rule": "labels"}`.
public struct IdleReport: Codable, Sendable, Equatable {
    /// RFC 3339.
    public var since: String
    /// `traffic` or `api`.
    public var wake: String
    /// The idle rule (`idle rule 2`) or `labels`.
    public var rule: String

    init(_ freeze: IdleFreeze) {
        since = Date.ISO8601FormatStyle().format(Date(timeIntervalSince1970: freeze.since))
        wake = freeze.wake
        rule = freeze.origin
    }
}

/// The state of one target for `status` (docs/json-output.md).
@dynamicMemberLookup
public struct StatusReport: Codable, Sendable {
    public var identity: TargetIdentity
    public var details = Details()

    /// What the freezer, and the engine or systemd, say.
    public struct Details: Codable, Sendable {
        public var state: String?
        public var selfState: String?
        public var processes: Int?
        public var pids: [Int32]?
        public var memoryPercent: Double?
        /// Bytes of the processes' memory that are resident and swapped (their Pss and SwapPss).
        public var resident: UInt64?
        public var swapped: UInt64?
        public var labels: [String: String]?
        public var engineState: String?
        public var drift: Bool?
        public var unit: String?
        /// freezectld's idle controller holds it frozen: since when, what wakes it, and why.
        public var idle: IdleReport?
        public var error: ErrorReport?

        public enum CodingKeys: String, CodingKey {
            case state, processes, pids, resident, swapped, labels, drift, unit, idle, error
            case selfState = "self"
            case memoryPercent = "memory_percent"
            case engineState = "engine_state"
        }
    }

    public subscript<T>(dynamicMember keyPath: KeyPath<TargetIdentity, T>) -> T { identity[keyPath: keyPath] }
    public subscript<T>(dynamicMember keyPath: KeyPath<Details, T>) -> T { details[keyPath: keyPath] }

    public var failure: ErrorReport? { details.error }
    public var isContainer: Bool { identity.source != nil }

    public init(reference: String, status: FreezerStatus) {
        identity = TargetIdentity(target: reference, cgroup: status.target.cgroup.path.string, backend: status.target.backend.rawValue)
        details = Details(state: status.state.rawValue, selfState: status.selfFrozen ? "frozen" : "thawed",
                          processes: status.processes.count, pids: status.processes, unit: status.target.cgroup.systemdUnit)
    }

    public init(_ status: TargetStatus) {
        if let freezer = status.freezer {
            self = StatusReport(reference: status.reference, status: freezer)
        } else {
            identity = TargetIdentity(target: status.reference)
        }
        details.engineState = status.engineState
        details.resident = status.resident
        details.swapped = status.swapped
        details.idle = status.idleFreeze.map(IdleReport.init)
        details.error = status.error.map(ErrorReport.init)
        guard let container = status.container else { return }
        identity.describe(container)
        details.labels = container.labels
        details.memoryPercent = status.memoryPercent.map { ($0 * 10).rounded() / 10 }
        details.drift = status.drift
        if status.freezer == nil { details.state = status.engineState }
    }

    public func encode(to encoder: any Encoder) throws {
        try identity.encode(to: encoder)
        try details.encode(to: encoder)
    }

    /// The flat object again (what the daemon sends to the CLI's `--host`).
    public init(from decoder: any Decoder) throws {
        identity = try TargetIdentity(from: decoder)
        details = try Details(from: decoder)
    }
}
