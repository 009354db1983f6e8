import CgroupFreezer
import SystemPackage

extension CRIU {
    /// CRIU: it cannot be used, its images directory cannot be used, or a dump or restore failed
    /// or was abandoned.
    public enum Error: FreezectlError, Equatable {
        /// No usable CRIU executable.
        case unavailable(path: FilePath, reason: String)
        /// `criu check` failed; `explanation` names the cause when it is known.
        case checkFailed(path: FilePath, output: String, explanation: String?)
        /// A dump or restore failed; `errors` are the `Error (...)` lines of its log.
        case failed(operation: String, log: FilePath, errors: [String])
        /// CRIU did not finish within its bound (or the grace after a stop signal) and was killed with its process group.
        case abandoned(operation: String, after: Duration, reason: String, log: FilePath)
        /// Processes of the tree are outside the cgroup that will be frozen (CRIU would not seize them).
        case strayProcesses(cgroup: FilePath, strays: [String])
        /// The images directory could be written through by someone else (a symlink, another
        /// user's, writable by all): refused before CRIU (root) writes there.
        case unsafeImages(path: FilePath, reason: String)
        /// The images directory could not be made, opened or cleared (`operation` failed with `errno`).
        case imagesNotUsable(path: FilePath, operation: String, errno: Errno)
        /// An option of a checkpoint or restore that cannot be used as given (`--paused` without
        /// a cgroup, a marker path that names no file): nothing was done.
        case invalidOption(String, reason: String)

        public var code: String {
            switch self {
            case .unavailable: return "criu-unavailable"
            case .checkFailed: return "criu-check-failed"
            case .failed: return "criu-failed"
            case .abandoned: return "criu-abandoned"
            case .strayProcesses: return "stray-processes"
            case .unsafeImages: return "unsafe-file"
            case .imagesNotUsable: return "io"
            case .invalidOption: return "invalid-option"
            }
        }

        /// An option that cannot be used as given is bad input (exit 2); the rest are failures.
        public var isBadInput: Bool {
            if case .invalidOption = self { return true }
            return false
        }

        public var errno: Errno? {
            if case .imagesNotUsable(_, _, let errno) = self { return errno }
            return nil
        }

        public var path: FilePath? {
            switch self {
            case .unavailable(let path, _), .checkFailed(let path, _, _), .failed(_, let path, _), .abandoned(_, _, _, let path),
                 .strayProcesses(let path, _), .unsafeImages(let path, _), .imagesNotUsable(let path, _, _):
                return path
            case .invalidOption:
                return nil
            }
        }

        public var message: String {
            switch self {
            case .unavailable(let path, let reason):
                return "CRIU \(path) cannot be used: \(reason)"
            case .checkFailed(let path, let output, let explanation):
                return "`\(path) check` failed: \(output)" + (explanation.map { "\n  cause: \($0)" } ?? "")
            case .failed(let operation, let log, let errors):
                return "criu \(operation) failed (log: \(log)):\n    " + errors.joined(separator: "\n    ")
            case .abandoned(let operation, let after, let reason, _):
                return "criu \(operation) abandoned after \(after.shortDescription) (\(reason)): CRIU and its process group were killed; the tree is back in the state the \(operation) found it in"
            case .strayProcesses(let cgroup, let strays):
                return "\(strays.count) process(es) of the tree are outside \(cgroup), so CRIU could not seize them: " + strays.joined(separator: "; ")
            case .unsafeImages(let path, let reason):
                return "images directory \(path): \(reason)"
            case .imagesNotUsable(let path, let operation, let errno):
                return "images directory \(path): \(operation) failed: \(errno)"
            case .invalidOption(let option, let reason):
                return "\(option): \(reason)"
            }
        }
    }
}

extension CRIU.Error: ErrorAdvice {
    /// What to do, in the CLI's terms (its --criu and --criu-timeout flags).
    public var advice: String {
        switch self {
            case .unavailable:
                return "install CRIU (4.1 or later on kernels 6.13+) and give it with --criu PATH or FREEZECTL_CRIU"
            case .checkFailed(_, _, let explanation):
                return explanation == nil ? "run `criu check` yourself; its output says what the kernel lacks" : "install a CRIU that supports this kernel and give it with --criu PATH or FREEZECTL_CRIU"
            case .failed(_, let log, _):
                return "read \(log) (written with -v4) for the whole story"
            case .strayProcesses:
                return "move them into the cgroup with --repair-tree (or freezectl verify --repair), or leave them out of the tree"
            case .abandoned(_, _, _, let log):
                return "read \(log) for where CRIU stopped; raise --criu-timeout if the tree is large"
            case .unsafeImages:
                return "give --images-dir a directory of your own (or root's) that only its owner may write, not a symlink"
            case .imagesNotUsable:
                return "check that --images-dir is on a writable file system and that its parent exists"
            case .invalidOption(let option, _):
                return option == "--paused" ? "give --cgroup TARGET for the tree to be restored into, or leave --paused out"
                    : "give \(option) a file path (a name in an existing directory)"
        }
    }
}
