import SystemPackage

// Everything that touches cgroupfs is in this file: the one validator of cgroup directories and
// the one reader and writer of their control files.

/// What a cgroup is, as opposed to where it is: the device and inode of its directory. On
/// cgroupfs the inode number is the kernel's cgroup ID (the kernfs node ID: 64 bits, not reused
/// while the system runs), so a cgroup removed and made again under the same name has another;
/// the device tells the hierarchies apart.
public struct CgroupIdentity: Sendable, Hashable, Codable, CustomStringConvertible {
    public var device: UInt64
    public var inode: UInt64

    public init(device: UInt64, inode: UInt64) {
        self.device = device
        self.inode = inode
    }

    /// `inode N` (the cgroup ID).
    public var description: String { "inode \(inode)" }
}

/// A directory that was checked to be a cgroup of a mounted hierarchy: it exists, it is on
/// cgroupfs (statfs magic), and its canonical path (symlinks and `..` resolved) lies under the
/// hierarchy's mount point. Only values of this type are ever written to.
public struct CgroupDirectory: Sendable, Hashable, CustomStringConvertible {
    /// The canonical path.
    public let path: FilePath
    /// The hierarchy it belongs to.
    public let hierarchy: Hierarchy
    /// The cgroup that was there when it was validated; nil for a parent derived from a path.
    /// Every freeze and thaw checks it again on the directory it locks (CgroupFreezer), so what
    /// was resolved is what is written, never a cgroup made since under the same name.
    public let identity: CgroupIdentity?

    /// Validates `path`; throws a bad-input error naming the path when it is not a cgroup directory.
    public init(validating path: FilePath, in layout: CgroupLayout) throws(CgroupLayout.Error) {
        guard path.isAbsolute else {
            throw CgroupLayout.Error.invalidTarget(path.string, reason: "a cgroup directory must be an absolute path")
        }
        // The short way, for the paths batches resolve by the hundred (a mount point and a
        // cgroup's path, as the kernel and the engines name them): plain components below a
        // cgroup mount point, and the kernel confirms in one walk that they lead there without a
        // symlink or another mount, so the path is canonical as it stands. Anything else, or any
        // failure, takes the long way below, which also names what is wrong.
        if let hierarchy = layout.hierarchy(containing: path),
           let relative = Self.plainComponents(of: path, below: hierarchy.mountPoint),
           let identity = Syscall.cgroupDirectoryIdentity(relative, below: hierarchy.mountPoint) {
            self.path = path
            self.hierarchy = hierarchy
            self.identity = identity
            return
        }
        let canonical: FilePath
        switch Syscall.realPath(path) {
        case .success(let resolved): canonical = resolved
        case .failure(.noSuchFileOrDirectory), .failure(.notDirectory): throw CgroupLayout.Error.notFound(path: path)
        case .failure(let errno): throw CgroupLayout.Error.io(path: path, operation: "resolve", errno: errno)
        }
        // A symlink or `..` that leads out of every cgroup mount is refused here, before statfs.
        guard let hierarchy = layout.hierarchy(containing: canonical) else {
            throw CgroupLayout.Error.notOnCgroupfs(path: canonical == path ? path : FilePath("\(path) (resolves to \(canonical))"))
        }
        switch Syscall.filesystemMagic(of: canonical) {
        case .success(let magic) where magic == FilesystemMagic.cgroup || magic == FilesystemMagic.cgroup2:
            break
        case .success:
            throw CgroupLayout.Error.notOnCgroupfs(path: canonical)
        // Removed since realpath (its processes exited and it was rmdir'ed): as if it never was.
        case .failure(.noSuchFileOrDirectory), .failure(.notDirectory):
            throw CgroupLayout.Error.notFound(path: path)
        case .failure(let errno):
            throw CgroupLayout.Error.io(path: canonical, operation: "statfs", errno: errno)
        }
        switch Syscall.directoryIdentity(of: canonical) {
        case .success(let identity?): self.identity = identity
        case .failure(.noSuchFileOrDirectory): throw CgroupLayout.Error.notFound(path: path)
        default:
            throw CgroupLayout.Error.invalidTarget(path.string, reason: "not a directory (give the cgroup directory, not one of its files)")
        }
        self.path = canonical
        self.hierarchy = hierarchy
    }

