#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import CLinuxSupport
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import SystemPackage

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
    public func checkWritable() -> AuditTrail.Error? {
        do {
            try RegularFile.openForAppend(path).close()
            return nil
        } catch let error as any FreezectlError {
            return AuditTrail.Error.sinkFailed(sink: name, reason: error.message)
        } catch {
            return AuditTrail.Error.sinkFailed(sink: name, reason: "\(error)")
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
                // The space first: on a full disk a write can stop part-way (a page that fits, the
                // next that does not) and leave a torn line that the next record would run on
                // from. A record that does not fit is then refused whole, with nothing written.
                if clinux_reserve_append(fd.rawValue, Int64(line.count)) != 0 { throw Errno(rawValue: errno) }
                // One write: O_APPEND makes the offset and the write one atomic step.
                let written = try line.withUnsafeBytes { try fd.write($0, retryOnInterrupt: true) }
                if written != line.count { throw Errno.ioError }
            }
        } catch let error as any FreezectlError {
            throw AuditTrail.Error.sinkFailed(sink: name, reason: error.message)
        } catch {
            throw AuditTrail.Error.sinkFailed(sink: name, reason: "\(error)")
        }
    }
}

