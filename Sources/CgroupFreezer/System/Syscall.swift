#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import CLinuxSupport
import SystemPackage

/// The thin layer over the syscalls this library needs and swift-system does not wrap
/// (statfs, realpath, directory listing, raw read and write on a descriptor). The raw reads and
/// writes retry EINTR here; swift-system's calls retry it with `retryOnInterrupt`.
package enum Syscall {
    /// read(2) into `buffer`, retrying EINTR: the count read (0 at the end) or the errno.
    package static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) -> Result<Int, Errno> {
        retrying { systemRead(fd, buffer.baseAddress, buffer.count) }
    }

    /// One variable of this process's environment, read by name with getenv: ProcessInfo builds a
    /// dictionary of the whole environment, which cost a cgroup pause 13 % of its instructions
    /// for the few variables it reads (docs/performance.md, step 20).
    package static func environment(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }

    /// write(2) of `buffer`, retrying EINTR: the count written or the errno.
    package static func write(_ fd: Int32, _ buffer: UnsafeRawBufferPointer) -> Result<Int, Errno> {
        retrying { systemWrite(fd, buffer.baseAddress, buffer.count) }
    }

    /// Runs `body` until it does not fail with EINTR; returns its result or the errno.
    static func retrying<T: FixedWidthInteger>(_ body: () -> T) -> Result<T, Errno> {
        while true {
            let result = body()
            if result != -1 { return .success(result) }
            let error = Errno(rawValue: errno)
            if error != .interrupted { return .failure(error) }
        }
    }

    /// The filesystem magic of the filesystem holding `path` (statfs f_type).
    package static func filesystemMagic(of path: FilePath) -> Result<Int, Errno> {
        let magic = path.withPlatformString { clinux_statfs_type($0) }
        if magic == -1 { return .failure(Errno(rawValue: errno)) }
        return .success(magic)
    }

    /// The filesystem magic of the filesystem holding an open descriptor (fstatfs f_type).
    package static func filesystemMagic(of fd: FileDescriptor) -> Result<Int, Errno> {
        let magic = clinux_fstatfs_type(fd.rawValue)
        if magic == -1 { return .failure(Errno(rawValue: errno)) }
        return .success(magic)
    }

    /// The identity of the directory on cgroupfs that `relative` names, reached from the
    /// directory `mountPoint` without a symlink, without `..` and without entering another mount
    /// (openat2 with RESOLVE_BENEATH, RESOLVE_NO_SYMLINKS and RESOLVE_NO_XDEV from the mount point;
    /// an empty `relative` is the mount point itself); nil on any failure, ENOSYS included: the
    /// caller then takes the long way, which names what is wrong.
    package static func cgroupDirectoryIdentity(_ relative: String, below mountPoint: FilePath) -> CgroupIdentity? {
        let root = mountPoint.withPlatformString { clinux_open_path_directory($0) }
        guard root >= 0 else { return nil }
        defer { close(root) }
        var fd = root
        if !relative.isEmpty {
            fd = relative.withCString { clinux_open_directory_beneath(root, $0) }
            guard fd >= 0 else { return nil }
        }
        defer { if fd != root { close(fd) } }
        let magic = clinux_fstatfs_type(fd)
        guard magic == FilesystemMagic.cgroup || magic == FilesystemMagic.cgroup2, case .success(let identity) = identity(of: fd) else { return nil }
        return identity
    }

    /// The identity of what the open descriptor `fd` refers to (fstat's device and inode).
    package static func identity(of fd: Int32) -> Result<CgroupIdentity, Errno> {
        var buffer = stat()
        guard fstat(fd, &buffer) == 0 else { return .failure(Errno(rawValue: errno)) }
        return .success(CgroupIdentity(buffer))
    }

    /// The identity of the directory `path` (following symlinks), nil when it is not a
    /// directory, or the errno of stat.
    package static func directoryIdentity(of path: FilePath) -> Result<CgroupIdentity?, Errno> {
        var buffer = stat()
        let rc = path.withPlatformString { stat($0, &buffer) }
        if rc != 0 { return .failure(Errno(rawValue: errno)) }
        guard (buffer.st_mode & S_IFMT) == S_IFDIR else { return .success(nil) }
        return .success(CgroupIdentity(buffer))
    }

    /// The canonical path: symlinks, `.` and `..` resolved by the kernel's view of the filesystem.
    package static func realPath(_ path: FilePath) -> Result<FilePath, Errno> {
        guard let resolved = path.withPlatformString({ realpath($0, nil) }) else {
            return .failure(Errno(rawValue: errno))
        }
        defer { free(resolved) }
        return .success(FilePath(platformString: resolved))
    }

    /// Whether `path` names a directory (following symlinks), or the errno of stat.
    package static func isDirectory(_ path: FilePath) -> Result<Bool, Errno> {
        var buffer = stat()
        let rc = path.withPlatformString { stat($0, &buffer) }
        if rc != 0 { return .failure(Errno(rawValue: errno)) }
        return .success((buffer.st_mode & S_IFMT) == S_IFDIR)
    }

    /// Whether a file exists at `path` (lstat succeeds).
    package static func exists(_ path: FilePath) -> Bool {
        var buffer = stat()
        return path.withPlatformString { lstat($0, &buffer) } == 0
    }

    /// A stream connection to the unix socket at `path` (close-on-exec); the caller closes it.
    /// ENAMETOOLONG for a path that does not fit in sun_path.
    package static func connectUnixSocket(_ path: String) -> Result<Int32, Errno> {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return .failure(.fileNameTooLong) }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in bytes.enumerated() { raw[index] = byte }
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return .failure(Errno(rawValue: errno)) }
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard rc == 0 else {
            let failure = Errno(rawValue: errno)
            close(fd)
            return .failure(failure)
        }
        return .success(fd)
    }

    /// The process that listens on the unix socket at `path` (SO_PEERCRED of a connection to it),
    /// or nil when nothing answers there.
    package static func listeningProcess(ofUnixSocket path: String) -> pid_t? {
        guard case .success(let fd) = connectUnixSocket(path) else { return nil }
        defer { close(fd) }
        var credentials = clinux_ucred()
        var length = socklen_t(MemoryLayout<clinux_ucred>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length) == 0, credentials.pid > 0 else { return nil }
        return credentials.pid
    }

    /// The names of the subdirectories of `path`, without `.` and `..`.
    package static func subdirectories(of path: FilePath) -> Result<[String], Errno> {
        entries(of: path, type: UInt8(DT_DIR))
    }

    /// The names of the regular files in `path` (symlinks and others left out).
    package static func regularFiles(of path: FilePath) -> Result<[String], Errno> {
        entries(of: path, type: UInt8(DT_REG))
    }

    /// The names of the symbolic links in `path` (/proc/PID/fd's entries are).
    package static func symbolicLinks(of path: FilePath) -> Result<[String], Errno> {
        entries(of: path, type: UInt8(DT_LNK))
    }

    /// What the symbolic link `path` points to (readlink(2), at most 255 bytes: a /proc/PID/fd
    /// entry's `socket:[INODE]`), or nil.
    package static func linkTarget(_ path: FilePath) -> String? {
        var buffer = [CChar](repeating: 0, count: 256)
        let count = path.withPlatformString { readlink($0, &buffer, buffer.count - 1) }
        guard count > 0 else { return nil }
        return String(decoding: buffer.prefix(count).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private static func entries(of path: FilePath, type: UInt8) -> Result<[String], Errno> {
        guard let dir = path.withPlatformString({ opendir($0) }) else {
            return .failure(Errno(rawValue: errno))
        }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            guard entry.pointee.d_type == type else { continue }
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return .success(names.sorted())
    }
}

#if canImport(Glibc)
private let systemRead = Glibc.read
private let systemWrite = Glibc.write
#elseif canImport(Musl)
private let systemRead = Musl.read
private let systemWrite = Musl.write
#endif

extension CgroupIdentity {
    /// The identity fstat or stat gave.
    init(_ info: stat) {
        self.init(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
    }
}

/// Filesystem magic numbers from linux/magic.h.
package enum FilesystemMagic {
    package static let cgroup = 0x0027_e0eb
    package static let cgroup2 = 0x6367_7270
}

/// A signal as people write it: `SIGKILL`, or `signal 64` for one with no name.
package func signalName(_ number: Int32) -> String {
    clinux_signal_abbreviation(number).map { "SIG" + String(cString: $0) } ?? "signal \(number)"
}
