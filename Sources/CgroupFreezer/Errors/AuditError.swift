extension AuditTrail {
    /// The audit trail: a record could not be written.
    public enum Error: FreezectlError, Equatable {
        /// An audit sink could not take a record.
        case sinkFailed(sink: String, reason: String)
        /// A sink could not take the record of `record` (`action target result`), which is lost.
        case recordNotWritten(record: String, sink: String, reason: String)
        /// A trail was required and no sink can take a record: nothing was done.
        case unavailable(String)

        public var code: String {
            switch self {
            case .sinkFailed, .recordNotWritten: return "audit-failed"
            case .unavailable: return "audit-unavailable"
            }
        }

        public var message: String {
            switch self {
            case .sinkFailed(let sink, let reason): return "audit record not written to \(sink): \(reason)"
            case .recordNotWritten(let record, let sink, let reason): return "audit record of \(record) not written to \(sink): \(reason)"
            case .unavailable(let reason): return "refusing to act without an audit trail (--audit-required): \(reason)"
            }
        }
    }
}
