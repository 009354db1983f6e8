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
        target = batch.item.reference
        source = batch.item.container?.source.rawValue
        id = batch.item.container?.id
        name = batch.item.container?.name
        cgroup = batch.target?.cgroup.path.string
        backend = batch.backend
        result = batch.result.rawValue
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

    init(reference: String, container status: ContainerStatus) {
        if let freezer = status.freezer {
            self = StatusReport(reference: reference, status: freezer)
        } else {
            target = reference
        }
        let container = status.container
        source = container.source.rawValue
        id = container.id
        name = container.name
        labels = container.labels
        memoryPercent = status.memoryPercent.map { ($0 * 10).rounded() / 10 }
        engineState = container.engineState
        drift = container.engineState == nil ? nil : status.drift
        if status.freezer == nil { state = container.engineState }
    }

    init(reference: String, error: any Error) {
        target = reference
        self.error = ErrorReport(error)
    }

    enum CodingKeys: String, CodingKey {
        case target, source, id, name, cgroup, backend, state, processes, pids, labels, drift, unit, error
        case selfState = "self"
        case memoryPercent = "memory_percent"
        case engineState = "engine_state"
    }
}

/// Printing: tables for people, JSON lines for programs, errors always on standard error.
enum Output {
    static func operations(_ reports: [OperationReport], common: CommonOptions, verb: String) {
        // One line per distinct warning, naming its targets: a --direct batch of 500 containers
        // warns once, not 500 times.
        var warned: [(text: String, targets: [String])] = []
        for report in reports {
            if let error = report.error { self.error(verb, report.target, error) }
            for warning in report.warnings ?? [] {
                if let index = warned.firstIndex(where: { $0.text == warning }) {
                    warned[index].targets.append(report.target)
                } else {
                    warned.append((warning, [report.target]))
                }
            }
        }
        for (text, targets) in warned {
            let named = targets.count <= 3 ? targets.joined(separator: ", ")
                : targets.prefix(3).joined(separator: ", ") + " and \(targets.count - 3) more"
            self.error("warning: \(named): \(text)")
        }
        guard !common.quiet else { return }
        switch common.format {
        case .json:
            reports.forEach(printJSON)
        case .table where reports.contains(where: { $0.health != nil }):
            printTable(
                header: ["TARGET", "CGROUP", "BACKEND", "RESULT", "STATE", "TIME", "HEALTH", "ATTEMPTS", "TO HEALTHY", "LAST PROBE"],
                rows: reports.map { report in
                    [report.target, report.cgroup ?? "-", report.backend ?? "-", report.result,
                     report.state ?? "-", String(format: "%.1fms", report.durationMS),
                     report.health.map { $0.status + ($0.refrozen ? " (refrozen)" : "") } ?? "-",
                     report.health.map { String($0.attempts) } ?? "-",
                     report.health?.timeToHealthyMS.map { String(format: "%.0fms", $0) } ?? "-",
                     report.health?.lastOutput.map { String($0.prefix(60)) } ?? "-"]
                })
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
        case .table where reports.contains(where: \.isContainer):
            printTable(
                header: ["SOURCE", "ID", "NAME", "STATE", "ENGINE", "PROCS", "MEM%", "LABELS"],
                rows: reports.filter { $0.error == nil }.map { report in
                    [report.source ?? "cgroup", report.id.map { String($0.prefix(12)) } ?? "-", report.name ?? report.cgroup ?? "-",
                     report.state ?? "-", (report.engineState ?? "-") + (report.drift == true ? " (drift)" : ""),
                     report.processes.map(String.init) ?? "-", report.memoryPercent.map { String(format: "%.1f", $0) } ?? "-",
                     (report.labels ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")]
                })
        case .table where reports.contains(where: { $0.engineState != nil }):
            printTable(
                header: ["TARGET", "CGROUP", "BACKEND", "STATE", "SELF", "PROCS", "SYSTEMD"],
                rows: reports.filter { $0.error == nil }.map { report in
                    [report.target, report.cgroup ?? "-", report.backend ?? "-", report.state ?? "-",
                     report.selfState ?? "-", report.processes.map(String.init) ?? "-", report.engineState ?? "-"]
                })
        case .table:
            printTable(
                header: ["TARGET", "CGROUP", "BACKEND", "STATE", "SELF", "PROCS"],
                rows: reports.filter { $0.error == nil }.map { report in
                    [report.target, report.cgroup ?? "-", report.backend ?? "-", report.state ?? "-",
                     report.selfState ?? "-", report.processes.map(String.init) ?? "-"]
                })
        }
    }

    /// The tree check: JSON `{root, cgroup, processes, strays: [{pid, command, cgroup}], repaired}`, or a table of strays.
    static func tree(tree: ProcessTree, strays: [ProcessTree.Member], cgroup: FilePath, repaired: Bool, common: CommonOptions) {
        struct Stray: Encodable { let pid: Int32; let command: String; let cgroup: String? }
        struct Report: Encodable { let root: Int32; let cgroup: String; let processes: Int; let strays: [Stray]; let repaired: Bool }
        let list = strays.map { Stray(pid: $0.pid, command: $0.command, cgroup: $0.cgroup?.string) }
        if !repaired {
            for stray in list {
                error("process \(stray.pid) (\(stray.command)) of the tree is outside \(cgroup), in \(stray.cgroup ?? "an invisible cgroup")\n  next step: move it back with --repair (or --repair-tree on checkpoint)")
            }
        }
        guard !common.quiet else { return }
        switch common.format {
        case .json:
            printJSON(Report(root: tree.root, cgroup: cgroup.string, processes: tree.members.count, strays: list, repaired: repaired && !list.isEmpty))
        case .table:
            if list.isEmpty {
                FileHandleOutput.standardOutput("all \(tree.members.count) processes of the tree under \(tree.root) are in \(cgroup)")
            } else {
                FileHandleOutput.standardOutput(repaired ? "moved into \(cgroup):" : "outside \(cgroup):")
                printTable(header: ["PID", "COMMAND", "CGROUP"], rows: list.map { [String($0.pid), String($0.command.prefix(60)), $0.cgroup ?? "-"] })
            }
        }
    }

    /// An empty selection is not an error (docker's `unpause $(docker ps -q ...)` fails there).
    static func noContainersMatched(common: CommonOptions) {
        if common.format == .table && !common.quiet {
            FileHandleOutput.standardOutput("no containers matched")
        } else if !common.quiet {
            FileHandleOutput.standardError("freezectl: no containers matched")
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
            FileHandleOutput.standardOutput(String(decoding: data, as: UTF8.self))
        }
    }

    private static func printTable(header: [String], rows: [[String]]) {
        // Every target failed: the errors on standard error say it all.
        guard !rows.isEmpty else { return }
        let rows = rows.map { $0.map(\.escapingControlCharacters) }
        let widths = header.indices.map { column in
            ([header] + rows).map { $0[column].count }.max() ?? 0
        }
        for row in [header] + rows {
            let cells = row.enumerated().map { index, cell in
                index == row.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
            }
            FileHandleOutput.standardOutput(cells.joined(separator: "  "))
        }
    }
}

/// Standard output and error through write(2). A closed pipe (`freezectl ... | head -1`) or a
/// full disk must never kill or trap freezectl: SIGPIPE is ignored (Freezectl.main) and a failed
/// write is noted once on standard error, if that still works, and changes nothing else.
/// (FileHandle.write traps on EPIPE; print's stdio buffer would hide the failure until exit.)
enum FileHandleOutput {
    private static let failed = Mutex<Set<Int32>>([])

    static func standardOutput(_ text: String) { write(text.hasSuffix("\n") ? text : text + "\n", to: STDOUT_FILENO) }
    static func standardError(_ text: String) { write(text.hasSuffix("\n") ? text : text + "\n", to: STDERR_FILENO) }

    /// Writes `text` as is (no newline added).
    static func write(_ text: String, to fd: Int32) {
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let result = bytes.withUnsafeBytes { Syscall.write(fd, $0) }
            if case .success(let written) = result, written > 0 { bytes = bytes.dropFirst(written); continue }
            let error: Errno
            switch result {
            case .failure(let errno): error = errno
            case .success: error = .ioError
            }
            if failed.withLock({ $0.insert(fd).inserted }), fd != STDERR_FILENO {
                let note = "freezectl: cannot write to standard output (\(error)); the results are in the exit code and the audit trail\n"
                // Nothing is left to tell about a standard error that fails too.
                _ = Array(note.utf8).withUnsafeBytes { Syscall.write(STDERR_FILENO, $0) }
            }
            return
        }
    }
}

extension String {
    /// The text with control characters escaped (`\n`, `\u{1B}`...): a label, a name or a probe's
    /// output comes from a container and must not move the cursor or forge lines of a table.
    var escapingControlCharacters: String {
        guard unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else { return self }
        var escaped = ""
        for scalar in unicodeScalars {
            switch scalar {
            case "\n": escaped += "\\n"
            case "\t": escaped += "\\t"
            case "\r": escaped += "\\r"
            case _ where scalar.properties.generalCategory == .control:
                escaped += "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
            default: escaped.unicodeScalars.append(scalar)
            }
        }
        return escaped
    }
}
