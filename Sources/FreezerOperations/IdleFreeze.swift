import CgroupFreezer
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// A freeze freezectld's idle controller holds (issue 34), as its record says
/// (`<state-dir>/idle/<id>.json`, written before the freeze, removed at the wake): what
/// `status` shows as `idle-frozen`, with since when and what wakes it. Only the fields status
/// needs are read; the record is the daemon's (docs/daemon.md).
public struct IdleFreeze: Decodable, Sendable, Equatable {
    /// `traffic` (the first packet, or an unpause) or `api` (only an unpause).
    public var wake: String
    /// Seconds since the epoch.
    public var since: Double
    /// The idle rule (`idle rule 2`) or `labels`.
    public var origin: String
    private var target: Target

    private struct Target: Decodable, Sendable, Equatable {
        var identity: ObjectIdentity?
    }

    /// The cgroup the freeze was made on (its identity: a namesake made since is not it).
    public var cgroup: CgroupIdentity? { target.identity?.cgroup }

    /// Where freezectld keeps them by default (its `--state-dir` is /run/freezectl).
    public static let defaultDirectory: FilePath = "/run/freezectl/idle"

    /// The largest record read: a record names one target.
    static let sizeLimit = 64 << 10

    /// Every record in `directory`. Nothing when the directory is not root's alone (a record
    /// anyone could write would make status lie) or cannot be read (freezectld not running
    /// here, or the caller is not root: the records are root's).
    public static func read(in directory: FilePath = defaultDirectory) -> [IdleFreeze] {
        var info = stat()
        guard lstat(directory.string, &info) == 0, info.st_mode & S_IFMT == S_IFDIR, info.st_uid == 0, info.st_mode & 0o022 == 0,
              case .success(let names) = Syscall.regularFiles(of: directory) else { return [] }
        return names.filter { $0.hasSuffix(".json") }.compactMap { name in
            do {
                let text = try RegularFile.read(directory.appending(name), limit: sizeLimit)
                return try JSONDecoder().decode(IdleFreeze.self, from: Data(text.utf8))
            } catch {
                // A record being replaced or removed meanwhile, or not one of these: not shown.
                return nil
            }
        }
    }
}
