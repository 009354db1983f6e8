import CommandSyntax
import CgroupFreezer
import FreezectlReports
import FreezerOperations

/// `unpause --health-*`: probe each target right after its thaw is confirmed.
package struct HealthOptions: Sendable {
    package static let spec = OptionGroupSpec(title: "Health check after the thaw", [
        .option("health-cmd", value: "cmd", "Probe: run CMD with /bin/sh -c on the host, as the caller; exit 0 is healthy. It gets FREEZECTL_TARGET, FREEZECTL_CGROUP and FREEZECTL_PID."),
        .option("health-http", value: "url", "Probe: GET URL; a status from 200 to 399 is healthy."),
        .option("health-tcp", value: "host:port", "Probe: a TCP connection to HOST:PORT succeeds."),
        .flag("health-exec-in-target", "Run --health-cmd inside the target with its powers and no more: docker exec for Docker, runc/crun exec for their containers, else the target process's cgroups, namespaces, ids, capabilities and no_new_privs. Its environment is FREEZECTL_* and a fixed PATH."),
        .option("health-interval", value: "duration", "Time between probes, 1us to 24h. (default: 1s)"),
        .option("health-timeout", value: "duration", "Bound of one probe, 1us to 24h; an exec probe that overruns is killed with its process group. (default: 1s)"),
        .option("health-retries", value: "n", "Consecutive failures before a target is unhealthy. (default: \(defaultRetries))"),
        .option("health-start-period", value: "duration", "Failures during this time after the thaw do not count; a success ends it. 0s to 24h. (default: 0s)"),
        .option("wait-healthy", value: "deadline", "Overall bound of the health check per target, 1us to 24h."),
        .option("on-unhealthy", value: "action", "What to do with an unhealthy target: fail (exit 3), refreeze (freeze it again if this call thawed it; exit 3) or ignore (report only). (default: fail)"),
    ])

    /// The defaults of --health-interval, --health-timeout and --health-retries.
    package static let defaultInterval: Duration = .seconds(1)
    package static let defaultTimeout: Duration = .seconds(1)
    package static let defaultRetries = 3

    package var healthCmd: String?
    package var healthHttp: String?
    package var healthTcp: String?
    package var healthExecInTarget = false
    package var healthInterval = defaultInterval
    package var healthTimeout = defaultTimeout
    package var healthRetries = defaultRetries
    package var healthStartPeriod: Duration = .zero
    package var waitHealthy: Duration?
    package var onUnhealthy: UnhealthyAction = .fail

    package init(_ line: ParsedLine) throws {
        healthCmd = line.value("health-cmd")
        healthHttp = line.value("health-http")
        healthTcp = line.value("health-tcp")
        healthExecInTarget = line.flag("health-exec-in-target")
        healthInterval = try line.value("health-interval", default: Self.defaultInterval) { try parseDuration($0, option: "--health-interval") }
        healthTimeout = try line.value("health-timeout", default: Self.defaultTimeout) { try parseDuration($0, option: "--health-timeout") }
        healthRetries = try line.integer("health-retries") ?? Self.defaultRetries
        healthStartPeriod = try line.value("health-start-period", default: .zero) { try parseDuration($0, option: "--health-start-period", allowZero: true) }
        waitHealthy = try line.value("wait-healthy", default: nil) { try parseDuration($0, option: "--wait-healthy") }
        onUnhealthy = try line.choice("on-unhealthy", default: .fail)
    }

    /// Whether a check is asked for (freezectl-engines runs it: it links the probes).
    package var isAsked: Bool { healthCmd != nil || healthHttp != nil || healthTcp != nil || healthExecInTarget }

    // Validated where the check runs (freezectl-engines' FullEngineSide, before anything is
    // done); freezectl hands such a command over.
}
