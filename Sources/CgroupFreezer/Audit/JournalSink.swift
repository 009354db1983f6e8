import CSystemd
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import SystemPackage

/// Where audit records go. Orchestrators can supply their own.
public protocol AuditSink: Sendable {
    /// A name for messages ("journal", "/var/log/freezectl.jsonl").
    var name: String { get }
    /// Writes one record; throws when it could not be written.
    func write(_ record: AuditRecord) throws
}

/// The systemd journal, through `sd_journal_sendv`: SYSLOG_IDENTIFIER=freezectl, a fixed
/// MESSAGE_ID per action, PRIORITY, a readable MESSAGE, and every field as FREEZECTL_*.
public struct JournalSink: AuditSink {
    /// The journal's native socket; without it sd_journal_sendv returns 0 and drops the entry.
    public static let socket: FilePath = "/run/systemd/journal/socket"

    public var name: String { "journal" }

    /// A sink for the local journal.
    public init() {}

    /// Whether the journal's socket exists.
    public static var isAvailable: Bool { Syscall.exists(socket) }

    /// Why records could not be sent although the socket exists (libsystemd cannot be loaded), or nil.
    public static var unusability: AuditTrail.Error? {
        Libsystemd.unavailability.map { AuditTrail.Error.sinkFailed(sink: "journal", reason: $0) }
    }

    /// One MESSAGE_ID (a 128-bit id, as `systemd-id128 new` makes) per action.
    static func messageID(_ action: AuditRecord.Action) -> String {
        switch action {
        case .pause: return "5b1d0c6f2a4e4c1c9a3f3d2e8b7a6c01"
        case .unpause: return "5b1d0c6f2a4e4c1c9a3f3d2e8b7a6c02"
        case .refreeze: return "5b1d0c6f2a4e4c1c9a3f3d2e8b7a6c03"
        case .checkpoint: return "5b1d0c6f2a4e4c1c9a3f3d2e8b7a6c04"
        case .restore: return "5b1d0c6f2a4e4c1c9a3f3d2e8b7a6c05"
        case .repairTree: return "5b1d0c6f2a4e4c1c9a3f3d2e8b7a6c06"
        case .status: return "5b1d0c6f2a4e4c1c9a3f3d2e8b7a6c07"
        }
    }

    public func write(_ record: AuditRecord) throws {
        guard Self.isAvailable else {
            throw AuditTrail.Error.sinkFailed(sink: name, reason: "no journal socket at \(Self.socket)")
        }
        let priority = record.result == .error ? 3 : record.result == .refused || record.result == .dropped ? 4 : 6  // err, warning, info
        let summary = "\(record.action.rawValue) \(record.target): \(record.result.rawValue)" + (record.message.map { " (\($0))" } ?? "")
        var fields = [
            "MESSAGE=\(summary)",
            "MESSAGE_ID=\(Self.messageID(record.action))",
            "PRIORITY=\(priority)",
            "SYSLOG_IDENTIFIER=freezectl",
            "FREEZECTL_ACTION=\(record.action.rawValue)",
            "FREEZECTL_TARGET=\(record.target)",
            "FREEZECTL_RESULT=\(record.result.rawValue)",
            "FREEZECTL_DURATION_MS=\(String(record.durationMS, decimals: 3))",
            "FREEZECTL_UID=\(record.uid)",
            "FREEZECTL_PID=\(record.pid)",
            "FREEZECTL_HOSTNAME=\(record.hostname)",
            "FREEZECTL_TIME=\(record.time)",
        ]
        if let cgroup = record.cgroup { fields.append("FREEZECTL_CGROUP=\(cgroup)") }
        if let backend = record.backend { fields.append("FREEZECTL_BACKEND=\(backend.rawValue)") }
        if let message = record.message { fields.append("FREEZECTL_MESSAGE=\(message)") }
        if let user = record.user { fields.append("FREEZECTL_USER=\(user)") }
        if let sudoUser = record.sudoUser { fields.append("FREEZECTL_SUDO_USER=\(sudoUser)") }
        if let sudoUID = record.sudoUID { fields.append("FREEZECTL_SUDO_UID=\(sudoUID)") }
        if let requester = record.requester {
            fields += ["FREEZECTL_REQUESTER_UID=\(requester.uid)", "FREEZECTL_REQUESTER_GID=\(requester.gid)",
                       "FREEZECTL_REQUESTER_PID=\(requester.pid)"]
            if let user = requester.user { fields.append("FREEZECTL_REQUESTER_USER=\(user)") }
        }
        if let rule = record.rule { fields.append("FREEZECTL_RULE=\(rule)") }
        if let lease = record.lease { fields.append("FREEZECTL_LEASE=\(lease)") }
        if let reason = Libsystemd.unavailability {
            throw AuditTrail.Error.sinkFailed(sink: name, reason: reason)
        }
        let buffers = fields.map { Array($0.utf8) }
        let rc = buffers.withIOVecs { csd_journal_sendv($0, Int32($1)) }
        if rc < 0 {
            throw AuditTrail.Error.sinkFailed(sink: name, reason: "sd_journal_sendv: \(Errno(rawValue: -rc))")
        }
    }
}

extension Array where Element == [UInt8] {
    /// Calls `body` with an iovec array over these buffers.
    func withIOVecs<R>(_ body: (UnsafePointer<iovec>, Int) -> R) -> R {
        var copies = map { bytes -> UnsafeMutableRawPointer in
            let memory = UnsafeMutableRawPointer.allocate(byteCount: Swift.max(bytes.count, 1), alignment: 1)
            bytes.withUnsafeBytes { memory.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
            return memory
        }
        defer { copies.forEach { $0.deallocate() }; copies.removeAll() }
        let vectors = zip(copies, self).map { iovec(iov_base: $0.0, iov_len: $0.1.count) }
        return vectors.withUnsafeBufferPointer { body($0.baseAddress!, $0.count) }
    }
}

