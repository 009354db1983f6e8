import SystemPackage

extension CgroupFreezer {
    /// The freezer: a freeze or thaw was refused, did not complete, or was stopped. (A file
    /// operation on the cgroup that failed is a `CgroupLayout.Error`.)
    public enum Error: FreezectlError, Equatable {
        /// Freezing this cgroup would freeze the calling process itself.
        case selfFreeze(path: FilePath)
        /// The freeze did not complete before the deadline; the request found before was put back.
        case timeout(path: FilePath, deadline: Duration, notFrozen: Int, processes: Int)
        /// The thaw was written but the kernel did not report the cgroup thawed before the deadline.
        case thawTimeout(path: FilePath, deadline: Duration)
        /// The thaw was written but an ancestor cgroup keeps this one frozen.
        case frozenByParent(path: FilePath, ancestor: FilePath?)
        /// Another freezectl (or library user) held the cgroup's lock for the whole deadline.
        case busy(path: FilePath, deadline: Duration)
        /// A cleanup thaw failed: the cgroup is left in `state`, which the user must see.
        case leftFrozen(path: FilePath, state: String, cause: String)
        /// The cgroup was removed (its last process exited) while it was being frozen or thawed:
        /// nothing of it is left, frozen or not.
        case removed(path: FilePath)
        /// The operation was cancelled while in progress; a freeze was undone (the earlier request put back).
        case cancelled
        /// Stopped before this target was started (nothing was changed), or after CRIU finished.
        case interrupted(String)
        /// The cgroup at `path` is not the one that was resolved or recorded (it was removed and
        /// made again under the same name, or its container started again): nothing was written.
        case replaced(path: FilePath, reason: String)

        public var code: String {
            switch self {
            case .selfFreeze: return "self-freeze"
            case .timeout, .thawTimeout: return "timeout"
            case .frozenByParent: return "frozen-by-parent"
            case .busy: return "busy"
            case .leftFrozen: return "left-frozen"
            case .removed: return "cgroup-removed"
            case .cancelled: return "cancelled"
            case .interrupted: return "interrupted"
            case .replaced: return "target-replaced"
            }
        }

        public var path: FilePath? {
            switch self {
            case .selfFreeze(let path), .timeout(let path, _, _, _), .thawTimeout(let path, _), .frozenByParent(let path, _),
                 .busy(let path, _), .leftFrozen(let path, _, _), .removed(let path), .replaced(let path, _):
                return path
            case .cancelled, .interrupted:
                return nil
            }
        }

        public var message: String {
            switch self {
            case .selfFreeze(let path):
                return "refusing to freeze \(path): it contains this process, which would freeze itself and hang"
            case .timeout(let path, let deadline, let notFrozen, let processes):
                return "\(path) did not freeze within \(deadline.shortDescription): \(notFrozen) of \(processes) processes were not frozen; it was thawed again"
            case .thawTimeout(let path, let deadline):
                return "\(path) was not reported thawed within \(deadline.shortDescription)"
            case .frozenByParent(let path, let ancestor):
                if let ancestor { return "\(path) is thawed itself but stays frozen because its ancestor \(ancestor) is frozen" }
                return "\(path) is thawed itself but stays frozen because an ancestor is frozen"
            case .busy(let path, let deadline):
                return "\(path) stayed locked by another freeze or thaw for \(deadline.shortDescription); nothing was written"
            case .leftFrozen(let path, let state, let cause):
                return "\(path) could not be thawed after the failure and is \(state): \(cause)"
            case .removed(let path):
                return "\(path) was removed while the operation was in progress (its processes exited); nothing of it is left frozen"
            case .cancelled:
                return "cancelled; what was in progress was undone (a waiting freeze thawed, a probe killed)"
            case .interrupted(let what):
                return "interrupted: \(what)"
            case .replaced(let path, let reason):
                return "\(path) is not the same object any more: \(reason); nothing was written to it"
            }
        }
    }
}
