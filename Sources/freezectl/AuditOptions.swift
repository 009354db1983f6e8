import ContainerEngines
import HealthProbes
import FreezerOperations
import CRIUCheckpoint
import ArgumentParser
import CgroupFreezer
import Foundation
import SystemPackage
import Synchronization

/// Where state-changing commands leave their audit records.
struct AuditOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Also append audit records to FILE as JSON lines (default: FREEZECTL_AUDIT_LOG). The journal gets them whenever its socket exists.", valueName: "file"))
    var auditLog: String?

    @Flag(name: .long, help: "Refuse to act when no audit record can be written.")
    var auditRequired = false

    /// The trail: the journal when its socket exists, the JSON-lines file when given. Sink failures go to stderr.
    func trail() throws -> AuditTrail {
        var sinks: [any AuditSink] = []
        let file = auditLog ?? ProcessInfo.processInfo.environment["FREEZECTL_AUDIT_LOG"]
        if JournalSink.isAvailable {
            // The socket is there; the sink also needs libsystemd, which is loaded only on first use.
            if let problem = JournalSink.unusability {
                if auditRequired { throw problem }
                FileHandleOutput.standardError("freezectl: \(problem.message)")
            } else {
                sinks.append(JournalSink())
            }
        } else if file != nil || auditRequired {
            FileHandleOutput.standardError("freezectl: audit: the journal was not reached (no \(JournalSink.socket))")
        }
        if let file, !file.isEmpty {
            // Opened once up front: a file that cannot be written is found before anything is done.
            let sink = JSONLinesSink(path: FilePath(file))
            if let problem = sink.checkWritable() {
                if auditRequired { throw problem }
                FileHandleOutput.standardError("freezectl: \(problem.message)")
            } else {
                sinks.append(sink)
            }
        }
        if auditRequired && sinks.isEmpty {
            throw FreezerError.auditUnavailable("no journal socket at \(JournalSink.socket) and no --audit-log")
        }
        return AuditTrail(sinks: sinks) { error in
            AuditFailures.count.withLock { $0 += 1 }
            FileHandleOutput.standardError("freezectl: \(error.message)\n  next step: \(error.nextStep)")
        }
    }

    /// The exit code once the work is done: with --audit-required, a record that could not be
    /// written fails the run (1) even when every target succeeded.
    func exitCode(_ code: Int32) -> Int32 {
        guard auditRequired, code == ExitStatus.success || code == ExitStatus.unhealthy,
              AuditFailures.count.withLock({ $0 }) > 0 else { return code }
        FileHandleOutput.standardError("freezectl: --audit-required: some audit records could not be written (see above)")
        return ExitStatus.failure
    }
}

/// Audit records of this run that no sink took.
enum AuditFailures {
    static let count = Mutex(0)
}

extension AuditOptions {
    /// The trail, or exit 1 with the reason (only `--audit-required` or an unusable log make it fail).
    func trailOrExit() throws -> AuditTrail {
        do {
            return try trail()
        } catch let error as FreezerError {
            Output.error(error.description)
            throw ExitCode(ExitStatus.failure)
        }
    }
}