    /// What follows `mountPoint` in `path` (`docker/<id>`; empty for the mount point itself) when
    /// every component of it is a plain name: nil for `.`, `..` or an empty component.
    package static func plainComponents(of path: FilePath, below mountPoint: FilePath) -> String? {
        let text = path.string, mount = mountPoint.string
        guard CgroupLayout.isSameOrBelow(text, mount) || mount == "/" else { return nil }
        var relative = text.utf8.dropFirst(mount.utf8.count)
        if mount != "/" { relative = relative.dropFirst() }  // the separator after the mount point
        if relative.isEmpty { return "" }
        for component in relative.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false) {
            if component.isEmpty || component.elementsEqual(".".utf8) || component.elementsEqual("..".utf8) { return nil }
        }
        return String(Substring(relative))
    }

    /// The parent cgroup, or nil at the mount point.
    public var parent: CgroupDirectory? {
        guard path != hierarchy.mountPoint else { return nil }
        // Cut at the last separator on the bytes: the path is canonical (absolute, no trailing
        // separator, below the mount point). FilePath.removingLastComponent() reaches a generic
        // Slice.indices the stdlib does not specialize here, whose associated-type lookup by
        // mangled name was 7 % of a cgroup pause's instructions (docs/performance.md, step 20).
        let text = path.string
        guard let cut = text.utf8.lastIndex(of: UInt8(ascii: "/")) else { return nil }
        let parent = cut == text.utf8.startIndex ? "/" : String(Substring(text.utf8[..<cut]))
        return CgroupDirectory(trusted: FilePath(parent), hierarchy: hierarchy)
    }

    /// Whether this cgroup is `other` or one of its ancestors.
    public func contains(_ other: FilePath) -> Bool { other.starts(with: path) }

    private init(trusted path: FilePath, hierarchy: Hierarchy) {
        self.path = path
        self.hierarchy = hierarchy
        identity = nil
    }

    /// A file of this cgroup.
    package func file(_ name: String) -> FilePath { path.appending(name) }

    /// The canonical path.
    public var description: String { path.string }
}

extension FilePath {
    /// This path or its nearest ancestor below `root` whose last component satisfies `matches`:
    /// how a container's own cgroup is found above a child cgroup its init moved into.
    package func nearestAncestor(below root: FilePath, where matches: (String) -> Bool) -> FilePath? {
        var candidate = self
        while candidate != root, let last = candidate.lastComponent {
            if matches(last.string) { return candidate }
            candidate.removeLastComponent()
        }
        return nil
    }
}

