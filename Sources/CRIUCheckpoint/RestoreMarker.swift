import CgroupFreezer
import FreezerOperations
import HealthProbes
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

    /// The largest marker read back (a real one is about 150 bytes).
    static let sizeLimit = 4096

    /// The highest count carried forward; a count above it (or malformed) restarts at 1.
    static let countLimit = 1_000_000_000

    /// The marker at `path`, or nil when there is none. The file sits where the restored program
    /// can write: a symlink, a FIFO or a file over `sizeLimit` is refused, never followed or waited on.
    public static func read(at path: FilePath) throws -> RestoreMarker? {
        let text: String
        do {
            text = try RegularFile.read(path, limit: sizeLimit)
        } catch CgroupLayout.Error.notFound {
            return nil
        }
        return try JSONDecoder().decode(RestoreMarker.self, from: Data(text.utf8))
    }

    /// Reads and removes the marker, so a later start does not mistake itself for a restore.
    public static func consume(at path: FilePath) throws -> RestoreMarker? {
        guard let marker = try read(at: path) else { return nil }
        try FileManager.default.removeItem(atPath: path.string)
        return marker
    }

    /// Writes a marker that counts one more restore than the one at `path`, atomically: a reader
    /// sees the old marker or the new one, never a part. The directory belongs to the restored
    /// program, so the write never follows a symlink, creates its temporary file exclusively under
    /// an unguessable name, and leaves the marker owned by the directory's owner
    /// (`RegularFile.replace`). A previous count that is malformed or above `countLimit` restarts at 1.
    @discardableResult
    public static func record(at path: FilePath, imagesDir: String, initPID: Int32?, criuVersion: String?, now: Date = Date()) throws -> RestoreMarker {
        guard let name = path.lastComponent?.string, name != "." && name != ".." else {
            throw CRIU.Error.invalidOption("--marker \(path)", reason: "the marker must name a file")
        }
        // A previous marker that is malformed or refused (a symlink, a FIFO) restarts the count.
        let previous = ((try? read(at: path)) ?? nil)?.restoreCount ?? 0
        let count = (0..<countLimit).contains(previous) ? previous + 1 : 1
        let marker = RestoreMarker(restoredAt: Date.ISO8601FormatStyle().format(now), restoreCount: count,
                                   imagesDir: imagesDir, initPID: initPID, criuVersion: criuVersion)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var data = try encoder.encode(marker)
        data.append(UInt8(ascii: "\n"))
        let directory = path.removingLastComponent()
        try RegularFile.replace(name, in: directory.isEmpty ? "." : directory, with: Array(data))
        return marker
    }
}
