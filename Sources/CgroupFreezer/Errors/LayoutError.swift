import SystemPackage

extension CgroupLayout {
    /// Layout, paths and target syntax: what was named does not lead to a cgroup (or to a file
    /// freezectl may use), or a file operation on it failed.
    public enum Error: FreezectlError, Equatable {
        /// The target text is not of a known form.
        case invalidTarget(String, reason: String)
        /// Nothing exists at the path.
        case notFound(path: FilePath)
        /// The path (after resolving symlinks and `..`) is not on a cgroup mount.
        case notOnCgroupfs(path: FilePath)
        /// The directory is a cgroup but has no freezer (the hierarchy root, or a v1 hierarchy without the freezer controller).
        case noFreezer(path: FilePath, reason: String)
        /// `cgroup:/path` names no freezable cgroup in any mounted hierarchy; `checked` lists where it looked.
        case noSuchCgroup(String, checked: [FilePath])
        /// No process with this PID exists.
        case noSuchProcess(pid: Int32)
        /// The process sits in the root cgroup of every mounted hierarchy, and a root cgroup cannot be frozen.
        case processInRootCgroup(pid: Int32)
        /// No cgroup filesystem is mounted.
        case noCgroupMount
        /// The kernel refused access to a file.
        case permissionDenied(path: FilePath, errno: Errno)
        /// A file freezectl was to write or read is not what it must be (a symlink, a FIFO, owned by someone else, too large).
        case unsafeFile(path: FilePath, reason: String)
        /// A system call failed for another reason.
        case io(path: FilePath, operation: String, errno: Errno)

        public var isBadInput: Bool {
            switch self {
            case .invalidTarget, .notFound, .notOnCgroupfs, .noFreezer, .noSuchCgroup, .noSuchProcess, .processInRootCgroup: return true
            case .noCgroupMount, .permissionDenied, .unsafeFile, .io: return false
            }
        }

        public var code: String {
            switch self {
            case .invalidTarget: return "invalid-target"
            case .notFound, .noSuchCgroup: return "not-found"
            case .notOnCgroupfs: return "not-cgroupfs"
            case .noFreezer: return "no-freezer"
            case .noSuchProcess: return "no-such-process"
            case .processInRootCgroup: return "root-cgroup"
            case .noCgroupMount: return "no-cgroup-mount"
            case .permissionDenied: return "permission-denied"
            case .unsafeFile: return "unsafe-file"
            case .io: return "io"
            }
        }

        public var path: FilePath? {
            switch self {
            case .notFound(let path), .notOnCgroupfs(let path), .noFreezer(let path, _), .permissionDenied(let path, _),
                 .unsafeFile(let path, _), .io(let path, _, _):
                return path
            case .invalidTarget, .noSuchCgroup, .noSuchProcess, .processInRootCgroup, .noCgroupMount:
                return nil
            }
        }

        public var errno: Errno? {
            switch self {
            case .permissionDenied(_, let errno), .io(_, _, let errno): return errno
            case .notFound: return .noSuchFileOrDirectory
            default: return nil
            }
        }

        public var message: String {
            switch self {
            case .invalidTarget(let text, let reason):
                return "invalid target \"\(text)\": \(reason)"
            case .notFound(let path):
                return "\(path): no such file or directory"
            case .notOnCgroupfs(let path):
                return "\(path) is not on a cgroup filesystem; refusing to touch it"
            case .noFreezer(let path, let reason):
                return "\(path) cannot be frozen: \(reason)"
            case .noSuchCgroup(let text, let checked):
                return "\(text): no such cgroup (looked for \(checked.map(\.string).joined(separator: " and ")))"
            case .noSuchProcess(let pid):
                return "pid:\(pid): no such process"
            case .processInRootCgroup(let pid):
                return "pid:\(pid) is in the root cgroup of every mounted hierarchy, and a root cgroup cannot be frozen"
            case .noCgroupMount:
                return "no cgroup filesystem is mounted (nothing of type cgroup or cgroup2 in /proc/self/mountinfo)"
            case .permissionDenied(let path, let errno):
                return "permission denied on \(path) (\(errno))"
            case .unsafeFile(let path, let reason):
                return "refusing to use \(path): \(reason)"
            case .io(let path, let operation, let errno):
                return "\(operation) \(path) failed: \(errno)"
            }
        }
    }
}
