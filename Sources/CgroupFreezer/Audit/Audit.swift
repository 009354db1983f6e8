import CSystemd
import Foundation
import SystemPackage

/// One audit record: who changed the freezer state of what, when, how, and whether it worked.
public struct AuditRecord: Sendable, Hashable, Codable {
    /// `pause`, `unpause`, `refreeze`, `checkpoint`, `restore`, `repair-tree`.
    public var action: String
    /// The target as the user gave it.
    public var target: String
    /// The cgroup directory it resolved to.
    public var cgroup: String?
    /// `v1`, `v2`, `docker`, `systemd`.
    public var backend: String?
    /// `ok`, `already`, `error`.
    public var result: String
    /// The error message, for `error`.
    public var message: String?
    /// How long it took.
    public var durationMS: Double
    /// The caller.
    public var uid: UInt32
    /// The caller's user name.
    public var user: String?
    /// SUDO_USER and SUDO_UID, when the caller came through sudo.
    public var sudoUser: String?
    /// See `sudoUser`.
    public var sudoUID: String?
    /// The caller's PID.
    public var pid: Int32
    /// The host.
    public var hostname: String
    /// When (RFC 3339, UTC, with fractions).
    public var time: String

    enum CodingKeys: String, CodingKey {
        case action, target, cgroup, backend, result, message, uid, user, pid, hostname, time
        case durationMS = "duration_ms"
        case sudoUser = "sudo_user"
        case sudoUID = "sudo_uid"
    }

    /// A record stamped with the calling process's identity and the time now.
    public init(action: String, target: String, cgroup: String?, backend: String?, result: String, message: String?,
                duration: Duration, environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.action = action
        self.target = target
        self.cgroup = cgroup
        self.backend = backend
        self.result = result
        self.message = message
        durationMS = duration.milliseconds
        uid = getuid()
        user = getpwuid(uid).flatMap { $0.pointee.pw_name.map { String(cString: $0) } }
        sudoUser = environment["SUDO_USER"]
        sudoUID = environment["SUDO_UID"]
        pid = getpid()
        hostname = Self.hostname
        // ISO8601FormatStyle is Foundation's own formatter: ISO8601DateFormatter would load ICU
        // (a calendar, a locale and number formats), a millisecond or more of a CLI run.
        time = Date.ISO8601FormatStyle(includingFractionalSeconds: true).format(Date())
    }

    /// The kernel's host name (uname's nodename). ProcessInfo.hostName may ask the resolver
    /// for a canonical name, which can wait on the network.
    static var hostname: String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

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
    public static var unusability: FreezerError? {
        Libsystemd.unavailability.map { FreezerError.auditSinkFailed(sink: "journal", reason: $0) }
    }

    /// One MESSAGE_ID (a 128-bit id, as `systemd-id128 new` makes) per action.
    static let messageIDs: [String: String] = [
        "pause": "5b1d0c6f2a4e4c1c9a3f3d2e8b7a6c01",
        "unpause": "5b1d0c6f2a4e4c1c9a3f3d2e8b7a6c02",
        "refreeze": "5b1d0c6f2a4e4c1c9a3f3d2e8b7a6c03",
        "checkpoint": "5b1d0c6f2a4e4c1c9a3f3d2e8b7a6c04",
        "restore": "5b1d0c6f2a4e4c1c9a3f3d2e8b7a6c05",
        "repair-tree": "5b1d0c6f2a4e4c1c9a3f3d2e8b7a6c06",
    ]

