import CgroupFreezer
import ContainerEngines
import ContainerRuntimes
import SystemPackage
import TOMLKit
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Who may do what through the daemon: the rules of the policy file (docs/daemon.md). Everything
/// no rule grants is refused, for everyone but root (whom a file on the same machine cannot
/// restrict: root can write the cgroups itself).
///
/// ```toml
/// [[rule]]
/// groups = ["unpausers"]                 # and/or users = ["alice"]; "*" is everyone
/// actions = ["unpause", "status"]
/// filters = ["label=auto_resume=true"]   # the CLI's --filter language
/// # sources = ["docker"], cgroups = ["/batch/"] (path prefixes), units = ["web.service"]
/// ```
///
/// A rule covers a target when the target matches every kind of selector the rule gives (any
/// entry of each list); a rule with no selector covers every target.
public struct Policy: Sendable {
    /// What a rule may grant.
    public enum Action: String, Sendable, CaseIterable, Codable {
        case status, pause, unpause, checkpoint, restore, lease
        /// The deep pause's memory work, granted besides the pause or unpause it goes with: a
        /// reclaim makes swap I/O for the whole node, which an operator may keep to some targets.
        case reclaim, prefetch
    }

    /// One `[[rule]]`.
    public struct Rule: Sendable {
        /// Its position in the file (1-based), which refusals and audit records name.
        public var number: Int
        /// User names (or numeric uids); "*" is everyone.
        public var users: [String]
        /// Group names (or numeric gids); a caller is in a group by its primary or a supplementary gid.
        public var groups: [String]
        /// What it grants.
        public var actions: Set<Action>
        /// Containers matching these `--filter` clauses (the CLI's semantics).
        public var filter: ContainerFilter
        /// Containers of these sources.
        public var sources: [ContainerSource]
        /// Targets whose cgroup is one of these or below (cgroup paths as /proc/PID/cgroup writes
        /// them, e.g. `/batch`, in whichever hierarchy the target is; matched by whole components).
        public var cgroups: [FilePath]
        /// systemd units by name.
        public var units: [String]

        /// Whether `caller` is one of the rule's users or in one of its groups.
        func names(_ caller: Caller) -> Bool {
            if users.contains("*") || groups.contains("*") { return true }
            if users.contains(where: { $0 == caller.userName || $0 == String(caller.credentials.uid) }) { return true }
            return caller.groups.contains { gid, name in
                groups.contains { $0 == name || $0 == String(gid) }
            }
        }

        /// Whether the rule's selectors cover `subject`.
        func covers(_ subject: Subject) -> Bool {
            if !filter.isEmpty {
                guard let container = subject.container, subject.matches(container, filter) else { return false }
            }
            if !sources.isEmpty {
                guard let container = subject.container, sources.contains(container.source) else { return false }
            }
            if !cgroups.isEmpty {
                // Whole components: /batch covers /batch/job, not /batchy.
                guard let path = subject.cgroupPath.map({ FilePath($0) }), cgroups.contains(where: { path.starts(with: $0) }) else { return false }
            }
            if !units.isEmpty {
                guard let unit = subject.unit, units.contains(unit) else { return false }
            }
            return true
        }
    }

    /// What a rule is matched against: the resolved target.
    public struct Subject: Sendable {
        /// The container, when the target is one.
        public var container: Container?
        /// The cgroup whose state is the truth, as /proc/PID/cgroup writes it (`/batch/job`).
        public var cgroupPath: String?
        /// The unit, when the target is one.
        public var unit: String?
        /// Whether a container matches a filter (the resolver's matching, which reads the freezer
        /// state and memory only when a clause asks).
        public var matches: @Sendable (Container, ContainerFilter) -> Bool

        public init(container: Container?, cgroupPath: String?, unit: String?,
                    matches: @escaping @Sendable (Container, ContainerFilter) -> Bool) {
            self.container = container
            self.cgroupPath = cgroupPath
            self.unit = unit
            self.matches = matches
        }
    }

    /// The rules in file order.
    public var rules: [Rule]

    /// No rule: only root may do anything.
    public static let rootOnly = Policy(rules: [])

    init(rules: [Rule]) {
        self.rules = rules
    }

