import CgroupFreezer
import CoreMetrics
import Prometheus

/// `GET /metrics`: Prometheus text through swift-metrics, on a registry of the daemon's own
/// (nothing global is bootstrapped, so an embedder's metrics system is left alone).
final class DaemonMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    private let factory: PrometheusMetricsFactory

    init() {
        var factory = PrometheusMetricsFactory(registry: registry)
        // Freeze and thaw latencies: a few hundred microseconds for an idle cgroup, up to the deadline.
        factory.defaultDurationHistogramBuckets = [
            .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2.5), .milliseconds(5), .milliseconds(10),
            .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1),
            .seconds(2.5), .seconds(5), .seconds(10),
        ]
        self.factory = factory
    }

    /// One operation's audit record: counted by action and result; a change's latency recorded.
    func record(_ record: AuditRecord) {
        Counter(label: "freezectl_operations_total",
                dimensions: [("action", record.action.rawValue), ("result", record.result.rawValue)], factory: factory).increment()
        if record.result == .ok {
            CoreMetrics.Timer(label: "freezectl_operation_duration_seconds", dimensions: [("action", record.action.rawValue)], factory: factory)
                .recordNanoseconds(Int64((record.durationMS * 1e6).rounded()))
        }
    }

    /// An audit record a sink took, or failed to take.
    func audited(sink: String, ok: Bool) {
        Counter(label: ok ? "freezectl_audit_records_written_total" : "freezectl_audit_records_failed_total",
                dimensions: [("sink", sink)], factory: factory).increment()
    }

    /// The figures read when scraped.
    func set(activeLeases: Int, pausedCgroups: Int, eventStreams: Int) {
        Gauge(label: "freezectl_leases_active", factory: factory).record(activeLeases)
        Gauge(label: "freezectl_watched_cgroups_paused", factory: factory).record(pausedCgroups)
        Gauge(label: "freezectl_event_streams", factory: factory).record(eventStreams)
    }

    /// How many targets the idle controller holds frozen now.
    func idleFrozen(_ count: Int) {
        Gauge(label: "freezectl_idle_frozen", factory: factory).record(count)
    }

    /// One wake: from the first packet's arrival (or the request) to the end of the thaw.
    func woke(after latency: Duration, cause: String) {
        CoreMetrics.Timer(label: "freezectl_wake_latency_seconds", dimensions: [("cause", cause)], factory: factory)
            .recordNanoseconds(latency.nanoseconds)
    }

    /// Resident bytes a reclaim gave back (an idle rule's or a request's).
    func reclaimed(_ report: MemoryReport?) {
        guard let report, report.residentBefore > report.residentAfter else { return }
        Counter(label: "freezectl_reclaimed_bytes_total", factory: factory).increment(by: Int64(clamping: report.residentBefore - report.residentAfter))
    }

    /// The exposition text.
    func text() -> [UInt8] {
        registry.emitToBuffer()
    }
}

/// Counts every record of the daemon's audit trail.
struct MetricsSink: AuditSink {
    let metrics: DaemonMetrics
    var name: String { "metrics" }

    func write(_ record: AuditRecord) throws {
        metrics.record(record)
    }
}

/// A real sink (journal, file) whose records written and failed are counted.
struct CountingSink: AuditSink {
    let sink: any AuditSink
    let metrics: DaemonMetrics
    var name: String { sink.name }

    func write(_ record: AuditRecord) throws {
        do {
            try sink.write(record)
            metrics.audited(sink: sink.name, ok: true)
        } catch {
            metrics.audited(sink: sink.name, ok: false)
            throw error
        }
    }
}
