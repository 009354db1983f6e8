import CgroupFreezer
import FreezectlCLI
import FreezectlReports
import FreezerOperations
import HealthProbes

/// Runs a checkpoint, restore or repair so that SIGINT, SIGTERM and SIGHUP cancel it (the library
/// thaws what it froze), prints its error, and exits 128 + the signal when one came, else 0, 1 or 2.
///
/// `body` returns the health report of the check after the thaw, if one ran: an unhealthy one
/// exits 3 unless `health` says to ignore it.
func runStoppable(_ verb: String, _ subject: String, audit: AuditOptions? = nil, health: HealthCheckOptions? = nil,
                  _ body: @escaping @Sendable () async throws -> HealthReport?) async throws {
    let report: HealthReport?
    do {
        report = try await StopSignals.shared.run(body)
    } catch let error as any FreezectlError {
        Output.error(verb, subject, ErrorReport(error))
        throw ExitCode(StopSignals.shared.exitCode ?? (error.isBadInput ? ExitStatus.badInput : ExitStatus.failure))
    } catch let exit as ExitCode {
        throw ExitCode(StopSignals.shared.exitCode ?? exit.rawValue)
    } catch {
        Output.error(verb, subject, ErrorReport(error))
        throw ExitCode(StopSignals.shared.exitCode ?? ExitStatus.failure)
    }
    if let code = StopSignals.shared.exitCode { throw ExitCode(code) }
    let code = health?.fails(report) == true ? ExitStatus.unhealthy : ExitStatus.success
    let final = audit?.exitCode(code) ?? code
    if final != ExitStatus.success { throw ExitCode(final) }
}