    public func write(_ record: AuditRecord) throws {
        guard Self.isAvailable else {
            throw FreezerError.auditSinkFailed(sink: name, reason: "no journal socket at \(Self.socket)")
        }
        let priority = record.result == "error" ? 3 : 6  // err : info
        let summary = "\(record.action) \(record.target): \(record.result)" + (record.message.map { " (\($0))" } ?? "")
        var fields = [
            "MESSAGE=\(summary)",
            "MESSAGE_ID=\(Self.messageIDs[record.action] ?? "5b1d0c6f2a4e4c1c9a3f3d2e8b7a6c00")",
            "PRIORITY=\(priority)",
            "SYSLOG_IDENTIFIER=freezectl",
            "FREEZECTL_ACTION=\(record.action)",
            "FREEZECTL_TARGET=\(record.target)",
            "FREEZECTL_RESULT=\(record.result)",
            "FREEZECTL_DURATION_MS=\(String(format: "%.3f", record.durationMS))",
            "FREEZECTL_UID=\(record.uid)",
            "FREEZECTL_PID=\(record.pid)",
            "FREEZECTL_HOSTNAME=\(record.hostname)",
            "FREEZECTL_TIME=\(record.time)",
        ]
        if let cgroup = record.cgroup { fields.append("FREEZECTL_CGROUP=\(cgroup)") }
        if let backend = record.backend { fields.append("FREEZECTL_BACKEND=\(backend)") }
        if let message = record.message { fields.append("FREEZECTL_MESSAGE=\(message)") }
        if let user = record.user { fields.append("FREEZECTL_USER=\(user)") }
        if let sudoUser = record.sudoUser { fields.append("FREEZECTL_SUDO_USER=\(sudoUser)") }
        if let sudoUID = record.sudoUID { fields.append("FREEZECTL_SUDO_UID=\(sudoUID)") }
        if let reason = Libsystemd.unavailability {
            throw FreezerError.auditSinkFailed(sink: name, reason: reason)
        }
        let buffers = fields.map { Array($0.utf8) }
        let rc = buffers.withIOVecs { csd_journal_sendv($0, Int32($1)) }
        if rc < 0 {
            throw FreezerError.auditSinkFailed(sink: name, reason: "sd_journal_sendv: \(Errno(rawValue: -rc))")
        }
    }
}

/// A JSON-lines file: one `write(2)` per record on an O_APPEND descriptor, so records from
/// concurrent writers never interleave within a line.
public struct JSONLinesSink: AuditSink {
    /// The file.
    public let path: FilePath

    public var name: String { path.string }

    /// A sink appending to `path` (created with mode 0640 if missing; never through a symlink).
    public init(path: FilePath) {
        self.path = path
    }

    /// Why the file cannot be appended to, or nil.
    public func checkWritable() -> FreezerError? {
        do {
            try RegularFile.openForAppend(path).close()
            return nil
        } catch let error as FreezerError {
            return .auditSinkFailed(sink: name, reason: error.message)
        } catch {
            return .auditSinkFailed(sink: name, reason: "\(error)")
        }
    }

    public func write(_ record: AuditRecord) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var line = try encoder.encode(record)
        line.append(UInt8(ascii: "\n"))
        do {
            // No symlink followed, regular files only, created 0640 (RegularFile.openForAppend).
            let fd = try RegularFile.openForAppend(path)
            try fd.closeAfter {
                // One write: O_APPEND makes the offset and the write one atomic step.
                let written = try line.withUnsafeBytes { try fd.write($0, retryOnInterrupt: true) }
                if written != line.count { throw Errno.ioError }
            }
        } catch let error as FreezerError {
            throw FreezerError.auditSinkFailed(sink: name, reason: error.message)
        } catch {
            throw FreezerError.auditSinkFailed(sink: name, reason: "\(error)")
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

/// Writes each record to every sink; a failing sink is reported, never silently dropped.
public struct AuditTrail: Sendable {
    /// The sinks.
    public var sinks: [any AuditSink]
    /// Called with each sink failure (the CLI prints it on stderr).
    public var onFailure: @Sendable (FreezerError) -> Void

    /// A trail over `sinks`.
    public init(sinks: [any AuditSink], onFailure: @escaping @Sendable (FreezerError) -> Void) {
        self.sinks = sinks
        self.onFailure = onFailure
    }

    /// Whether records go anywhere at all.
    public var isEmpty: Bool { sinks.isEmpty }

    /// Records `record` in every sink; returns how many sinks took it. The record is built only
    /// when there is a sink to take it.
    @discardableResult
    public func record(_ makeRecord: @autoclosure () -> AuditRecord) -> Int {
        guard !sinks.isEmpty else { return 0 }
        let record = makeRecord()
        var written = 0
        for sink in sinks {
            do {
                try sink.write(record)
                written += 1
            } catch let error as FreezerError {
                onFailure(error)
            } catch {
                onFailure(.auditSinkFailed(sink: sink.name, reason: "\(error)"))
            }
        }
        return written
    }
}
