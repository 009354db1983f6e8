#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import SystemPackage

/// The files freezectl keeps outside cgroupfs (the audit log, the restore marker, CRIU's pidfile
/// and logs) may sit where a container or another user can write. Every access here: no symlink
/// followed at the last component, regular files only (a FIFO would hang a reader or writer:
/// O_NONBLOCK opens it without waiting, and fstat then refuses it), sizes capped, and new files
/// created exclusively under names nobody can guess.
package enum RegularFile {
    /// Reads a regular file of at most `limit` bytes.
    package static func read(_ path: FilePath, limit: Int) throws(CgroupLayout.Error) -> String {
        String(decoding: try readBytes(path, limit: limit), as: UTF8.self)
    }

    /// The bytes of a regular file of at most `limit` bytes. The buffer starts at the size fstat
    /// gives and grows only if the file does while it is read, never past `limit`.
    package static func readBytes(_ path: FilePath, limit: Int) throws(CgroupLayout.Error) -> [UInt8] {
        let fd = open(path.string, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { throw openError(path, Errno(rawValue: errno)) }
        defer { close(fd) }
        return try readBytes(opened: fd, path: path, limit: limit).bytes
    }

    /// The bytes of the open file `fd` (see `readBytes(_:limit:)`), with its owner and mode.
    fileprivate static func readBytes(opened fd: Int32, path: FilePath, limit: Int) throws(CgroupLayout.Error) -> (bytes: [UInt8], owner: uid_t, mode: mode_t) {
        let info = try checkRegular(fd, path: path)
        let size = Int(info.st_size)
        guard size <= limit else { throw CgroupLayout.Error.unsafeFile(path: path, reason: "larger than \(limit) bytes") }
        // One byte more than allowed, so that a file grown past the limit is seen.
        var bytes = [UInt8](repeating: 0, count: size + 1)
        var total = 0
        while total <= limit {
            if total == bytes.count {
                bytes.append(contentsOf: repeatElement(0, count: min(max(bytes.count, 4096), limit + 1 - bytes.count)))
            }
            let result = bytes.withUnsafeMutableBytes { Syscall.read(fd, into: UnsafeMutableRawBufferPointer(rebasing: $0[total...])) }
            guard case .success(let count) = result else {
                if case .failure(let errno) = result { throw CgroupLayout.Error.io(path: path, operation: "read", errno: errno) }
                break
            }
            if count == 0 { break }
            total += count
        }
        guard total <= limit else { throw CgroupLayout.Error.unsafeFile(path: path, reason: "larger than \(limit) bytes") }
        bytes.removeSubrange(total...)
        return (bytes, info.st_uid, info.st_mode)
    }

    /// Opens `path` for appending, creating it 0640 when missing; refuses a symlink or anything
    /// that is not a regular file.
    package static func openForAppend(_ path: FilePath) throws(CgroupLayout.Error) -> FileDescriptor {
        let fd = open(path.string, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw openError(path, Errno(rawValue: errno)) }
        do {
            _ = try checkRegular(fd, path: path)
        } catch {
            close(fd)
            throw error
        }
        return FileDescriptor(rawValue: fd)
    }

    /// Replaces `name` in `directory` with `data` atomically: a new file under a random name,
    /// created with O_EXCL (never opening what someone planted), owned by the directory's owner
    /// (a program in that directory must be able to remove it; root keeps no file there), flushed,
    /// then renamed over `name` (a symlink or FIFO at `name` is replaced, never followed).
    /// `durable: false` skips the flush to disk: for a record that only has to outlive the
    /// process (its page-cache copy does) and is worthless after a machine crash.
    package static func replace(_ name: String, in directory: FilePath, with data: [UInt8], mode: mode_t = 0o644,
                                durable: Bool = true) throws(CgroupLayout.Error) {
        let dirfd = open(directory.string, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard dirfd >= 0 else { throw openError(directory, Errno(rawValue: errno)) }
        defer { close(dirfd) }
        var owner = stat()
        guard fstat(dirfd, &owner) == 0 else { throw CgroupLayout.Error.io(path: directory, operation: "fstat", errno: Errno(rawValue: errno)) }
        var random = SystemRandomNumberGenerator()
        let temporary = ".\(name).\(String(random.next(), radix: 16)).tmp"
        let fd = openat(dirfd, temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
        guard fd >= 0 else { throw CgroupLayout.Error.io(path: directory.appending(temporary), operation: "create", errno: Errno(rawValue: errno)) }
        do {
            defer { close(fd) }
            if geteuid() == 0 && fchown(fd, owner.st_uid, owner.st_gid) != 0 {
                throw CgroupLayout.Error.io(path: directory.appending(temporary), operation: "fchown", errno: Errno(rawValue: errno))
            }
            try writeAll(data, to: fd, path: directory.appending(temporary))
            if durable && fsync(fd) != 0 { throw CgroupLayout.Error.io(path: directory.appending(temporary), operation: "fsync", errno: Errno(rawValue: errno)) }
            if renameat(dirfd, temporary, dirfd, name) != 0 {
                throw CgroupLayout.Error.io(path: directory.appending(name), operation: "rename", errno: Errno(rawValue: errno))
            }
        } catch let error as CgroupLayout.Error {
            unlinkat(dirfd, temporary, 0)
            throw error
        } catch {
            unlinkat(dirfd, temporary, 0)
            throw CgroupLayout.Error.io(path: directory.appending(temporary), operation: "write", errno: .ioError)
        }
    }

    /// Writes all of `data` to `fd` (a short write is continued; none at all is an I/O error).
    static func writeAll(_ data: [UInt8], to fd: Int32, path: FilePath) throws(CgroupLayout.Error) {
        var written = 0
        while written < data.count {
            switch data.withUnsafeBytes({ Syscall.write(fd, UnsafeRawBufferPointer(rebasing: $0[written...])) }) {
            case .success(let count) where count > 0: written += count
            case .success: throw CgroupLayout.Error.io(path: path, operation: "write", errno: .ioError)
            case .failure(let errno): throw CgroupLayout.Error.io(path: path, operation: "write", errno: errno)
            }
        }
    }

    /// What fstat says of an open regular file; refuses anything else.
    private static func checkRegular(_ fd: Int32, path: FilePath) throws(CgroupLayout.Error) -> stat {
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw CgroupLayout.Error.io(path: path, operation: "fstat", errno: Errno(rawValue: errno)) }
        guard info.st_mode & S_IFMT == S_IFREG else { throw CgroupLayout.Error.unsafeFile(path: path, reason: "not a regular file") }
        return info
    }

    fileprivate static func openError(_ path: FilePath, _ errno: Errno) -> CgroupLayout.Error {
        switch errno {
        case .tooManySymbolicLinkLevels: return CgroupLayout.Error.unsafeFile(path: path, reason: "it is a symlink")
        case .noSuchFileOrDirectory: return CgroupLayout.Error.notFound(path: path)
        case .permissionDenied, .notPermitted: return CgroupLayout.Error.permissionDenied(path: path, errno: errno)
        default: return CgroupLayout.Error.io(path: path, operation: "open", errno: errno)
        }
    }
}

/// A directory held open to read the files in it and below it without following a symlink, and
/// to know who owns each thing read (the files of a runtime's state, which whoever can write
/// them controls): every owner and mode is the one of what was opened, not of a path looked at
/// before.
package struct DirectoryHandle: Sendable {
    /// How errors name it.
    package let path: FilePath
    /// Its owner and mode, from fstat of the descriptor.
    package let owner: uid_t
    package let mode: mode_t
    private let fd: Int32

    /// Opens the directory `path`; symlinks on the way are followed (a path the caller named,
    /// such as /var/run/runc), and what is opened is what the owner and mode describe.
    package static func opening(_ path: FilePath) throws(CgroupLayout.Error) -> DirectoryHandle {
        try opened(open(path.string, O_RDONLY | O_DIRECTORY | O_CLOEXEC), path: path)
    }

    /// Opens the subdirectory `name` (one component; a symlink there is refused).
    package func subdirectory(_ name: String) throws(CgroupLayout.Error) -> DirectoryHandle {
        let path = self.path.appending(name)
        guard Self.isComponent(name) else { throw CgroupLayout.Error.unsafeFile(path: path, reason: "not a plain name") }
        return try Self.opened(openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC), path: path)
    }

    /// The bytes of the regular file `name` in this directory, at most `limit` of them, with its
    /// owner and mode (a symlink, FIFO or anything but a regular file is refused).
    package func readFile(_ name: String, limit: Int) throws(CgroupLayout.Error) -> (bytes: [UInt8], owner: uid_t, mode: mode_t) {
        let path = self.path.appending(name)
        guard Self.isComponent(name) else { throw CgroupLayout.Error.unsafeFile(path: path, reason: "not a plain name") }
        let file = openat(fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard file >= 0 else { throw RegularFile.openError(path, Errno(rawValue: errno)) }
        defer { close(file) }
        return try RegularFile.readBytes(opened: file, path: path, limit: limit)
    }

    /// Creates the regular file `name` in this directory with `data` (a name already there, a
    /// symlink included, is refused, never replaced). Not atomic: a writer killed meanwhile leaves
    /// a partial file, which is for callers whose readers can tell (a record written before what
    /// it records starts). What was created is removed when the write fails.
    package func create(_ name: String, with data: [UInt8], mode: mode_t) throws(CgroupLayout.Error) {
        let path = self.path.appending(name)
        guard Self.isComponent(name) else { throw CgroupLayout.Error.unsafeFile(path: path, reason: "not a plain name") }
        let file = openat(fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
        guard file >= 0 else { throw CgroupLayout.Error.io(path: path, operation: "create", errno: Errno(rawValue: errno)) }
        defer { close(file) }
        do {
            try RegularFile.writeAll(data, to: file, path: path)
        } catch {
            unlinkat(fd, name, 0)
            throw error
        }
    }

    /// Removes the file `name` of this directory; one already gone is not an error.
    package func remove(_ name: String) {
        guard Self.isComponent(name) else { return }
        unlinkat(fd, name, 0)
    }

    /// Releases the descriptor.
    package func release() { close(fd) }

    private static func opened(_ fd: Int32, path: FilePath) throws(CgroupLayout.Error) -> DirectoryHandle {
        // A symlink under O_NOFOLLOW is ELOOP, which openError names as one.
        guard fd >= 0 else { throw RegularFile.openError(path, Errno(rawValue: errno)) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let error = Errno(rawValue: errno)
            close(fd)
            throw CgroupLayout.Error.io(path: path, operation: "fstat", errno: error)
        }
        return DirectoryHandle(path: path, owner: info.st_uid, mode: info.st_mode, fd: fd)
    }

    private init(path: FilePath, owner: uid_t, mode: mode_t, fd: Int32) {
        self.path = path
        self.owner = owner
        self.mode = mode
        self.fd = fd
    }

    private static func isComponent(_ name: String) -> Bool {
        !name.isEmpty && name != "." && name != ".." && !name.utf8.contains(UInt8(ascii: "/"))
    }
}
