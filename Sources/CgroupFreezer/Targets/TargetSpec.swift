import SystemPackage

/// One form of the target syntax: the table every help text and error names the forms from.
public struct TargetForm: Sendable, Hashable {
    /// How it is written (`cgroup:/PATH`).
    public var syntax: String
    /// What it names.
    public var meaning: String
}

/// What the user named as a target, before it is resolved against the host's layout.
public enum TargetSpec: Sendable, Hashable, CustomStringConvertible {
    /// An absolute cgroup directory, used as given (`/sys/fs/cgroup/freezer/job`).
    case directory(FilePath)
    /// A cgroup path relative to the hierarchy roots (`cgroup:/job`), resolved per hierarchy.
    case cgroup(String)
    /// The cgroup of a process (`pid:1234`).
    case pid(Int32)
    /// A container by ID, unique ID prefix or name: `runc:ID`, `crun:ID`, `docker:ID|NAME`,
    /// `podman:ID|NAME`, `containerd:[NAMESPACE/]ID`, or a bare `ID|NAME` (source nil) looked up
    /// in every source.
    case container(ContainerSource?, String)
    /// A systemd unit (`unit:nginx.service`), frozen through systemd's FreezeUnit.
    case unit(String)

    /// Every form, in the order help texts list them (each meaning fits one 80-column help line).
    public static let forms: [TargetForm] = [
        TargetForm(syntax: "/sys/fs/cgroup/...", meaning: "an absolute cgroup directory, used as given"),
        TargetForm(syntax: "cgroup:/PATH", meaning: "a cgroup path below the roots (v1 freezer first, else v2)"),
        TargetForm(syntax: "pid:N", meaning: "the cgroup of process N"),
        TargetForm(syntax: "unit:NAME", meaning: "a systemd unit, through FreezeUnit and ThawUnit"),
        TargetForm(syntax: "runc:ID", meaning: "a runc container, from its state directory"),
        TargetForm(syntax: "crun:ID", meaning: "a crun container, from its state directory"),
        TargetForm(syntax: "docker:ID|NAME", meaning: "a Docker container, through the Engine API"),
        TargetForm(syntax: "podman:ID|NAME", meaning: "a podman container, through its API service"),
        TargetForm(syntax: "containerd:[NS/]ID", meaning: "a containerd task, through its gRPC API"),
        TargetForm(syntax: "ID|NAME", meaning: "a container looked up in every source"),
    ]

    /// The forms' syntax on one line: `/sys/fs/cgroup/..., cgroup:/PATH, pid:N, ...`.
    public static let formList: String = {
        // A loop, not joined(separator:): every pause builds its target argument's help text
        // from this, and the stdlib's unspecialized joined looked an associated type up by
        // mangled name (200,000 instructions, 7 % of a cgroup pause; docs/performance.md).
        var list = ""
        for form in forms {
            if !list.isEmpty { list += ", " }
            list += form.syntax
        }
        return list
    }()

    /// The prefixes the syntax knows (`cgroup:`, `pid:`, `unit:`, and one per container source).
    static var prefixes: [String] { ["cgroup:", "pid:", "unit:"] + ContainerSource.allCases.map { "\($0.rawValue):" } }

    /// Parses the CLI syntax: `/abs/path`, `cgroup:/rel/path`, `pid:N`, `runc:ID`, `crun:ID`,
    /// `docker:ID|NAME`, or a bare container `ID|NAME`. Only the form is checked here; whether the
    /// target exists is the resolver's job.
    public init(parsing text: String) throws(CgroupLayout.Error) {
        if text.isEmpty {
            throw CgroupLayout.Error.invalidTarget(text, reason: "the target is empty")
        }
        // Prefixes are matched on Unicode scalars, not Characters: "/" followed by a combining
        // mark is one Character, and a path must not stop being a path because of what follows
        // its slash (found by the target-syntax fuzz harness: "/////\u{361}" printed as "/\u{361}").
        let scalars = text.unicodeScalars
        func hasPrefix(_ prefix: String) -> Bool { scalars.starts(with: prefix.unicodeScalars) }
        func dropping(_ prefix: String) -> String { String(scalars.dropFirst(prefix.unicodeScalars.count)) }
        if hasPrefix("pid:") {
            let number = dropping("pid:")
            guard let pid = Int32(number), pid > 0 else {
                throw CgroupLayout.Error.invalidTarget(text, reason: "pid:N needs a positive process ID, got \"\(number)\"")
            }
            self = .pid(pid)
        } else if hasPrefix("cgroup:") {
            let path = dropping("cgroup:")
            guard path.unicodeScalars.first == "/" else {
                throw CgroupLayout.Error.invalidTarget(text, reason: "cgroup:PATH needs a path starting with /, e.g. cgroup:/system.slice/web.service")
            }
            if FilePath(path).components.contains(where: { $0.kind == .parentDirectory }) {
                throw CgroupLayout.Error.invalidTarget(text, reason: "\"..\" is not allowed in cgroup:PATH")
            }
            if FilePath(path).lexicallyNormalized().components.isEmpty {
                throw CgroupLayout.Error.invalidTarget(text, reason: "cgroup:/ is the root cgroup, which has no freezer")
            }
            self = .cgroup(FilePath(path).lexicallyNormalized().string)
        } else if hasPrefix("unit:") {
            let name = dropping("unit:")
            guard !name.isEmpty, !name.contains("/") else {
                throw CgroupLayout.Error.invalidTarget(text, reason: "unit:NAME needs a unit name, e.g. unit:nginx.service")
            }
            self = .unit(name.contains(".") ? name : name + ".service")
        } else if hasPrefix("/") {
            self = .directory(FilePath(text))
        } else if let colon = scalars.firstIndex(of: ":") {
            let prefix = String(scalars[..<colon])
            guard let source = ContainerSource(rawValue: prefix) else {
                throw CgroupLayout.Error.invalidTarget(text, reason: "unknown prefix \"\(prefix):\" (known: \(Self.prefixes.joined(separator: ", ")))")
            }
            let reference = String(scalars[scalars.index(after: colon)...])
            // containerd's IDs are unique per namespace: `containerd:NAMESPACE/ID` names one.
            let parts = reference.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
            if source == .containerd && parts.count == 2 {
                try Self.checkContainerReference(String(parts[0]), in: text)
                try Self.checkContainerReference(String(parts[1]), in: text)
            } else {
                try Self.checkContainerReference(reference, in: text)
            }
            self = .container(source, reference)
        } else {
            try Self.checkContainerReference(text, in: text)
            self = .container(nil, text)
        }
    }

    /// Container IDs and names as Docker and the OCI runtimes allow them: `[A-Za-z0-9][A-Za-z0-9_.-]*`.
    private static func checkContainerReference(_ reference: String, in text: String) throws(CgroupLayout.Error) {
        let allowed = reference.unicodeScalars.allSatisfy { $0.properties.isASCIIHexDigit || ("a"..."z").contains($0)
            || ("A"..."Z").contains($0) || $0 == "_" || $0 == "." || $0 == "-" }
        guard let first = reference.unicodeScalars.first, allowed, first != ".", first != "-", first != "_" else {
            throw CgroupLayout.Error.invalidTarget(text, reason: "not a container ID or name (letters, digits, _ . -), nor any other target form: \(formList)")
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
