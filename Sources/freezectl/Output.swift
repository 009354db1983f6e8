import CgroupFreezer
import Foundation

/// The error part of a JSON report.
struct ErrorReport: Encodable {
    let code: String
    let message: String
    let nextStep: String
    let badInput: Bool

    init(_ error: any Error) {
        if let error = error as? FreezerError {
            code = error.code
            message = error.message
            nextStep = error.nextStep
            badInput = error.isBadInput
        } else if error is CancellationError {
            code = "cancelled"
            message = "cancelled; the cgroup was thawed again"
            nextStep = "run the command again"
            badInput = false
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
    let cgroup: String?
    let backend: String?
    let result: String
    let state: String?
    let durationMS: Double
    let error: ErrorReport?

    var failure: ErrorReport? { error }

    init(spec: TargetSpec, outcome: FreezeOutcome) {
        target = spec.description
        cgroup = outcome.target.cgroup.path.string
        backend = outcome.target.backend.rawValue
        result = outcome.result.rawValue
        state = outcome.state.rawValue
        durationMS = outcome.duration.milliseconds
        error = nil
    }

    init(spec: TargetSpec, target resolved: FreezerTarget?, state: FreezeState?, duration: Duration, error: any Error) {
        target = spec.description
        cgroup = resolved?.cgroup.path.string
        backend = resolved?.backend.rawValue
        result = "error"
        self.state = state?.rawValue
        durationMS = duration.milliseconds
        self.error = ErrorReport(error)
    }

    enum CodingKeys: String, CodingKey {
        case target, cgroup, backend, result, state, error
        case durationMS = "duration_ms"
    }
}

/// The state of one target for `status` (docs/json-output.md).
struct StatusReport: Encodable {
    let target: String
    let cgroup: String?
    let backend: String?
    let state: String?
    let selfState: String?
    let processes: Int?
    let pids: [Int32]?
    let error: ErrorReport?

    var failure: ErrorReport? { error }

    init(spec: TargetSpec, status: FreezerStatus) {
        target = spec.description
        cgroup = status.target.cgroup.path.string
        backend = status.target.backend.rawValue
        state = status.state.rawValue
        selfState = status.selfFrozen ? "frozen" : "thawed"
        processes = status.processes.count
        pids = status.processes
        error = nil
    }

    init(spec: TargetSpec, error: any Error) {
        target = spec.description
        cgroup = nil; backend = nil; state = nil; selfState = nil; processes = nil; pids = nil
        self.error = ErrorReport(error)
    }

    enum CodingKeys: String, CodingKey {
        case target, cgroup, backend, state, processes, pids, error
        case selfState = "self"
    }
}

/// Printing: tables for people, JSON lines for programs, errors always on standard error.
enum Output {
    static func operations(_ reports: [OperationReport], common: CommonOptions, verb: String) {
        for report in reports {
            if let error = report.error { self.error(verb, report.target, error) }
        }
        guard !common.quiet else { return }
        switch common.format {
        case .json:
            reports.forEach(printJSON)
        case .table:
            printTable(
                header: ["TARGET", "CGROUP", "BACKEND", "RESULT", "STATE", "TIME"],
                rows: reports.map { report in
                    [report.target, report.cgroup ?? "-", report.backend ?? "-", report.result,
                     report.state ?? "-", String(format: "%.1fms", report.durationMS)]
                })
        }
    }

    static func statuses(_ reports: [StatusReport], common: CommonOptions) {
        for report in reports {
            if let error = report.error { self.error("status", report.target, error) }
        }
        guard !common.quiet else { return }
        switch common.format {
        case .json:
            reports.forEach(printJSON)
        case .table:
            printTable(
                header: ["TARGET", "CGROUP", "BACKEND", "STATE", "SELF", "PROCS"],
                rows: reports.filter { $0.error == nil }.map { report in
                    [report.target, report.cgroup ?? "-", report.backend ?? "-", report.state ?? "-",
                     report.selfState ?? "-", report.processes.map(String.init) ?? "-"]
                })
        }
    }

    /// 2 when any target was bad input, else 1 when any failed, else 0.
    static func exitCode(_ failures: [ErrorReport?]) -> Int32 {
        if failures.contains(where: { $0?.badInput == true }) { return ExitStatus.badInput }
        if failures.contains(where: { $0 != nil }) { return ExitStatus.failure }
        return ExitStatus.success
    }

    /// `freezectl: VERB [TARGET: ]MESSAGE` and the next step; the target is left out where the message names it.
    static func error(_ verb: String, _ target: String, _ error: ErrorReport) {
        let subject = error.message.contains(target) ? verb : "\(verb) \(target)"
        self.error("\(subject): \(error.message)\n  next step: \(error.nextStep)")
    }

    static func error(_ message: String) {
        FileHandleOutput.standardError("freezectl: \(message)")
    }

    private static func printJSON<T: Encodable>(_ value: T) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        if let data = try? encoder.encode(value) {
            print(String(decoding: data, as: UTF8.self))
        }
    }

    private static func printTable(header: [String], rows: [[String]]) {
        let widths = header.indices.map { column in
            ([header] + rows).map { $0[column].count }.max() ?? 0
        }
        for row in [header] + rows {
            let cells = row.enumerated().map { index, cell in
                index == row.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
            }
            print(cells.joined(separator: "  "))
        }
    }
}

enum FileHandleOutput {
    static func standardError(_ text: String) {
        FileHandle.standardError.write(Data((text.hasSuffix("\n") ? text : text + "\n").utf8))
    }
}

extension Duration {
    var milliseconds: Double {
        Double(components.seconds) * 1000 + Double(components.attoseconds) / 1e15
    }
}
