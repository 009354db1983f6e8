import CgroupFreezer
import ContainerEngines
import ContainerRuntimes
import SystemPackage

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
        /// The targets it covers.
        public var selectors: TargetSelectors

        /// Whether `caller` is one of the rule's users or in one of its groups.
        func names(_ caller: Caller) -> Bool {
            if users.contains("*") || groups.contains("*") { return true }
            if users.contains(where: { $0 == caller.userName || $0 == String(caller.credentials.uid) }) { return true }
            return caller.groups.contains { gid, name in
                groups.contains { $0 == name || $0 == String(gid) }
            }
        }

        /// Whether the rule's selectors cover `subject`.
        func covers(_ subject: Subject) -> Bool { selectors.covers(subject) }
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

    /// Why a policy cannot be used (`DaemonFile.Error` of kind `.policy`).
    public typealias Error = DaemonFile.Error

    /// Reads the policy file's text (`PolicyParseCheck.load` parses it), with `DaemonFile.read`'s
    /// ownership checks.
    public static func read(_ path: FilePath) throws(Policy.Error) -> String {
        try DaemonFile.read(path, .policy)
    }

    public init(parsing text: String, file: String) throws(Policy.Error) {
        let parsed = try DaemonFile.decode(FileText.self, from: text, file: file, .policy, tables: ["[[rule]]"],
                                           keys: ["rule": "a rule has users, groups, actions, filters, sources, cgroups, units"])
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
            throw .invalid(.policy, file, "\(rule) names no one: give users = [...] or groups = [...] (\"*\" for everyone)")
        }
        guard !text.actions.isEmpty else { throw .invalid(.policy, file, "\(rule) grants no action: give actions = [...]") }
        actions = []
        for action in text.actions {
            guard let parsed = Policy.Action(rawValue: action) else {
                throw .invalid(.policy, file, "\(rule): unknown action \"\(action)\"; actions are \(Policy.Action.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            actions.insert(parsed)
        }
        selectors = try TargetSelectors(.init(filters: text.filters, sources: text.sources, cgroups: text.cgroups, units: text.units),
                                        place: rule, file: file, kind: .policy)
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
