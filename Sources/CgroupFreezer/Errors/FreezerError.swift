import SystemPackage

/// Why an operation on a target failed: what happened, the path involved, the errno where the
/// kernel gave one, and a stable code. What to do about it is the caller's to say (the CLI names
/// its flags and commands: Sources/freezectl/Output/NextSteps.swift).
public enum FreezerError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The target text is not of a known form (`/abs/path`, `cgroup:/rel`, `pid:N`).
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
    /// No container of the named sources matches the reference.
    case noSuchContainer(String, searched: [String])
    /// More than one container matches the reference; `matches` lists them as `source:id (name)`.
    case ambiguousContainer(String, matches: [String])
    /// The container has no running process, so it has no frozen or thawed state.
    case containerNotRunning(String)
    /// The container belongs to an engine that keeps its own pause state.
    case ownedByEngine(String, engine: String)
    /// A container source (runtime state directory, Docker socket) that a target names is not usable.
    case sourceUnavailable(source: String, path: FilePath, reason: String)
    /// The container engine answered an error.
    case engineError(String, status: Int, message: String)
    /// A `--filter` is malformed.
    case invalidFilter(String, reason: String)
    /// The operation was cancelled; a freeze in progress was thawed again.
    case cancelled
    /// No usable CRIU executable.
    case criuUnavailable(path: FilePath, reason: String)
    /// `criu check` failed; `explanation` names the cause when it is known.
    case criuCheckFailed(path: FilePath, output: String, explanation: String?)
    /// A CRIU dump or restore failed; `errors` are the `Error (...)` lines of its log.
    case criuFailed(operation: String, log: FilePath, errors: [String])
    /// Processes of the tree are outside the cgroup that will be frozen (CRIU would not seize them).
    case strayProcesses(cgroup: FilePath, strays: [String])
    /// Interrupted (SIGINT/SIGTERM) after CRIU finished; the cgroup was thawed.
    case interrupted(String)
    /// systemd answered an error for a `unit:` target (its D-Bus error name and message).
    case systemdError(unit: String, name: String, message: String)
    /// An audit sink could not take a record.
    case auditSinkFailed(sink: String, reason: String)
    /// `--audit-required` and no audit sink can take a record: nothing was done.
    case auditUnavailable(String)
    /// Freezing this cgroup would freeze the calling process itself.
    case selfFreeze(path: FilePath)
    /// The kernel refused access to a control file.
    case permissionDenied(path: FilePath, errno: Errno)
    /// The freeze (or thaw) did not complete before the deadline; the cgroup was thawed again.
    case timeout(path: FilePath, deadline: Duration, notFrozen: Int, processes: Int)
    /// The thaw was written but the kernel did not report the cgroup thawed before the deadline.
    case thawTimeout(path: FilePath, deadline: Duration)
    /// The thaw was written but an ancestor cgroup keeps this one frozen.
    case frozenByParent(path: FilePath, ancestor: FilePath?)
    /// A system call failed for another reason.
    case io(path: FilePath, operation: String, errno: Errno)
    /// CRIU did not finish within `--criu-timeout` (or the grace after a signal) and was killed with its process group.
    case criuAbandoned(operation: String, after: Duration, reason: String, log: FilePath)
    /// A cleanup thaw failed: the cgroup is left in `state`, which the user must see.
    case leftFrozen(path: FilePath, state: String, cause: String)
    /// A file freezectl was to write or read is not what it must be (a symlink, a FIFO, owned by someone else, too large).
    case unsafeFile(path: FilePath, reason: String)
    /// A source that is there failed while a selection needed it (dockerd answered with an
    /// error, or not at all): a failure, unlike an absent source named by a target.
    case sourceFailed(source: String, path: FilePath, reason: String)
    /// Another freezectl (or library user) held the cgroup's lock for the whole deadline.
    case busy(path: FilePath, deadline: Duration)

    /// True when the error means the input was wrong (exit code 2), not that an operation failed.
    public var isBadInput: Bool {
        switch self {
        case .invalidTarget, .notFound, .notOnCgroupfs, .noFreezer, .noSuchCgroup, .noSuchProcess, .processInRootCgroup,
             .noSuchContainer, .ambiguousContainer, .ownedByEngine, .sourceUnavailable, .invalidFilter:
            return true
        case .systemdError(_, let name, let message):
            return name.hasSuffix("NoSuchUnit") || message.hasSuffix("not loaded.") || name.hasSuffix("NoServer")
        default:
            return false
        }
    }

    /// A stable identifier for scripts (`error.code` in JSON output).
    public var code: String {
        switch self {
        case .invalidTarget: return "invalid-target"
        case .notFound: return "not-found"
        case .notOnCgroupfs: return "not-cgroupfs"
        case .noFreezer: return "no-freezer"
        case .noSuchCgroup: return "not-found"
        case .noSuchProcess: return "no-such-process"
        case .processInRootCgroup: return "root-cgroup"
        case .noCgroupMount: return "no-cgroup-mount"
        case .noSuchContainer: return "no-such-container"
        case .ambiguousContainer: return "ambiguous-container"
        case .containerNotRunning: return "container-not-running"
        case .ownedByEngine: return "owned-by-engine"
        case .sourceUnavailable: return "source-unavailable"
        case .engineError: return "engine-error"
        case .invalidFilter: return "invalid-filter"
        case .cancelled: return "cancelled"
        case .criuUnavailable: return "criu-unavailable"
        case .criuCheckFailed: return "criu-check-failed"
        case .criuFailed: return "criu-failed"
        case .strayProcesses: return "stray-processes"
        case .interrupted: return "interrupted"
        case .auditSinkFailed: return "audit-failed"
        case .systemdError: return "systemd-error"
        case .auditUnavailable: return "audit-unavailable"
        case .selfFreeze: return "self-freeze"
        case .permissionDenied: return "permission-denied"
        case .timeout, .thawTimeout: return "timeout"
        case .frozenByParent: return "frozen-by-parent"
        case .io: return "io"
        case .criuAbandoned: return "criu-abandoned"
        case .leftFrozen: return "left-frozen"
        case .unsafeFile: return "unsafe-file"
        case .sourceFailed: return "source-failed"
        case .busy: return "busy"
        }
    }

    /// The path the error is about, when there is one.
    public var path: FilePath? {
        switch self {
        case .notFound(let path), .notOnCgroupfs(let path), .noFreezer(let path, _), .selfFreeze(let path),
             .permissionDenied(let path, _), .timeout(let path, _, _, _), .thawTimeout(let path, _), .frozenByParent(let path, _),
             .io(let path, _, _), .leftFrozen(let path, _, _), .unsafeFile(let path, _), .criuAbandoned(_, _, _, let path), .sourceFailed(_, let path, _), .busy(let path, _):
            return path
        case .sourceUnavailable(_, let path, _), .criuUnavailable(let path, _), .criuCheckFailed(let path, _, _),
             .criuFailed(_, let path, _), .strayProcesses(let path, _):
            return path
        case .invalidTarget, .noSuchCgroup, .noSuchProcess, .processInRootCgroup, .noCgroupMount, .noSuchContainer,
             .ambiguousContainer, .containerNotRunning, .ownedByEngine, .engineError, .invalidFilter, .cancelled, .interrupted, .auditSinkFailed, .auditUnavailable, .systemdError:
            return nil
        }
    }

    /// The errno the kernel returned, when there is one.
    public var errno: Errno? {
        switch self {
        case .permissionDenied(_, let errno), .io(_, _, let errno): return errno
        case .notFound: return .noSuchFileOrDirectory
        default: return nil
        }
    }

    /// One sentence saying what went wrong, naming the input.
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
        case .noSuchContainer(let reference, let searched):
            return "\(reference): no such container (looked in \(searched.joined(separator: ", ")))"
        case .ambiguousContainer(let reference, let matches):
            return "\(reference) matches more than one container: \(matches.joined(separator: ", "))"
        case .containerNotRunning(let reference):
            return "\(reference) is not running"
        case .ownedByEngine(let reference, let engine):
            return "\(reference) belongs to \(engine), which keeps its own pause state; freezing it behind \(engine)'s back would make \(engine) wrong about it"
        case .sourceUnavailable(let source, let path, let reason):
            return "\(source) is not available at \(path): \(reason)"
        case .engineError(let reference, let status, let message):
            return "\(reference): the engine answered \(status): \(message)"
        case .cancelled:
            return "cancelled; a freeze in progress was thawed again"
        case .criuUnavailable(let path, let reason):
            return "CRIU \(path) cannot be used: \(reason)"
        case .criuCheckFailed(let path, let output, let explanation):
            return "`\(path) check` failed: \(output)" + (explanation.map { "\n  cause: \($0)" } ?? "")
        case .criuFailed(let operation, let log, let errors):
            return "criu \(operation) failed (log: \(log)):\n    " + errors.joined(separator: "\n    ")
        case .strayProcesses(let cgroup, let strays):
            return "\(strays.count) process(es) of the tree are outside \(cgroup), so CRIU could not seize them: " + strays.joined(separator: "; ")
        case .interrupted(let what):
            return "interrupted: \(what)"
        case .systemdError(let unit, let name, let message):
            return "unit:\(unit): systemd answered \(name): \(message)"
        case .auditSinkFailed(let sink, let reason):
            return "audit record not written to \(sink): \(reason)"
        case .auditUnavailable(let reason):
            return "refusing to act without an audit trail (--audit-required): \(reason)"
        case .invalidFilter(let text, let reason):
            return "invalid filter \"\(text)\": \(reason)"
        case .noCgroupMount:
            return "no cgroup filesystem is mounted (nothing of type cgroup or cgroup2 in /proc/self/mountinfo)"
        case .selfFreeze(let path):
            return "refusing to freeze \(path): it contains this process, which would freeze itself and hang"
        case .permissionDenied(let path, let errno):
            return "permission denied on \(path) (\(errno))"
        case .timeout(let path, let deadline, let notFrozen, let processes):
            return "\(path) did not freeze within \(deadline.shortDescription): \(notFrozen) of \(processes) processes were not frozen; it was thawed again"
        case .thawTimeout(let path, let deadline):
            return "\(path) was not reported thawed within \(deadline.shortDescription)"
        case .frozenByParent(let path, let ancestor):
            if let ancestor { return "\(path) is thawed itself but stays frozen because its ancestor \(ancestor) is frozen" }
            return "\(path) is thawed itself but stays frozen because an ancestor is frozen"
        case .io(let path, let operation, let errno):
            return "\(operation) \(path) failed: \(errno)"
        case .criuAbandoned(let operation, let after, let reason, _):
            return "criu \(operation) abandoned after \(after.shortDescription) (\(reason)): CRIU and its process group were killed; the tree is back in the state the \(operation) found it in"
        case .leftFrozen(let path, let state, let cause):
            return "\(path) could not be thawed after the failure and is \(state): \(cause)"
        case .unsafeFile(let path, let reason):
            return "refusing to use \(path): \(reason)"
        case .busy(let path, let deadline):
            return "\(path) stayed locked by another freeze or thaw for \(deadline.shortDescription); nothing was written"
        case .sourceFailed(let source, let path, let reason):
            return "\(source) at \(path) could not be read for the selection: \(reason)"
        }
    }

    /// The message, for logs.
    public var description: String { message }
}

