import CommandSyntax
import FreezectlAPI
import FreezectlCLI
import FreezectlReports
import HealthProbes

extension HealthOptions {
    /// The flags as the daemon's body takes them (and as the library validates them).
    func request() -> DaemonAPI.HealthRequest? {
        guard isAsked else { return nil }
        return DaemonAPI.HealthRequest(
            cmd: healthCmd, http: healthHttp, tcp: healthTcp, execInTarget: healthExecInTarget ? true : nil,
            interval: DurationArgument.text(healthInterval), timeout: DurationArgument.text(healthTimeout), retries: healthRetries,
            startPeriod: DurationArgument.text(healthStartPeriod), waitHealthy: waitHealthy.map(DurationArgument.text),
            onUnhealthy: onUnhealthy.rawValue)
    }

    /// The check asked for, or nil; invalid flags are a usage error (exit 2).
    func check() throws -> HealthCheckOptions? {
        do {
            return try request()?.options()
        } catch {
            throw UsageError(error.description)
        }
    }
}