/// Reads and writes the small control files of cgroupfs.
///
/// Every write goes through `write(_:to:)`, which checks with fstatfs that the opened file is on
/// cgroupfs before a byte is written: whatever a path looked like when it was validated, nothing
/// outside cgroupfs is ever written.
package enum CgroupFile {
    /// Reads a control file whole.
    package static func read(_ path: FilePath) throws(CgroupLayout.Error) -> String {
        let fd = try open(path, .readOnly)
        defer { close(fd) }
        return try read(fd, path: path)
    }

    /// Reads a control file that the kernel prints as one record: `freezer.state`,
    /// `freezer.self_freezing`, `freezer.parent_freezing`, `cgroup.freeze`, `cgroup.events` (one
    /// show call each, where `cgroup.procs` is printed record by record and a read may stop
    /// between two). The whole record is made before it is copied out, so a read that returns
    /// less than it asked for returned all of it: one system call instead of two, and the freeze
    /// path reads these files several times per cgroup.
    package static func readValue(_ path: FilePath) throws(CgroupLayout.Error) -> String {
        let fd = try open(path, .readOnly)
        defer { close(fd) }
        return try readValue(fd, path: path)
    }

    /// Reads an open one-record control file from its start (see `readValue(_:)`).
    package static func readValue(_ fd: FileDescriptor, path: FilePath) throws(CgroupLayout.Error) -> String {
        // A full buffer may have more behind it: then the file is read whole the long way.
        guard let bytes = try readRecord(fd, path: path, capacity: 256) else { return try read(fd, path: path) }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// One read of an open one-record file (a cgroup control file, /proc/PID/cgroup) from its
    /// start into `capacity` bytes: its whole text, or nil when the buffer filled up and more may
    /// follow (the caller then reads it the long way).
    package static func readRecord(_ fd: FileDescriptor, path: FilePath, capacity: Int) throws(CgroupLayout.Error) -> [UInt8]? {
        var bytes = [UInt8](repeating: 0, count: capacity)
        let count: Int
        do {
            count = try bytes.withUnsafeMutableBytes { try fd.read(fromAbsoluteOffset: 0, into: $0, retryOnInterrupt: true) }
        } catch {
            throw CgroupLayout.Error.io(path: path, operation: "read", errno: error as? Errno ?? .ioError)
        }
        guard count < capacity else { return nil }
        bytes.removeSubrange(count...)
        return bytes
    }

    /// A control file's text, or nil when it cannot be read: the cgroup was removed meanwhile,
    /// or this hierarchy has no such file (`memory.max` of a root). For what is read to describe
    /// a cgroup, never for what decides a write.
    package static func readIfPresent(_ path: FilePath) -> String? {
        try? read(path)
    }

    /// The most a control file may hold: cgroup.procs of a cgroup with the kernel's maximum PID
    /// count is well under this; anything larger is not a control file we understand.
    package static let sizeCap = 64 << 20

    /// Reads an open control file whole, from its start (kernfs files re-generate their text on
    /// each read from offset 0). Most files fit one page, but `cgroup.procs` of a large cgroup
    /// does not: a single read of 1000 PIDs returns only the first page, cut mid-number.
    package static func read(_ fd: FileDescriptor, path: FilePath) throws(CgroupLayout.Error) -> String {
        var bytes = [UInt8](repeating: 0, count: 4096)
        var total = 0
        while true {
            if total == bytes.count {
                guard bytes.count < sizeCap else {
                    throw CgroupLayout.Error.io(path: path, operation: "read (larger than \(sizeCap >> 20) MiB)", errno: .fileTooLarge)
                }
                bytes += [UInt8](repeating: 0, count: bytes.count)
            }
            let count: Int
            do {
                count = try bytes.withUnsafeMutableBytes { buffer in
                    try fd.read(fromAbsoluteOffset: Int64(total), into: UnsafeMutableRawBufferPointer(rebasing: buffer[total...]),
                                retryOnInterrupt: true)
                }
            } catch {
                throw CgroupLayout.Error.io(path: path, operation: "read", errno: error as? Errno ?? .ioError)
            }
            if count == 0 { break }
            total += count
        }
        return String(decoding: bytes[0..<total], as: UTF8.self)
    }

    /// Writes `value` to a control file after checking that it is on cgroupfs.
    package static func write(_ value: String, to path: FilePath) throws(CgroupLayout.Error) {
        let fd = try openForWriting(path, .writeOnly)
        defer { close(fd) }
        try write(value, to: fd, path: path)
    }

    /// Opens a control file to write it (`.writeOnly`, or `.readWrite` to read the same file back
    /// without opening it again) and checks with fstatfs that it is on cgroupfs: the only way to
    /// a descriptor that `write(_:to:path:)` takes.
    package static func openForWriting(_ path: FilePath, _ mode: FileDescriptor.AccessMode) throws(CgroupLayout.Error) -> FileDescriptor {
        let fd = try open(path, mode)
        switch Syscall.filesystemMagic(of: fd) {
        case .success(let magic) where magic == FilesystemMagic.cgroup || magic == FilesystemMagic.cgroup2:
            return fd
        case .success:
            close(fd)
            throw CgroupLayout.Error.notOnCgroupfs(path: path)
        case .failure(let errno):
            close(fd)
            throw CgroupLayout.Error.io(path: path, operation: "fstatfs", errno: errno)
        }
    }

    /// Writes `value` to a control file opened by `openForWriting` (`path` names it in errors).
    package static func write(_ value: String, to fd: FileDescriptor, path: FilePath) throws(CgroupLayout.Error) {
        do {
            _ = try fd.writeAll(value.utf8)
        } catch {
            let errno = error as? Errno ?? .ioError
            if errno == .permissionDenied || errno == .notPermitted {
                throw CgroupLayout.Error.permissionDenied(path: path, errno: errno)
            }
            throw CgroupLayout.Error.io(path: path, operation: "write", errno: errno)
        }
    }

    /// Closes a descriptor of ours. Linux releases it even when close(2) reports an error (EINTR,
    /// or EIO for a write-back that cgroupfs and procfs never have), so there is nothing to
    /// retry or report; this is the one place that ignores it.
    package static func close(_ fd: FileDescriptor) {
        try? fd.close()
    }

    /// Opens a control file; the errors name the file and what to do.
    package static func open(_ path: FilePath, _ mode: FileDescriptor.AccessMode) throws(CgroupLayout.Error) -> FileDescriptor {
        do {
            return try FileDescriptor.open(path, mode, options: [.closeOnExec, .noFollow], retryOnInterrupt: true)
        } catch {
            let errno = error as? Errno ?? .ioError
            switch errno {
            case .permissionDenied, .notPermitted:
                throw CgroupLayout.Error.permissionDenied(path: path, errno: errno)
            case .noSuchFileOrDirectory:
                throw CgroupLayout.Error.notFound(path: path)
            default:
                throw CgroupLayout.Error.io(path: path, operation: "open", errno: errno)
            }
        }
    }

    /// The value of `key` in a flat-keyed file such as cgroup.events ("populated 1\nfrozen 0\n").
    package static func value(of key: String, inKeyedText text: String) -> String? {
        // On the bytes, as the kernel writes them ("\r\n" is one Character but two lines' worth).
        for line in text.utf8.split(separator: UInt8(ascii: "\n")) {
            let parts = line.split(separator: UInt8(ascii: " "), maxSplits: 1)
            if parts.count == 2, parts[0].elementsEqual(key.utf8) { return String(Substring(parts[1])) }
        }
        return nil
    }
}
