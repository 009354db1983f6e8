import SystemPackage

/// Files of /proc: other processes' state, which vanishes when they exit, and the host's.
extension CgroupFile {
    /// A /proc file of another process, or nil when it cannot be read now: the process exited
    /// (ENOENT, ESRCH), belongs to someone the caller may not inspect (EACCES), or the file is
    /// absent on this kernel. For what is read about processes to describe or count them, where
    /// "gone" is an answer; the one place that treats every such failure as absent.
    package static func procFileIfReadable(_ path: FilePath) -> String? {
        do {
            return try readProcFile(path)
        } catch {
            return nil
        }
    }

    /// Reads a /proc file of any length (mountinfo can exceed a page).
    package static func readProcFile(_ path: FilePath) throws(CgroupLayout.Error) -> String {
        let fd: FileDescriptor
        do {
            fd = try FileDescriptor.open(path, .readOnly, options: [.closeOnExec], retryOnInterrupt: true)
        } catch {
            let errno = error as? Errno ?? .ioError
            if errno == .noSuchFileOrDirectory { throw CgroupLayout.Error.notFound(path: path) }
            throw CgroupLayout.Error.io(path: path, operation: "open", errno: errno)
        }
        defer { close(fd) }
        return try readProcFile(fd, path: path)
    }

    /// What an open /proc file says now, read from its start: the kernel prints a seq file anew
    /// for a read at offset 0, so a descriptor kept open reads fresh text without an open and a
    /// close (ProcessCgroups.ofSelf). `path` names the file in errors.
    package static func readProcFile(_ fd: FileDescriptor, path: FilePath) throws(CgroupLayout.Error) -> String {
        String(decoding: try readProcFileBytes(fd, path: path), as: UTF8.self)
    }

    /// The bytes of an open /proc file that the kernel prints as one record (single_open, as
    /// /proc/PID/cgroup), read from its start: a read returning less than it asked for returned
    /// all of it (`CgroupFile.readValue`), so most calls are one system call.
    package static func readProcRecord(_ fd: FileDescriptor, path: FilePath) throws(CgroupLayout.Error) -> [UInt8] {
        if let bytes = try readRecord(fd, path: path, capacity: 4096) { return bytes }
        return try readProcFileBytes(fd, path: path)
    }

    /// The bytes of an open /proc file, read from its start (see `readProcFile(_:path:)`).
    package static func readProcFileBytes(_ fd: FileDescriptor, path: FilePath) throws(CgroupLayout.Error) -> [UInt8] {
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16384)
        while true {
            let count: Int
            do {
                count = try chunk.withUnsafeMutableBytes {
                    try fd.read(fromAbsoluteOffset: Int64(result.count), into: $0, retryOnInterrupt: true)
                }
            } catch {
                throw CgroupLayout.Error.io(path: path, operation: "read", errno: error as? Errno ?? .ioError)
            }
            if count == 0 { break }
            result.append(contentsOf: chunk[0..<count])
            guard result.count <= sizeCap else {
                throw CgroupLayout.Error.io(path: path, operation: "read (larger than \(sizeCap >> 20) MiB)", errno: .fileTooLarge)
            }
        }
        return result
    }
}

/// /proc/meminfo, the host's memory figures.
package enum Meminfo {
    /// The value of `key` (`MemTotal`, `SwapTotal`) in bytes, or nil when it cannot be read (or
    /// would not fit: it must not trap).
    package static func bytes(_ key: String) -> UInt64? {
        guard let text = CgroupFile.procFileIfReadable("/proc/meminfo") else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix(key + ":") {
            guard let kibibytes = line.split(separator: " ").dropFirst().first.flatMap({ UInt64($0) }) else { return nil }
            let (bytes, overflow) = kibibytes.multipliedReportingOverflow(by: 1024)
            return overflow ? nil : bytes
        }
        return nil
    }
}
