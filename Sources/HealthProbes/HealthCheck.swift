import CgroupFreezer
import FreezerOperations
import ContainerEngines
import ContainerRuntimes
/// When and how often to probe, with the meaning Docker's HEALTHCHECK and Kubernetes' probes give
/// these words.
public struct HealthPolicy: Sendable, Hashable {
    /// Time between the start of one probe and the next.
    public var interval: Duration
    /// The bound of one probe.
    public var timeout: Duration
    /// Consecutive failures (after the start period) that make the target unhealthy.
    public var retries: Int
    /// Failures during this time after the thaw do not count; a success ends it.
    public var startPeriod: Duration
    /// The overall bound (`--wait-healthy`); nil: until healthy or unhealthy by retries.
    public var deadline: Duration?

    /// A policy with freezectl's defaults: 1 s interval (the user is waiting), 1 s timeout, 3 retries.
    public init(interval: Duration = .seconds(1), timeout: Duration = .seconds(1), retries: Int = 3,
                startPeriod: Duration = .zero, deadline: Duration? = nil) {
        self.interval = interval
        self.timeout = timeout
        self.retries = retries
        self.startPeriod = startPeriod
        self.deadline = deadline
    }
}

extension HealthProbe {
    /// Probes until healthy, or unhealthy after `policy.retries` consecutive failures outside the
    /// start period, or until `policy.deadline`. Call it only once the target is thawed: a probe
    /// spawned into a frozen cgroup blocks its parent (systemd PR 33117, crun PR 2243).
    ///
    /// - Parameter progress: called after each probe with the attempt number and its outcome.
    /// - Throws: `CgroupFreezer.Error.cancelled` when cancelled (a running probe is killed first).
    public func waitUntilHealthy(
        policy: HealthPolicy, context: ProbeContext,
        progress: @Sendable (Int, ProbeOutcome) -> Void = { _, _ in }
    ) async throws -> HealthReport {
        let clock = ContinuousClock()
        let start = clock.now
        var attempts = 0
        var failures = 0
        var inStartPeriod = policy.startPeriod > .zero
        while true {
            if Task.isCancelled { throw CgroupFreezer.Error.cancelled }
            let probeStart = clock.now
            var timeout = policy.timeout
            if let deadline = policy.deadline {
                timeout = min(timeout, max(.milliseconds(1), start.advanced(by: deadline) - probeStart))
            }
            let outcome = await run(context: context, timeout: timeout)
            if Task.isCancelled { throw CgroupFreezer.Error.cancelled }
            attempts += 1
            progress(attempts, outcome)
            if outcome.healthy {
                return HealthReport(healthy: true, attempts: attempts, timeToHealthy: start.duration(to: clock.now), last: outcome)
            }
            if inStartPeriod && start.duration(to: clock.now) >= policy.startPeriod { inStartPeriod = false }
            if !inStartPeriod {
                failures += 1
                if failures >= policy.retries {
                    return HealthReport(healthy: false, attempts: attempts, last: outcome, reason: "retries")
                }
            }
            let next = probeStart.advanced(by: policy.interval)
            if let deadline = policy.deadline, next >= start.advanced(by: deadline) {
                return HealthReport(healthy: false, attempts: attempts, last: outcome, reason: "deadline")
            }
            do {
                try await Task.sleep(until: next, clock: clock)
            } catch {
                throw CgroupFreezer.Error.cancelled
            }
        }
    }
}

/// A health check to run after a thaw.
public struct HealthCheckOptions: Sendable {
    /// The probe.
    public var probe: HealthProbe
    /// Its timing.
    public var policy: HealthPolicy
    /// What to do when a target ends unhealthy.
    public var onUnhealthy: UnhealthyAction

    /// Options for a check.
    public init(probe: HealthProbe, policy: HealthPolicy = HealthPolicy(), onUnhealthy: UnhealthyAction = .fail) {
        self.probe = probe
        self.policy = policy
        self.onUnhealthy = onUnhealthy
    }

    /// Whether `report` fails the command: unhealthy, and not to be ignored.
    public func fails(_ report: HealthReport?) -> Bool {
        report?.healthy == false && onUnhealthy != .ignore
    }
}
