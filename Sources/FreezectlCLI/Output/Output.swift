import FreezectlReports
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

/// Printing: tables for people, JSON lines for programs, errors always on standard error.
package enum Output {
    package static func operations(_ reports: [OperationReport], common: CommonOptions, verb: String) {
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
        case .table:
            // The health check's and the memory's columns only when some target has them.
            let health = reports.contains { $0.health != nil }
            let memory = reports.contains { $0.memory != nil }
            var header = ["TARGET", "CGROUP", "BACKEND", "RESULT", "STATE", "TIME"]
            if health { header += ["HEALTH", "ATTEMPTS", "TO HEALTHY", "LAST PROBE"] }
            if memory { header += ["RESIDENT", "SWAPPED", "MEMORY TIME"] }
            printTable(header: header, rows: reports.map { report in
                var row = [report.target, report.cgroup ?? "-", report.backend ?? "-", report.result,
                           report.state ?? "-", String(report.durationMS, decimals: 1) + "ms"]
                if health {
                    row += [report.health.map { $0.status + ($0.refrozen ? " (refrozen)" : "") } ?? "-",
                            report.health.map { String($0.attempts) } ?? "-",
                            report.health?.timeToHealthyMS.map { String($0, decimals: 0) + "ms" } ?? "-",
                            report.health?.lastOutput.map { String($0.prefix(60)) } ?? "-"]
                }
                if memory {
                    row += [report.memory.map { String(bytes: $0.residentBefore) + " -> " + String(bytes: $0.residentAfter) } ?? "-",
                            report.memory.map { String(bytes: $0.swappedAfter) } ?? "-",
                            report.memory.map { String($0.durationMS, decimals: 1) + "ms" } ?? "-"]
                }
                return row
            })
        }
    }

    package static func statuses(_ reports: [StatusReport], common: CommonOptions) {
        for report in reports {
            if let error = report.error { self.error("status", report.target, error) }
        }
        guard !common.quiet else { return }
        switch common.format {
        case .json:
            reports.forEach(printJSON)
        case .table where reports.contains(where: \.isContainer):
            printTable(
                header: ["SOURCE", "ID", "NAME", "STATE", "ENGINE", "PROCS", "MEM%", "RESIDENT", "SWAPPED", "LABELS"],
                rows: reports.filter { $0.error == nil }.map { report in
                    [report.source ?? "cgroup", report.id.map { String($0.prefix(12)) } ?? "-", report.name ?? report.cgroup ?? "-",
                     report.shownState, (report.engineState ?? "-") + (report.drift == true ? " (drift)" : ""),
                     report.processes.map(String.init) ?? "-", report.memoryPercent.map { String($0, decimals: 1) } ?? "-",
                     report.resident.map { String(bytes: $0) } ?? "-", report.swapped.map { String(bytes: $0) } ?? "-",
                     (report.labels ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")]
                })
        case .table:
            // systemd's own view only when some target is a unit.
            let systemd = reports.contains { $0.engineState != nil }
            printTable(
                header: ["TARGET", "CGROUP", "BACKEND", "STATE", "SELF", "PROCS", "RESIDENT", "SWAPPED"] + (systemd ? ["SYSTEMD"] : []),
                rows: reports.filter { $0.error == nil }.map { report in
                    [report.target, report.cgroup ?? "-", report.backend ?? "-", report.shownState,
                     report.selfState ?? "-", report.processes.map(String.init) ?? "-",
                     report.resident.map { String(bytes: $0) } ?? "-", report.swapped.map { String(bytes: $0) } ?? "-"]
                        + (systemd ? [report.engineState ?? "-"] : [])
                })
        }
    }

    /// An empty selection is not an error (docker's `unpause $(docker ps -q ...)` fails there).
    package static func noContainersMatched(common: CommonOptions) {
        if common.format == .table && !common.quiet {
            FileHandleOutput.standardOutput("no containers matched")
        } else if !common.quiet {
            FileHandleOutput.standardError("freezectl: no containers matched")
        }
    }

    /// 2 when any target was bad input, else 1 when any failed, else 0.
    package static func exitCode(_ failures: [ErrorReport?]) -> Int32 {
        if failures.contains(where: { $0?.badInput == true }) { return ExitStatus.badInput }
        if failures.contains(where: { $0 != nil }) { return ExitStatus.failure }
        return ExitStatus.success
    }

    /// `freezectl: VERB [TARGET: ]MESSAGE` and the next step; the target is left out where the message names it.
    package static func error(_ verb: String, _ target: String, _ error: ErrorReport) {
        let subject = error.message.contains(target) ? verb : "\(verb) \(target)"
        self.error("\(subject): \(error.message)\n  next step: \(error.nextStep)")
    }

    /// A usage error found after parsing: said on standard error, exit 2, nothing done.
    package static func usageError(_ message: String) -> ExitCode {
        error(message)
        return ExitCode(ExitStatus.badInput)
    }

    package static func error(_ message: String) {
        FileHandleOutput.standardError("freezectl: \(message)")
    }

    /// One JSON object on one line, keys sorted (docs/json-output.md).
    package static func printJSON<T: Encodable>(_ value: T) {
        FileHandleOutput.standardOutput(JSONLine.string(value))
    }

    package static func printTable(header: [String], rows: [[String]]) {
        // Every target failed: the errors on standard error say it all.
        guard !rows.isEmpty else { return }
        let rows = rows.map { $0.map(\.escapingControlCharacters) }
        let widths = header.indices.map { column in
            ([header] + rows).map { $0[column].count }.max() ?? 0
        }
        for row in [header] + rows {
            let cells = row.enumerated().map { index, cell in
                index == row.count - 1 ? cell : cell.padded(to: widths[index])
            }
            FileHandleOutput.standardOutput(cells.joined(separator: "  "))
        }
    }
}

extension StatusReport {
    /// STATE in a table: the effective state, or `idle-frozen (traffic, since 20:51:03Z)` for a
    /// target freezectld's idle controller holds (JSON keeps `state` and adds `idle`).
    var shownState: String {
        guard let idle = details.idle else { return details.state ?? "-" }
        let time = idle.since.split(separator: "T").last.map(String.init) ?? idle.since
        return "idle-frozen (\(idle.wake), since \(time))"
    }
}
