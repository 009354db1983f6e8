#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import SystemPackage

/// Writes each record to every sink; a failing sink is reported, never silently dropped.
public struct AuditTrail: Sendable {
    /// The sinks.
    public var sinks: [any AuditSink]
    /// Called with each sink failure (the CLI prints it on stderr).
    public var onFailure: @Sendable (AuditTrail.Error) -> Void
    /// Adds what the caller knows to every record before it is written (the daemon: who asked,
    /// the rule that allowed it, the lease).
    public var annotate: @Sendable (inout AuditRecord) -> Void = { _ in }

    /// A trail over `sinks`.
    public init(sinks: [any AuditSink], onFailure: @escaping @Sendable (AuditTrail.Error) -> Void) {
        self.sinks = sinks
        self.onFailure = onFailure
    }

    /// This trail with `annotate` run on each record after the trail's own annotation.
    public func annotating(_ more: @escaping @Sendable (inout AuditRecord) -> Void) -> AuditTrail {
        var trail = self
        let first = annotate
        trail.annotate = { record in
            first(&record)
            more(&record)
        }
        return trail
    }

    /// Whether records go anywhere at all.
    public var isEmpty: Bool { sinks.isEmpty }

    /// Records `record` in every sink; returns how many sinks took it. The record is built only
    /// when there is a sink to take it.
    @discardableResult
    public func record(_ makeRecord: @autoclosure () -> AuditRecord) -> Int {
        guard !sinks.isEmpty else { return 0 }
        var record = makeRecord()
        annotate(&record)
        var written = 0
        for sink in sinks {
            do {
                try sink.write(record)
                written += 1
            } catch {
                // The lost record is named: whoever reads the warning knows which change has none.
                var reason = "\(error)"
                if case .sinkFailed(_, let why) = error as? AuditTrail.Error { reason = why }
                onFailure(.recordNotWritten(record: "\(record.action.rawValue) \(record.target) (\(record.result.rawValue))",
                                            sink: sink.name, reason: reason))
            }
        }
        return written
    }
}

extension AuditTrail {
    /// The trail a command writes to: the journal whenever its socket exists, and the JSON-lines
    /// file `file` when one is given (opened once here, so a file that cannot be written is found
    /// before anything is done).
    ///
    /// With `required`, a trail that cannot take records throws (the sink's failure, or
    /// `auditUnavailable` when there is no sink at all): the caller must then do nothing.
    /// Otherwise each problem goes to `warn` and the trail goes on with the sinks that work.
    public static func standard(
        file: FilePath?, required: Bool, warn: (AuditTrail.Error) -> Void,
        onFailure: @escaping @Sendable (AuditTrail.Error) -> Void
    ) throws(AuditTrail.Error) -> AuditTrail {
        var sinks: [any AuditSink] = []
        if JournalSink.isAvailable {
            // The socket is there; the sink also needs libsystemd, which is loaded only on first use.
            if let problem = JournalSink.unusability {
                if required { throw problem }
                warn(problem)
            } else {
                sinks.append(JournalSink())
            }
        } else if file != nil || required {
            warn(AuditTrail.Error.sinkFailed(sink: "journal", reason: "the journal was not reached (no \(JournalSink.socket))"))
        }
        if let file, !file.isEmpty {
            let sink = JSONLinesSink(path: file)
            if let problem = sink.checkWritable() {
                if required { throw problem }
                warn(problem)
            } else {
                sinks.append(sink)
            }
        }
        if required && sinks.isEmpty {
            throw AuditTrail.Error.unavailable("no journal socket at \(JournalSink.socket) and no audit log file")
        }
        return AuditTrail(sinks: sinks, onFailure: onFailure)
    }
}
