import SystemPackage

/// What the user named as a target, before it is resolved against the host's layout.
public enum TargetSpec: Sendable, Hashable, CustomStringConvertible {
    /// An absolute cgroup directory, used as given (`/sys/fs/cgroup/freezer/job`).
    case directory(FilePath)
    /// A cgroup path relative to the hierarchy roots (`cgroup:/job`), resolved per hierarchy.
    case cgroup(String)
    /// The cgroup of a process (`pid:1234`).
    case pid(Int32)

    /// Parses the CLI syntax: `/abs/path`, `cgroup:/rel/path`, `pid:N`. Only the form is checked
    /// here; whether the cgroup exists is the resolver's job.
    public init(parsing text: String) throws(FreezerError) {
        if text.isEmpty {
            throw .invalidTarget(text, reason: "the target is empty")
        }
        if text.hasPrefix("pid:") {
            let number = text.dropFirst(4)
            guard let pid = Int32(number), pid > 0 else {
                throw .invalidTarget(text, reason: "pid:N needs a positive process ID, got \"\(number)\"")
            }
            self = .pid(pid)
        } else if text.hasPrefix("cgroup:") {
            let path = String(text.dropFirst(7))
            guard path.hasPrefix("/") else {
                throw .invalidTarget(text, reason: "cgroup:PATH needs a path starting with /, e.g. cgroup:/system.slice/web.service")
            }
            if FilePath(path).components.contains(where: { $0.kind == .parentDirectory }) {
                throw .invalidTarget(text, reason: "\"..\" is not allowed in cgroup:PATH")
            }
            if FilePath(path).lexicallyNormalized().components.isEmpty {
                throw .invalidTarget(text, reason: "cgroup:/ is the root cgroup, which has no freezer")
            }
            self = .cgroup(FilePath(path).lexicallyNormalized().string)
        } else if text.hasPrefix("/") {
            self = .directory(FilePath(text))
        } else {
            throw .invalidTarget(text, reason: "unknown form")
        }
    }

    /// The target in the CLI syntax it was parsed from.
    public var description: String {
        switch self {
        case .directory(let path): return path.string
        case .cgroup(let path): return "cgroup:\(path)"
        case .pid(let pid): return "pid:\(pid)"
        }
    }
}
