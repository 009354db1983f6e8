import CgroupFreezer
import ContainerRuntimes

/// What the user can do about an error, in the CLI's terms (its flags, its commands, the tools
/// next to it). The library's errors say what happened; this is the advice the CLI adds.
extension FreezectlError {
    /// What the user can do about it.
    public var nextStep: String {
        switch self {
        case let error as CgroupLayout.Error: return error.advice
        case let error as CgroupFreezer.Error: return error.advice
        case let error as ContainerCatalog.Error: return error.advice
        case let error as SystemdManager.Error: return error.advice
        case let error as AuditTrail.Error: return error.advice
        case let error as any ErrorAdvice: return error.advice
        default: return "report this as a bug"
        }
    }

    /// The message and the next step on one line (usage errors, logs).
    public var withNextStep: String { "\(message); next step: \(nextStep)" }
}

extension Error {
    /// A library error's message and next step; any other error as Swift prints it.
    public var withNextStep: String { (self as? any FreezectlError)?.withNextStep ?? "\(self)" }
}

extension CgroupLayout.Error {
    public var advice: String {
        switch self {
            case .invalidTarget:
                return "give one of: \(TargetSpec.formList)"
            case .notFound:
                return "check the path; `freezectl status` lists frozen cgroups, /proc/PID/cgroup shows a process's cgroups"
            case .notOnCgroupfs:
                return "give a directory under a cgroup mount (see `grep cgroup /proc/self/mountinfo`), or cgroup:/path or pid:N"
            case .noFreezer:
                return "give a cgroup below the root of the freezer (v1) or unified (v2) hierarchy, or use cgroup:/path to let freezectl pick it"
            case .noSuchCgroup:
                return "check the path; `freezectl status` lists frozen cgroups, /proc/PID/cgroup shows a process's cgroups"
            case .noSuchProcess:
                return "check the PID with `ps`; the process may have exited"
            case .processInRootCgroup:
                return "move the process into a child cgroup first (e.g. with systemd-run or by writing its PID to a child's cgroup.procs)"
            case .noCgroupMount:
                return "mount cgroup2 (mount -t cgroup2 none /sys/fs/cgroup) or the v1 freezer controller"
            case .permissionDenied:
                return "run as root, or delegate the subtree to your user (chown the cgroup directory and its freeze files)"
            case .io:
                return "check that the cgroup still exists and that the kernel supports this freezer"
            case .unsafeFile:
                return "give a path in a directory only you (or root) can write, and remove what is in the way"
        }
    }
}

extension CgroupFreezer.Error {
    public var advice: String {
        switch self {
            case .cancelled:
                return "run the command again"
            case .interrupted:
                return "run the command again when you want it to finish"
            case .replaced:
                return "look at what is there now (`freezectl status`); name it again if you mean to act on it"
            case .selfFreeze:
                return "run freezectl from outside the target cgroup (e.g. from a sibling cgroup or the root)"
            case .timeout:
                return "retry with a longer --timeout; processes in uninterruptible sleep (D state) delay freezing"
            case .thawTimeout:
                return "run `freezectl status` on it; retry the unpause with a longer --timeout"
            case .frozenByParent(_, let ancestor):
                if let ancestor { return "unpause the ancestor: freezectl unpause \(ancestor)" }
                return "unpause the frozen ancestor cgroup"
            case .leftFrozen(let path, _, _):
                return "check it with `freezectl status \(path)` and thaw it with `freezectl unpause \(path)`"
            case .removed:
                return "nothing to do for it; if it was a container's, its engine shows it stopped"
            case .busy(let path, _):
                return "another freezectl is changing it; retry, or see who holds the lock with `lslocks | grep \(path.lastComponent?.string ?? "")`"
        }
    }
}

extension ContainerCatalog.Error {
    public var advice: String {
        switch self {
            case .noSuchContainer(let reference, _):
                // A named source's own list; a bare name could be any source's.
                let named = reference.split(separator: ":", maxSplits: 1).first.flatMap { Self.advice(of: String($0)) }
                let lists = (named.map { [$0.list] } ?? ContainerSources.all.map(\.advice.list)).joined(separator: ", ")
                return "check the ID or name with \(lists) or `freezectl status --all`, or name another target form: \(TargetSpec.formList)"
            case .ambiguousContainer:
                return "name one of them with its source, e.g. runc:ID, docker:NAME or containerd:NAMESPACE/ID, or give a longer ID prefix"
            case .containerNotRunning:
                return "start the container first; only a running or paused container has a cgroup to freeze"
            case .ownedByEngine(_, let engine):
                // An owner freezectl has no source for (CRI-O): no target of its to suggest.
                guard let kind = ContainerSources.kind(of: ContainerSource(rawValue: engine)) else {
                    return "freezectl has no \(engine) source to pause it through: pass --direct to write its cgroup anyway, and \(engine)'s view of it goes stale"
                }
                let target = kind.advice.target
                return "pause it through \(engine) (\(target)), or pass --direct to write its cgroup anyway and leave \(engine)'s view stale"
            case .sourceUnavailable(let source, _, _):
                return Self.advice(of: source)?.start ?? "check that the runtime has containers here, or give its state directory with --runtime-root"
            case .engineError(_, 409, _):
                return "undo the write made behind the engine's back with freezectl --direct, or ask the engine"
            case .engineError(let reference, _, _):
                // The reference is the container's `source:id`.
                let source = reference.split(separator: ":", maxSplits: 1).first.map(String.init) ?? ""
                return Self.advice(of: source)?.checkContainer ?? "check the container with its engine's own tool; the engine's log says more"
            case .invalidFilter(let text, _):
                if text.hasPrefix("--namespace") { return "give a namespace as `ctr namespaces ls` lists it, e.g. --namespace k8s.io" }
                return "use KEY=VALUE with a key of: \(ContainerFilter.validKeys.joined(separator: ", "))"
            case .stateUnreadable:
                return "check the runtime's state directory (`runc list`); a container that exited while it was read is simply gone"
            case .untrustedState:
                return "make the runtime root and each container's state writable by their owner alone (chmod go-w); a user's state may only name cgroups delegated to that user, so to pause another cgroup, name the cgroup itself"
            case .engineLost:
                return "check the engine (is it running? its log says more); `freezectl status` shows the cgroup's state now and the engine's view"
            case .sourceFailed(let source, _, _):
                return "\(Self.advice(of: source)?.checkSource ?? "check the runtime's state directory"); its containers were not selected"
        }
    }

    /// The next steps of the source called `name`.
    private static func advice(of name: String) -> SourceAdvice? {
        ContainerSources.kind(of: ContainerSource(rawValue: name))?.advice
    }
}

extension AuditTrail.Error {
    public var advice: String {
        switch self {
            case .sinkFailed, .recordNotWritten:
                return "check the journal (systemd-journald running?) or the --audit-log file's directory and permissions"
            case .unavailable:
                return "start systemd-journald or give a writable --audit-log FILE (or FREEZECTL_AUDIT_LOG)"
        }
    }
}

extension SystemdManager.Error {
    public var advice: String {
        let message = text
        if name.hasSuffix("NoSuchUnit") || message.hasSuffix("not loaded.") { return "check the name with `systemctl list-units`" }
        if name.hasSuffix("NoServer") { return "is systemd running? point DBUS_SYSTEM_BUS_ADDRESS at its system bus" }
        if name.hasSuffix("UnitInactive") { return "start \(unit) first; an inactive unit has nothing to freeze" }
        if name.hasSuffix("UnitBusy") { return "a job is pending on \(unit); retry when it is done (systemctl list-jobs)" }
        return "see `systemctl status \(unit)`"
    }
}