    /// The rule that lets `caller` do `action` on `subject`, the first in file order; nil when
    /// none does. Root needs none (`Decision.root`).
    public func decide(_ caller: Caller, _ action: Action, _ subject: Subject) -> Decision {
        if caller.credentials.isRoot { return .root }
        for rule in rules where rule.actions.contains(action) && rule.names(caller) && rule.covers(subject) {
            return .rule(rule.number)
        }
        return .refused
    }

    /// Whether some rule lets `caller` do `action` on anything at all: a request that picks
    /// targets (`all`, filters) from a caller with no such rule is refused as a whole.
    public func mayEver(_ caller: Caller, _ action: Action) -> Bool {
        caller.credentials.isRoot || rules.contains { $0.actions.contains(action) && $0.names(caller) }
    }

    /// What a decision was.
    public enum Decision: Sendable, Hashable, CustomStringConvertible {
        /// The caller is root.
        case root
        /// Allowed by the rule with this number.
        case rule(Int)
        /// No rule allows it.
        case refused

        public var isAllowed: Bool { self != .refused }

        /// How audit records name it: `root`, `rule 2`, `refused`.
        public var description: String {
            switch self {
            case .root: return "root"
            case .rule(let number): return "rule \(number)"
            case .refused: return "refused"
            }
        }
    }
}

// The file.
extension Policy {
    /// The default policy file.
    public static let defaultFile: FilePath = "/etc/freezectl/policy.toml"

    /// The largest policy file read: a policy is a few rules.
    static let sizeLimit = 1 << 20

    /// Reads the policy file's text (`PolicyParseCheck.load` parses it). The file grants power, so
    /// it must be a regular file owned by root and writable by no one else (a symlink to such a
    /// file is followed: a Kubernetes ConfigMap is mounted that way).
    public static func read(_ path: FilePath) throws(Policy.Error) -> String {
        let canonical: FilePath
        switch Syscall.realPath(path) {
        case .success(let resolved): canonical = resolved
        case .failure(let errno): throw .unreadable(path, "\(errno)")
        }
        var info = stat()
        guard lstat(canonical.string, &info) == 0 else { throw .unreadable(path, "\(Errno(rawValue: errno))") }
        guard info.st_uid == 0 || info.st_uid == geteuid() else {
            throw .unsafe(path, "it is owned by uid \(info.st_uid); a policy must be owned by root")
        }
        guard info.st_mode & 0o022 == 0 else {
            throw .unsafe(path, "group or others may write it (mode \(String(info.st_mode & 0o777, radix: 8))); chmod go-w it")
        }
        do {
            return try RegularFile.read(canonical, limit: sizeLimit)
        } catch {
            throw .unreadable(path, error.message)
        }
    }

    /// toml++ (under TOMLKit) aborts the process on some malformed table headers (`[é]`, `[` and
    /// control characters: an assertion in its key parser, found by the policy fuzz harness).
    /// The daemon survives that (`PolicyParseCheck`), but the message would only say the parser
    /// crashed. So two things are refused here, before the parser, with their line: control
    /// characters other than tab and CRLF line ends (TOML allows none), and a table header other
    /// than `[[rule]]`, the only table a policy has.
    static func checkTableHeaders(_ text: String, file: String) throws(Policy.Error) {
        // Lines on scalars ("\r\n" is one Character); a carriage return only as half of a CRLF.
        for (index, whole) in text.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = whole.last == "\r" ? whole.dropLast() : whole[...]
            if let control = line.first(where: { ($0.value < 0x20 && $0 != "\t") || $0.value == 0x7f }) {
                throw .invalid(file, "line \(index + 1): control character U+\(String(control.value, radix: 16, uppercase: true)); TOML allows only tabs and line ends")
            }
            // On scalars: "[" followed by a combining mark is one Character, and still a header.
            let code = line.drop { $0 == " " || $0 == "\t" }.prefix { $0 != "#" }
            guard code.first == "[" else { continue }
            var header = String.UnicodeScalarView()
            header.append(contentsOf: code.filter { $0 != " " && $0 != "\t" })
            let text = String(header)
            guard text.unicodeScalars.elementsEqual("[[rule]]".unicodeScalars) else {
                throw .invalid(file, "line \(index + 1): table header \(text); a policy has [[rule]] tables only")
            }
        }
    }

    public init(parsing text: String, file: String) throws(Policy.Error) {
        try Self.checkTableHeaders(text, file: file)
        let parsed: FileText
        do {
            var decoder = TOMLDecoder()
            decoder.strictDecoding = true
            parsed = try decoder.decode(FileText.self, from: text)
        } catch let error as TOMLParseError {
            throw .invalid(file, "line \(error.source.begin.line): \(error.description)")
        } catch let error as UnexpectedKeysError {
            let keys = error.keys.values.compactMap { $0.last?.stringValue }.sorted()
            throw .invalid(file, "unknown key \(keys.joined(separator: ", ")); a rule has users, groups, actions, filters, sources, cgroups, units")
        } catch {
            throw .invalid(file, "\(error)")
        }
        var rules: [Rule] = []
        for (index, text) in (parsed.rule ?? []).enumerated() {
            rules.append(try Rule(text, number: index + 1, file: file))
        }
        self.init(rules: rules)
    }
}

