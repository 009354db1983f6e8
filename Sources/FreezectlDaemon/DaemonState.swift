import CgroupFreezer
import Foundation
import SystemPackage

/// freezectld's own files: the state directory (`--state-dir`) with its lease and in-flight
/// records, and the socket's path. Their errors are the daemon's (`DaemonState.Error`), not the
/// cgroup layout's.
enum DaemonState {
    /// Why one of the daemon's own files could not be used: the path, the errno where the kernel
    /// gave one, and what to do.
    enum Error: ErrorAdvice {
        /// A directory of the state, or the socket's, cannot be made or is not a directory.
        case directory(path: FilePath, reason: String, errno: Errno?)
        /// A record (a lease, a pause in flight) cannot be written.
        case record(path: FilePath, reason: String, errno: Errno?)
        /// The socket's path holds something that is not a socket.
        case notASocket(path: FilePath)

        var code: String { "daemon-state" }

        var message: String {
            switch self {
            case .directory(let path, let reason, _): return "\(path): \(reason)"
            case .record(let path, let reason, _): return "record \(path) not written: \(reason)"
            case .notASocket(let path): return "\(path) exists and is not a socket"
            }
        }

        var path: FilePath? {
            switch self {
            case .directory(let path, _, _), .record(let path, _, _), .notASocket(let path): return path
            }
        }

        var errno: Errno? {
            switch self {
            case .directory(_, _, let errno), .record(_, _, let errno): return errno
            case .notASocket: return nil
            }
        }

        var advice: String {
            switch self {
            case .directory: return "give another --state-dir (or --socket) on a local file system root may write, or fix the path"
            case .record: return "check the state directory's file system (full? read-only?) and its permissions, or give another --state-dir"
            case .notASocket: return "remove it or give another --socket"
            }
        }
    }

    /// Makes `path` a directory of mode `mode` when it is missing; a path that is there and not
    /// a directory (a symlink included) is refused, never replaced. `private`: the mode is set
    /// on one that was there too (the records' directories: root's alone).
    static func directory(_ path: FilePath, mode: mode_t, private: Bool = false) throws(Error) {
        if mkdir(path.string, mode) != 0 && Foundation.errno != EEXIST {
            let errno = Errno(rawValue: Foundation.errno)
            throw .directory(path: path, reason: "cannot be made (\(errno))", errno: errno)
        }
        var info = stat()
        guard lstat(path.string, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else {
            throw .directory(path: path, reason: "not a directory", errno: .notDirectory)
        }
        if `private` { chmod(path.string, mode) }
    }

    /// Writes a record: `value` as JSON (keys sorted) replaces `name` in `directory` atomically
    /// (RegularFile.replace), readable by root alone.
    static func write(_ value: some Encodable, as name: String, in directory: FilePath, durable: Bool = true) throws(Error) {
        let data = try encoded(value, for: directory.appending(name))
        do {
            try RegularFile.replace(name, in: directory, with: data, mode: 0o600, durable: durable)
        } catch {
            throw .record(path: directory.appending(name), reason: error.message, errno: error.errno)
        }
    }

    /// A record's bytes: `value` as JSON, keys sorted.
    static func encoded(_ value: some Encodable, for path: FilePath) throws(Error) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        do {
            return Array(try encoder.encode(value))
        } catch {
            throw .record(path: path, reason: "not encoded: \(error)", errno: nil)
        }
    }
}
