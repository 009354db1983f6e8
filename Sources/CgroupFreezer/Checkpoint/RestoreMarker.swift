import Foundation
import SystemPackage

/// The file that tells a restored program "you were restored": written by `freezectl criu-hook`
/// when CRIU runs its `post-restore` action, read (and consumed) by the program.
///
/// ```json
/// {"criu_version":"4.1","images_dir":"/var/lib/ckpt/web","init_pid":4242,"restore_count":2,"restored_at":"2026-11-21T23:19:09Z"}
/// ```
public struct RestoreMarker: Codable, Sendable, Hashable {
    /// When the restore finished (RFC 3339, UTC).
    public var restoredAt: String
    /// How many restores this marker counts: one more than the marker it replaced.
    public var restoreCount: Int
    /// The images the tree was restored from.
    public var imagesDir: String
    /// The restored tree's root PID, as CRIU reported it.
    public var initPID: Int32?
    /// The CRIU version that restored it.
    public var criuVersion: String?

    /// A marker.
    public init(restoredAt: String, restoreCount: Int, imagesDir: String, initPID: Int32?, criuVersion: String?) {
        self.restoredAt = restoredAt
        self.restoreCount = restoreCount
        self.imagesDir = imagesDir
        self.initPID = initPID
        self.criuVersion = criuVersion
    }

    enum CodingKeys: String, CodingKey {
        case restoredAt = "restored_at"
        case restoreCount = "restore_count"
        case imagesDir = "images_dir"
        case initPID = "init_pid"
        case criuVersion = "criu_version"
    }

    /// The marker at `path`, or nil when there is none.
    public static func read(at path: FilePath) throws -> RestoreMarker? {
        guard let data = FileManager.default.contents(atPath: path.string) else { return nil }
        return try JSONDecoder().decode(RestoreMarker.self, from: data)
    }

    /// Reads and removes the marker, so a later start does not mistake itself for a restore.
    public static func consume(at path: FilePath) throws -> RestoreMarker? {
        guard let marker = try read(at: path) else { return nil }
        try FileManager.default.removeItem(atPath: path.string)
        return marker
    }

    /// Writes a marker that counts one more restore than the one at `path`, atomically: a
    /// temporary file in the same directory, flushed, then renamed over the old one, so a reader
    /// sees the old marker or the new one, never a part.
    @discardableResult
    public static func record(at path: FilePath, imagesDir: String, initPID: Int32?, criuVersion: String?, now: Date = Date()) throws -> RestoreMarker {
        let previous = (try? read(at: path)) ?? nil
        let marker = RestoreMarker(restoredAt: Date.ISO8601FormatStyle().format(now), restoreCount: (previous?.restoreCount ?? 0) + 1,
                                   imagesDir: imagesDir, initPID: initPID, criuVersion: criuVersion)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var data = try encoder.encode(marker)
        data.append(UInt8(ascii: "\n"))
        let temporary = path.removingLastComponent().appending(".\(path.lastComponent?.string ?? "marker").\(getpid()).tmp")
        let fd = try FileDescriptor.open(temporary, .writeOnly, options: [.create, .truncate, .closeOnExec], permissions: [.ownerReadWrite, .groupRead, .otherRead])
        do {
            _ = try fd.closeAfter {
                _ = try fd.writeAll(data)
                if fsync(fd.rawValue) != 0 { throw Errno(rawValue: errno) }
            }
            guard rename(temporary.string, path.string) == 0 else { throw Errno(rawValue: errno) }
        } catch {
            unlink(temporary.string)
            throw error
        }
        return marker
    }
}
