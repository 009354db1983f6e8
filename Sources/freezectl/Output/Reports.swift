import ContainerEngines
import HealthProbes
import FreezerOperations
import CRIUCheckpoint
import CgroupFreezer
import Foundation
import SystemPackage
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The error part of a JSON report.
struct ErrorReport: Encodable {
    let code: String
    let message: String
    let nextStep: String
    let badInput: Bool

    init(_ error: any Error) {
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

    enum CodingKeys: String, CodingKey {
        case code, message
        case nextStep = "next_step"
    }
}

/// The columns every per-target report starts with (docs/json-output.md): which target, and
/// where it resolved to. Encoded flat, beside the report's own fields.
struct TargetIdentity: Encodable {
    var target: String
    var source: String?
    var id: String?
    var name: String?
    var cgroup: String?
    var backend: String?

    /// The container columns of `container`, if any.
    mutating func describe(_ container: Container?) {
        source = container?.source.rawValue
        id = container?.id
        name = container?.name
    }
}

/// The result of `pause` or `unpause` for one target (docs/json-output.md).
@dynamicMemberLookup
struct OperationReport: Encodable {
    var identity: TargetIdentity
    var outcome: Outcome

    /// What happened to it.
    struct Outcome: Encodable {
        let result: String
        let state: String?
        let durationMS: Double
        let warnings: [String]?
        let health: HealthJSON?
        let error: ErrorReport?

        enum CodingKeys: String, CodingKey {
            case result, state, warnings, health, error
            case durationMS = "duration_ms"
        }
    }

    /// The health check part of a report.
    struct HealthJSON: Encodable {
        let status: String
        let attempts: Int
        let timeToHealthyMS: Double?
        let lastOutput: String?
        let reason: String?
        let refrozen: Bool

        enum CodingKeys: String, CodingKey {
            case status, attempts, reason, refrozen
            case timeToHealthyMS = "time_to_healthy_ms"
            case lastOutput = "last_output"
        }
    }

    subscript<T>(dynamicMember keyPath: KeyPath<TargetIdentity, T>) -> T { identity[keyPath: keyPath] }
    subscript<T>(dynamicMember keyPath: KeyPath<Outcome, T>) -> T { outcome[keyPath: keyPath] }

    var failure: ErrorReport? { outcome.error }

    init(_ batch: BatchResult) {
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
            error: batch.error.map(ErrorReport.init))
    }

    func encode(to encoder: any Encoder) throws {
        try identity.encode(to: encoder)
        try outcome.encode(to: encoder)
    }
}

/// The state of one target for `status` (docs/json-output.md).
@dynamicMemberLookup
struct StatusReport: Encodable {
    var identity: TargetIdentity
    var details = Details()

    /// What the freezer, and the engine or systemd, say.
    struct Details: Encodable {
        var state: String?
        var selfState: String?
        var processes: Int?
        var pids: [Int32]?
        var memoryPercent: Double?
        var labels: [String: String]?
        var engineState: String?
        var drift: Bool?
        var unit: String?
        var error: ErrorReport?

        enum CodingKeys: String, CodingKey {
            case state, processes, pids, labels, drift, unit, error
            case selfState = "self"
            case memoryPercent = "memory_percent"
            case engineState = "engine_state"
        }
    }

    subscript<T>(dynamicMember keyPath: KeyPath<TargetIdentity, T>) -> T { identity[keyPath: keyPath] }
    subscript<T>(dynamicMember keyPath: KeyPath<Details, T>) -> T { details[keyPath: keyPath] }

    var failure: ErrorReport? { details.error }
    var isContainer: Bool { identity.source != nil }

    init(reference: String, status: FreezerStatus) {
        identity = TargetIdentity(target: reference, cgroup: status.target.cgroup.path.string, backend: status.target.backend.rawValue)
        details = Details(state: status.state.rawValue, selfState: status.selfFrozen ? "frozen" : "thawed",
                          processes: status.processes.count, pids: status.processes, unit: status.target.cgroup.systemdUnit)
    }

    init(_ status: TargetStatus) {
        if let freezer = status.freezer {
            self = StatusReport(reference: status.reference, status: freezer)
        } else {
            identity = TargetIdentity(target: status.reference)
        }
        details.engineState = status.engineState
        details.error = status.error.map(ErrorReport.init)
        guard let container = status.container else { return }
        identity.describe(container)
        details.labels = container.labels
        details.memoryPercent = status.memoryPercent.map { ($0 * 10).rounded() / 10 }
        details.drift = status.drift
        if status.freezer == nil { details.state = status.engineState }
    }

    func encode(to encoder: any Encoder) throws {
        try identity.encode(to: encoder)
        try details.encode(to: encoder)
    }
}
