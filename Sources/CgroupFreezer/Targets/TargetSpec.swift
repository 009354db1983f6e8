import SystemPackage

/// One form of the target syntax: the table every help text and error names the forms from.
public struct TargetForm: Sendable, Hashable {
    /// How it is written (`cgroup:/PATH`).
    public var syntax: String
    /// What it names.
    public var meaning: String

    public init(syntax: String, meaning: String) {
        self.syntax = syntax
        self.meaning = meaning
    }
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

    /// The forms the core parses itself, in the order help texts list them (each meaning fits one
    /// 80-column help line); the container sources' forms follow them (ContainerRuntimes).
    public static let kernelForms: [TargetForm] = [
        TargetForm(syntax: "/sys/fs/cgroup/...", meaning: "an absolute cgroup directory, used as given"),
        TargetForm(syntax: "cgroup:/PATH", meaning: "a cgroup path below the roots (v1 freezer first, else v2)"),
        TargetForm(syntax: "pid:N", meaning: "the cgroup of process N"),
        TargetForm(syntax: "unit:NAME", meaning: "a systemd unit, through FreezeUnit and ThawUnit"),
    ]

    /// The bare form, listed last.
    public static let bareForm = TargetForm(syntax: "ID|NAME", meaning: "a container looked up in every source")

    /// Every form, with `sources`' between the core's and the bare one.
    public static func forms(with sources: [ContainerSourceSyntax]) -> [TargetForm] {
        kernelForms + sources.map(\.form) + [bareForm]
    }

    /// The forms' syntax on one line: `/sys/fs/cgroup/..., cgroup:/PATH, pid:N, ...`.
    public static func formList(with sources: [ContainerSourceSyntax]) -> String {
        // A loop, not joined(separator:): every pause builds its target argument's help text
        // from this, and the stdlib's unspecialized joined looked an associated type up by
        // mangled name (200,000 instructions, 7 % of a cgroup pause; docs/performance.md).
        var list = ""
        for form in forms(with: sources) {
            if !list.isEmpty { list += ", " }
            list += form.syntax
        }
        return list
    }

    /// Parses the CLI syntax: `/abs/path`, `cgroup:/rel/path`, `pid:N`, `unit:NAME`, one of
    /// `sources`' `SOURCE:ID|NAME` (`SOURCE:SCOPE/ID` where the source has scopes), or a bare
    /// container `ID|NAME`. Only the form is checked here; whether the target exists is the
    /// resolver's job. ContainerRuntimes' `init(parsing:)` passes every registered source.
    public init(parsing text: String, sources: [ContainerSourceSyntax]) throws(CgroupLayout.Error) {
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
            guard let syntax = sources.first(where: { $0.source.rawValue == prefix }) else {
                let known = ["cgroup:", "pid:", "unit:"] + sources.map { "\($0.source.rawValue):" }
                throw CgroupLayout.Error.invalidTarget(text, reason: "unknown prefix \"\(prefix):\" (known: \(known.joined(separator: ", ")))")
            }
            let source = syntax.source
            let reference = String(scalars[scalars.index(after: colon)...])
            // Some sources' IDs are unique per scope only: `containerd:NAMESPACE/ID` names one.
            let parts = reference.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
            if syntax.scopedReferences && parts.count == 2 {
                try Self.checkContainerReference(String(parts[0]), in: text, sources: sources)
                try Self.checkContainerReference(String(parts[1]), in: text, sources: sources)
            } else {
                try Self.checkContainerReference(reference, in: text, sources: sources)
            }
            self = .container(source, reference)
        } else {
            try Self.checkContainerReference(text, in: text, sources: sources)
            self = .container(nil, text)
        }
    }

    /// Container IDs and names as Docker and the OCI runtimes allow them: `[A-Za-z0-9][A-Za-z0-9_.-]*`.
    private static func checkContainerReference(_ reference: String, in text: String, sources: [ContainerSourceSyntax]) throws(CgroupLayout.Error) {
        let allowed = reference.unicodeScalars.allSatisfy { $0.properties.isASCIIHexDigit || ("a"..."z").contains($0)
            || ("A"..."Z").contains($0) || $0 == "_" || $0 == "." || $0 == "-" }
        guard let first = reference.unicodeScalars.first, allowed, first != ".", first != "-", first != "_" else {
            throw CgroupLayout.Error.invalidTarget(text, reason: "not a container ID or name (letters, digits, _ . -), nor any other target form: \(formList(with: sources))")
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