extension Policy.Rule {
    fileprivate init(_ text: RuleText, number: Int, file: String) throws(Policy.Error) {
        let rule = "rule \(number)"
        self.number = number
        users = text.users ?? []
        groups = text.groups ?? []
        guard !users.isEmpty || !groups.isEmpty else {
            throw .invalid(file, "\(rule) names no one: give users = [...] or groups = [...] (\"*\" for everyone)")
        }
        guard !text.actions.isEmpty else { throw .invalid(file, "\(rule) grants no action: give actions = [...]") }
        actions = []
        for action in text.actions {
            guard let parsed = Policy.Action(rawValue: action) else {
                throw .invalid(file, "\(rule): unknown action \"\(action)\"; actions are \(Policy.Action.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            actions.insert(parsed)
        }
        do {
            filter = try ContainerFilter(parsing: text.filters ?? [])
        } catch {
            throw .invalid(file, "\(rule): \(error.message)")
        }
        sources = []
        for source in text.sources ?? [] {
            guard let parsed = ContainerSources.named(source) else {
                throw .invalid(file, "\(rule): unknown source \"\(source)\"; sources are \(ContainerSources.names)")
            }
            sources.append(parsed)
        }
        cgroups = []
        for prefix in text.cgroups ?? [] {
            // `.` and `..` are refused rather than normalized: a grant must read as what it grants.
            let path = FilePath(prefix)
            guard path.isAbsolute, !path.components.contains(where: { $0.kind != .regular }) else {
                throw .invalid(file, "\(rule): cgroups takes absolute paths below the hierarchy's root, like \"/batch/\"; got \"\(prefix)\"")
            }
            cgroups.append(path)
        }
        units = text.units ?? []
    }
}

/// A `[[rule]]` as written in TOML (unknown keys are errors: a typo must not widen or narrow a
/// grant silently).
private struct RuleText: Decodable {
    var users: [String]?
    var groups: [String]?
    var actions: [String]
    var filters: [String]?
    var sources: [String]?
    var cgroups: [String]?
    var units: [String]?
}

private struct FileText: Decodable {
    var rule: [RuleText]?
}

extension Policy {
    /// Why a policy cannot be used. At start it stops the daemon; on reload the previous policy stays.
    public enum Error: FreezectlError, Equatable {
        /// Not valid TOML, or a rule that does not hold.
        case invalid(String, String)
        /// Not readable.
        case unreadable(FilePath, String)
        /// Writable or owned by someone other than root.
        case unsafe(FilePath, String)

        public var code: String { "invalid-policy" }
        public var isBadInput: Bool { true }

        public var message: String {
            switch self {
            case .invalid(let file, let reason): return "policy \(file): \(reason)"
            case .unreadable(let path, let reason): return "policy \(path): cannot be read: \(reason)"
            case .unsafe(let path, let reason): return "policy \(path) is not safe to trust: \(reason)"
            }
        }

        public var path: FilePath? {
            switch self {
            case .invalid(let file, _): return FilePath(file)
            case .unreadable(let path, _), .unsafe(let path, _): return path
            }
        }
    }
}
