import ContainerEngines
import HealthProbes
import FreezerOperations
import CRIUCheckpoint
import ArgumentParser
import CgroupFreezer
import Foundation

extension UnhealthyAction: ExpressibleByArgument {}

/// `unpause --health-*`: probe each target right after its thaw is confirmed.
struct HealthOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Probe: run CMD with /bin/sh -c on the host, as the caller; exit 0 is healthy. It gets FREEZECTL_TARGET, FREEZECTL_CGROUP and FREEZECTL_PID.", valueName: "cmd"))
    var healthCmd: String?

    @Option(name: .long, help: ArgumentHelp("Probe: GET URL; a status from 200 to 399 is healthy.", valueName: "url"))
    var healthHttp: String?

    @Option(name: .long, help: ArgumentHelp("Probe: a TCP connection to HOST:PORT succeeds.", valueName: "host:port"))
    var healthTcp: String?

    @Flag(name: .long, help: "Run --health-cmd inside the target with its powers and no more: docker exec for Docker, runc/crun exec for their containers, else the target process's cgroups, namespaces, ids, capabilities and no_new_privs. Its environment is FREEZECTL_* and a fixed PATH.")
    var healthExecInTarget = false

    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp("Time between probes, 1us to 24h. (default: 1s)", valueName: "duration"), transform: { try parseDuration($0, option: "--health-interval") })
    var healthInterval: Duration = .seconds(1)

    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp("Bound of one probe, 1us to 24h; an exec probe that overruns is killed with its process group. (default: 1s)", valueName: "duration"), transform: { try parseDuration($0, option: "--health-timeout") })
    var healthTimeout: Duration = .seconds(1)

    @Option(name: .long, help: ArgumentHelp("Consecutive failures before a target is unhealthy.", valueName: "n"))
    var healthRetries = 3

    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp("Failures during this time after the thaw do not count; a success ends it. 0s to 24h. (default: 0s)", valueName: "duration"), transform: { try parseDuration($0, option: "--health-start-period", allowZero: true) })
    var healthStartPeriod: Duration = .zero

    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp("Overall bound of the health check per target, 1us to 24h.", valueName: "deadline"), transform: { try parseDuration($0, option: "--wait-healthy") })
    var waitHealthy: Duration?

    @Option(name: .long, help: ArgumentHelp("What to do with an unhealthy target: fail (exit 3), refreeze (freeze it again if this call thawed it; exit 3) or ignore (report only).", valueName: "action"))
    var onUnhealthy: UnhealthyAction = .fail

    func validate() throws {
        let probes = [healthCmd != nil, healthHttp != nil, healthTcp != nil].filter { $0 }.count
        guard probes <= 1 else { throw ValidationError("give one probe: --health-cmd, --health-http or --health-tcp") }
        if healthExecInTarget && healthCmd == nil { throw ValidationError("--health-exec-in-target needs --health-cmd") }
        guard (1...1000).contains(healthRetries) else { throw ValidationError("--health-retries must be from 1 to 1000, got \(healthRetries)") }
        if let url = healthHttp, !(url.hasPrefix("http://") || url.hasPrefix("https://")) || URL(string: url)?.host == nil {
            throw ValidationError("--health-http \"\(url)\" is not an http:// or https:// URL with a host")
        }
        if let tcp = healthTcp { _ = try Self.parseHostPort(tcp) }
    }

    static func parseHostPort(_ text: String) throws -> (String, Int) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
              (1...65535).contains(port), colon != text.startIndex else {
            throw ValidationError("--health-tcp \"\(text)\" is not HOST:PORT (e.g. 127.0.0.1:8080)")
        }
        return (String(text[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]")), port)
    }

    /// The check asked for, or nil.
    func check() throws -> HealthCheckOptions? {
        let probe: HealthProbe
        if let command = healthCmd {
            probe = .exec(command: command, inTarget: healthExecInTarget)
        } else if let url = healthHttp {
            probe = .http(url: url)
        } else if let tcp = healthTcp {
            let (host, port) = try Self.parseHostPort(tcp)
            probe = .tcp(host: host, port: port)
        } else {
            return nil
        }
        let policy = HealthPolicy(interval: healthInterval, timeout: healthTimeout, retries: healthRetries,
                                  startPeriod: healthStartPeriod, deadline: waitHealthy)
        return HealthCheckOptions(probe: probe, policy: policy, onUnhealthy: onUnhealthy)
    }
}
