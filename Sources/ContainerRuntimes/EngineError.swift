import CgroupFreezer
import SystemPackage

extension ContainerCatalog {
    /// Containers and engines: a container reference, a source or an engine's answer.
    public enum Error: FreezectlError, Equatable {
        /// No container of the named sources matches the reference.
        case noSuchContainer(String, searched: [String])
        /// More than one container matches the reference; `matches` lists them as `source:id (name)`.
        case ambiguousContainer(String, matches: [String])
        /// The container has no running process, so it has no frozen or thawed state.
        case containerNotRunning(String)
        /// The container belongs to an engine that keeps its own pause state.
        case ownedByEngine(String, engine: String)
        /// A container source (runtime state directory, engine socket) that a target names is not usable.
        case sourceUnavailable(source: String, path: FilePath, reason: String)
        /// A source that is there failed while a selection needed it (the engine answered with an
        /// error, or not at all): a failure, unlike an absent source named by a target.
        case sourceFailed(source: String, path: FilePath, reason: String)
        /// The engine went away during the run: it took a request and gave no answer (it died,
        /// closed the connection, or did not answer in time), or, having answered before, refused
        /// the connection. Whether the change was made is not known from the engine.
        case engineLost(String, path: FilePath, reason: String)
        /// The engine answered an error (`status` is its HTTP status; 409: it disagrees with the cgroup).
        case engineError(String, status: Int, message: String)
        /// A filter is malformed, or given where it cannot select.
        case invalidFilter(String, reason: String)
        /// A runtime's state is not believed: its root may be written by anyone but its owner, or
        /// the state was written by someone who does not own the cgroup it names (StateWriters).
        /// `path` is the runtime root or the state file.
        case untrustedState(String, path: FilePath, reason: String)
        /// A runtime's state file could not be read (`errno`, when the kernel gave one), or is
        /// not a file freezectl reads (a symlink, a FIFO, too large).
        case stateUnreadable(path: FilePath, errno: Errno?, reason: String)

        public var isBadInput: Bool {
            switch self {
            case .noSuchContainer, .ambiguousContainer, .ownedByEngine, .sourceUnavailable, .invalidFilter, .untrustedState: return true
            case .containerNotRunning, .sourceFailed, .engineLost, .engineError, .stateUnreadable: return false
            }
        }

        public var code: String {
            switch self {
            case .noSuchContainer: return "no-such-container"
            case .ambiguousContainer: return "ambiguous-container"
            case .containerNotRunning: return "container-not-running"
            case .ownedByEngine: return "owned-by-engine"
            case .sourceUnavailable: return "source-unavailable"
            case .engineLost: return "engine-lost"
            case .sourceFailed: return "source-failed"
            case .engineError: return "engine-error"
            case .invalidFilter: return "invalid-filter"
            case .untrustedState: return "untrusted-state"
            case .stateUnreadable: return "io"
            }
        }

        public var path: FilePath? {
            switch self {
            case .sourceUnavailable(_, let path, _), .sourceFailed(_, let path, _), .engineLost(_, let path, _), .untrustedState(_, let path, _),
                 .stateUnreadable(let path, _, _): return path
            default: return nil
            }
        }

        public var message: String {
            switch self {
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
            case .sourceFailed(let source, let path, let reason):
                return "\(source) at \(path) could not be read for the selection: \(reason)"
            case .engineLost(let reference, let path, let reason):
                return "\(reference): the engine at \(path) stopped answering during this run (\(reason)); the result's state is the cgroup's when freezectl gave up, and a request the engine took may still finish or be undone"
            case .engineError(let reference, let status, let message):
                return "\(reference): the engine answered \(status): \(message)"
            case .invalidFilter(let text, let reason):
                return "invalid filter \"\(text)\": \(reason)"
            case .untrustedState(let reference, _, let reason):
                return "\(reference): \(reason)"
            case .stateUnreadable(let path, _, let reason):
                return "runtime state \(path) cannot be read: \(reason)"
            }
        }

        public var errno: Errno? {
            if case .stateUnreadable(_, let errno, _) = self { return errno }
            return nil
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

extension ContainerCatalog.Error {
    /// Why an engine's socket cannot be used, or nil when it exists and is a socket; `advice`
    /// says what to start when there is none.
    package static func socketUnavailability(source: ContainerSource, path: FilePath, advice: String) -> Self? {
        var buffer = stat()
        guard path.withPlatformString({ stat($0, &buffer) }) == 0 else {
            return .sourceUnavailable(source: source.rawValue, path: path, reason: "no such socket (\(advice))")
        }
        guard (buffer.st_mode & S_IFMT) == S_IFSOCK else {
            return .sourceUnavailable(source: source.rawValue, path: path, reason: "not a socket")
        }
        return nil
    }
}

extension SystemdManager {
    /// systemd: an error systemd (or the system bus) answered, by its D-Bus name and message.
    public struct Error: FreezectlError, Equatable {
        /// The unit asked about (empty for a call about no unit).
        public var unit: String
        /// e.g. `org.freedesktop.systemd1.NoSuchUnit`, `org.freedesktop.DBus.Error.NotSupported`.
        public var name: String
        /// The message.
        public var message: String { "unit:\(unit): systemd answered \(name): \(text)" }
        /// systemd's own message.
        public var text: String

        /// An error about `unit` with this name and message.
        public init(unit: String, name: String, text: String) {
            self.unit = unit
            self.name = name
            self.text = text
        }

        public var code: String { "systemd-error" }

        /// No such unit, or no system bus: the target cannot be reached at all.
        public var isBadInput: Bool { name.hasSuffix("NoSuchUnit") || text.hasSuffix("not loaded.") || name.hasSuffix("NoServer") }

        /// Whether systemd cannot freeze here (systemd 252 on a v1 or hybrid layout).
        public var isNotSupported: Bool { name.hasSuffix("NotSupported") || text.contains("does not support freezing") }

        /// Whether the call got no answer within its bound (sd-bus's own timeout).
        public var isTimeout: Bool {
            name.hasSuffix("Error.Timeout") || name.hasSuffix("Error.NoReply") || text.contains("Connection timed out")
        }
    }
}
