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

/// The result of `pause` or `unpause` for one target (docs/json-output.md).
struct OperationReport: Encodable {
    let target: String
    let source: String?
    let id: String?
    let name: String?
    let cgroup: String?
    let backend: String?
    let result: String
    let state: String?
    let durationMS: Double
    let warnings: [String]?
    let health: HealthJSON?
    let error: ErrorReport?

    var failure: ErrorReport? { error }

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

    init(_ batch: BatchResult) {
        target = batch.reference
        source = batch.container?.source.rawValue
        id = batch.container?.id
        name = batch.container?.name
        cgroup = batch.cgroup?.cgroup.path.string
        backend = batch.backend?.rawValue
        result = batch.outcome.rawValue
        state = batch.state?.rawValue
        durationMS = batch.duration.milliseconds
        warnings = batch.warnings.isEmpty ? nil : batch.warnings
        health = batch.health.map { report in
            HealthJSON(status: report.healthy ? "healthy" : "unhealthy", attempts: report.attempts,
                       timeToHealthyMS: report.timeToHealthy?.milliseconds, lastOutput: report.last?.output,
                       reason: report.reason, refrozen: batch.refrozen)
        }
        error = batch.error.map(ErrorReport.init)
    }

    enum CodingKeys: String, CodingKey {
        case target, source, id, name, cgroup, backend, result, state, warnings, health, error
        case durationMS = "duration_ms"
    }
}

/// The state of one target for `status` (docs/json-output.md).
struct StatusReport: Encodable {
    let target: String
    var source: String?
    var id: String?
    var name: String?
    var cgroup: String?
    var backend: String?
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

    var failure: ErrorReport? { error }
    var isContainer: Bool { source != nil }

    init(reference: String, status: FreezerStatus) {
        target = reference
        cgroup = status.target.cgroup.path.string
        backend = status.target.backend.rawValue
        state = status.state.rawValue
        selfState = status.selfFrozen ? "frozen" : "thawed"
        processes = status.processes.count
        pids = status.processes
        unit = status.target.cgroup.systemdUnit
    }

    init(_ status: TargetStatus) {
        if let freezer = status.freezer {
            self = StatusReport(reference: status.reference, status: freezer)
        } else {
            target = status.reference
        }
        engineState = status.engineState
        error = status.error.map(ErrorReport.init)
        guard let container = status.container else { return }
        source = container.source.rawValue
        id = container.id
        name = container.name
        labels = container.labels
        memoryPercent = status.memoryPercent.map { ($0 * 10).rounded() / 10 }
        drift = status.drift
        if status.freezer == nil { state = status.engineState }
    }

    enum CodingKeys: String, CodingKey {
        case target, source, id, name, cgroup, backend, state, processes, pids, labels, drift, unit, error
        case selfState = "self"
        case memoryPercent = "memory_percent"
        case engineState = "engine_state"
    }
}

