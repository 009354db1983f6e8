import CgroupFreezer
import FreezerOperations
import HealthProbes
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import SystemPackage

/// The directory CRIU writes images and logs to, checked before a root CRIU writes there.
///
/// A directory someone else can write could hold a symlink at `dump.log` or `restore.pid` that
/// makes CRIU (root) write through it, or a stale log that freezectl would quote as this run's.
/// So: created 0700 when missing; when present, a real directory (not a symlink), owned by the
/// caller or root and not writable by others; this run's log names are removed first (unlinkat
/// removes a symlink itself, never its target).
struct ImagesDirectory {
    let path: FilePath

    init(preparing path: FilePath, staleLog names: String...) throws(CRIU.Error) {
        self.path = path
        if mkdir(path.string, 0o700) != 0 && errno != EEXIST {
            throw .imagesNotUsable(path: path, operation: "mkdir", errno: Errno(rawValue: errno))
        }
        let fd = open(path.string, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else {
            let error = Errno(rawValue: errno)
            if error == .tooManySymbolicLinkLevels || error == .notDirectory {
                throw .unsafeImages(path: path, reason: "a symlink or not a directory")
            }
            throw .imagesNotUsable(path: path, operation: "open", errno: error)
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw .imagesNotUsable(path: path, operation: "fstat", errno: Errno(rawValue: errno)) }
        guard info.st_uid == geteuid() || info.st_uid == 0 else {
            throw .unsafeImages(path: path, reason: "it belongs to uid \(info.st_uid), not to the caller or root")
        }
        guard info.st_mode & S_IWOTH == 0 else {
            throw .unsafeImages(path: path, reason: "it is writable by every user")
        }
        for name in names where unlinkat(fd, name, 0) != 0 && errno != ENOENT {
            throw .imagesNotUsable(path: path, operation: "remove the previous run's \(name)", errno: Errno(rawValue: errno))
        }
    }

    /// A small file CRIU wrote here (its pidfile), read without following a symlink.
    func read(_ name: String, limit: Int) throws -> String {
        try RegularFile.read(path.appending(name), limit: limit)
    }
}
