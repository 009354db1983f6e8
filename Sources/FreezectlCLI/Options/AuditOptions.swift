import CommandSyntax
import FreezectlReports
import CgroupFreezer
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import SystemPackage
import Synchronization

/// Where state-changing commands leave their audit records.
package struct AuditOptions: Sendable {
    package static let spec = OptionGroupSpec(title: "Audit", [
        .option("audit-log", value: "file", "Also append audit records to FILE as JSON lines (default: FREEZECTL_AUDIT_LOG). The journal gets them whenever its socket exists."),
        .flag("audit-required", "Refuse to act when no audit record can be written."),
    ])

    package var auditLog: String?
    package var auditRequired = false

    package init(_ line: ParsedLine) {
        auditLog = line.value("audit-log")
        auditRequired = line.flag("audit-required")
    }

    /// The trail (AuditTrail.standard), or exit 1 with the reason: only `--audit-required` or an
    /// unusable log make it fail. Sink problems and failures go to standard error.
    package func trail() throws -> AuditTrail {
        let file = auditLog ?? Syscall.environment("FREEZECTL_AUDIT_LOG")
        do {
            return try AuditTrail.standard(file: file.map { FilePath($0) }, required: auditRequired, warn: { problem in
                Output.error(problem.message)
            }, onFailure: { error in
                AuditFailures.count.withLock { $0 += 1 }
                Output.error("\(error.message)\n  next step: \(error.nextStep)")
            })
        } catch {
            Output.error(error.withNextStep)
            throw ExitCode(ExitStatus.failure)
        }
    }

    /// The exit code once the work is done: with --audit-required, a record that could not be
    /// written fails the run (1) even when every target succeeded.
    package func exitCode(_ code: Int32) -> Int32 {
        guard auditRequired, code == ExitStatus.success || code == ExitStatus.unhealthy,
              AuditFailures.count.withLock({ $0 }) > 0 else { return code }
        Output.error("--audit-required: some audit records could not be written (see above)")
        return ExitStatus.failure
    }
}

/// Audit records of this run that no sink took.
package enum AuditFailures {
    package static let count = Mutex(0)
}
