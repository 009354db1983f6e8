import ArgumentParser
import CgroupFreezer
import FreezectlReports
import FreezerOperations

extension UnhealthyAction: ExpressibleByArgument {}

/// `unpause --health-*`: probe each target right after its thaw is confirmed.
package struct HealthOptions: ParsableArguments {
    package init() {}

    @Option(name: .long, help: ArgumentHelp("Probe: run CMD with /bin/sh -c on the host, as the caller; exit 0 is healthy. It gets FREEZECTL_TARGET, FREEZECTL_CGROUP and FREEZECTL_PID.", valueName: "cmd"))
    package var healthCmd: String?

    @Option(name: .long, help: ArgumentHelp("Probe: GET URL; a status from 200 to 399 is healthy.", valueName: "url"))
    package var healthHttp: String?

    @Option(name: .long, help: ArgumentHelp("Probe: a TCP connection to HOST:PORT succeeds.", valueName: "host:port"))
    package var healthTcp: String?

    @Flag(name: .long, help: "Run --health-cmd inside the target with its powers and no more: docker exec for Docker, runc/crun exec for their containers, else the target process's cgroups, namespaces, ids, capabilities and no_new_privs. Its environment is FREEZECTL_* and a fixed PATH.")
    package var healthExecInTarget = false

    /// The defaults of --health-interval, --health-timeout and --health-retries.
    package static let defaultInterval: Duration = .seconds(1)
    package static let defaultTimeout: Duration = .seconds(1)
    package static let defaultRetries = 3

    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp("Time between probes, 1us to 24h. (default: 1s)", valueName: "duration"), transform: { try parseDuration($0, option: "--health-interval") })
    package var healthInterval: Duration = defaultInterval

    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp("Bound of one probe, 1us to 24h; an exec probe that overruns is killed with its process group. (default: 1s)", valueName: "duration"), transform: { try parseDuration($0, option: "--health-timeout") })
    package var healthTimeout: Duration = defaultTimeout

    @Option(name: .long, help: ArgumentHelp("Consecutive failures before a target is unhealthy.", valueName: "n"))
    package var healthRetries = defaultRetries

    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp("Failures during this time after the thaw do not count; a success ends it. 0s to 24h. (default: 0s)", valueName: "duration"), transform: { try parseDuration($0, option: "--health-start-period", allowZero: true) })
    package var healthStartPeriod: Duration = .zero

    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp("Overall bound of the health check per target, 1us to 24h.", valueName: "deadline"), transform: { try parseDuration($0, option: "--wait-healthy") })
    package var waitHealthy: Duration?

    @Option(name: .long, help: ArgumentHelp("What to do with an unhealthy target: fail (exit 3), refreeze (freeze it again if this call thawed it; exit 3) or ignore (report only).", valueName: "action"))
    package var onUnhealthy: UnhealthyAction = .fail

    /// Whether a check is asked for (freezectl-engines runs it: it links the probes).
    package var isAsked: Bool { healthCmd != nil || healthHttp != nil || healthTcp != nil || healthExecInTarget }

    // Validated where the check runs (freezectl-engines' FullEngineSide, before anything is
    // done); freezectl hands such a command over.
}
