import SystemPackage

/// What the user named as a target, before it is resolved against the host's layout.
public enum TargetSpec: Sendable, Hashable, CustomStringConvertible {
    /// An absolute cgroup directory, used as given (`/sys/fs/cgroup/freezer/job`).
    case directory(FilePath)
    /// A cgroup path relative to the hierarchy roots (`cgroup:/job`), resolved per hierarchy.
    case cgroup(String)
    /// The cgroup of a process (`pid:1234`).
    case pid(Int32)
    /// A container by ID, unique ID prefix or name: `runc:ID`, `crun:ID`, `docker:ID|NAME`, or a
    /// bare `ID|NAME` (source nil) looked up in every source.
    case container(ContainerSource?, String)
    /// A systemd unit (`unit:nginx.service`), frozen through systemd's FreezeUnit.
    case unit(String)

    /// Parses the CLI syntax: `/abs/path`, `cgroup:/rel/path`, `pid:N`, `runc:ID`, `crun:ID`,
    /// `docker:ID|NAME`, or a bare container `ID|NAME`. Only the form is checked here; whether the
    /// target exists is the resolver's job.
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
        } else if text.hasPrefix("unit:") {
            let name = String(text.dropFirst(5))
            guard !name.isEmpty, !name.contains("/") else {
                throw .invalidTarget(text, reason: "unit:NAME needs a unit name, e.g. unit:nginx.service")
            }
            self = .unit(name.contains(".") ? name : name + ".service")
        } else if text.hasPrefix("/") {
            self = .directory(FilePath(text))
        } else if let colon = text.firstIndex(of: ":") {
            guard let source = ContainerSource(rawValue: String(text[..<colon])) else {
                throw .invalidTarget(text, reason: "unknown prefix \"\(text[..<colon]):\" (known: cgroup:, pid:, runc:, crun:, docker:)")
            }
            let reference = String(text[text.index(after: colon)...])
            try Self.checkContainerReference(reference, in: text)
            self = .container(source, reference)
        } else {
            try Self.checkContainerReference(text, in: text)
            self = .container(nil, text)
        }
    }

    /// Container IDs and names as Docker and the OCI runtimes allow them: `[A-Za-z0-9][A-Za-z0-9_.-]*`.
    private static func checkContainerReference(_ reference: String, in text: String) throws(FreezerError) {
        let allowed = reference.unicodeScalars.allSatisfy { $0.properties.isASCIIHexDigit || ("a"..."z").contains($0)
            || ("A"..."Z").contains($0) || $0 == "_" || $0 == "." || $0 == "-" }
        guard let first = reference.unicodeScalars.first, allowed, first != ".", first != "-", first != "_" else {
            throw .invalidTarget(text, reason: "not a container ID or name (letters, digits, _ . -), nor an absolute path, cgroup:/PATH or pid:N")
        }
    }

    /// The target in the CLI syntax it was parsed from.
    public var description: String {
        switch self {
        case .directory(let path): return path.string
        case .cgroup(let path): return "cgroup:\(path)"
        case .pid(let pid): return "pid:\(pid)"
        case .container(let source?, let reference): return "\(source.rawValue):\(reference)"
        case .container(nil, let reference): return reference
        case .unit(let name): return "unit:\(name)"
        }
    }
}
