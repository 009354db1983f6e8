// What a health check after a thaw found, as a batch's results carry it. The probes themselves
// (HTTP, TCP, exec) are HealthProbes', which the kernel-side CLI does not link.

/// How a health check ended.
public struct HealthReport: Sendable, Hashable {
    /// Healthy, or unhealthy (by retries or by the deadline).
    public var healthy: Bool
    /// How many probes ran.
    public var attempts: Int
    /// From the start of the check (right after the thaw was confirmed) to the first success.
    public var timeToHealthy: Duration?
    /// The last probe's outcome.
    public var last: ProbeOutcome?
    /// Why it is unhealthy: `retries` or `deadline`.
    public var reason: String?

    /// A report as a check ends it.
    public init(healthy: Bool, attempts: Int, timeToHealthy: Duration? = nil, last: ProbeOutcome? = nil, reason: String? = nil) {
        self.healthy = healthy
        self.attempts = attempts
        self.timeToHealthy = timeToHealthy
        self.last = last
        self.reason = reason
    }
}

/// The result of one probe.
public struct ProbeOutcome: Sendable, Hashable {
    /// Whether it passed.
    public var healthy: Bool
    /// What it said: the command's output, `HTTP 200`, `connected`, or why it failed (trimmed).
    public var output: String

    /// An outcome as a probe ends it.
    public init(healthy: Bool, output: String) {
        self.healthy = healthy
        self.output = output
    }
}

/// What to do with a target that is unhealthy after the thaw.
public enum UnhealthyAction: String, Sendable, CaseIterable {
    /// Report it; the command exits 3.
    case fail
    /// Freeze it again if this call thawed it (put it back as it was); the command exits 3.
    case refreeze
    /// Report it only.
    case ignore
}
