import CgroupFreezer
import ContainerEngines
import ContainerRuntimes
import FreezectlAPI
import FreezectlReports
import FreezerOperations

/// A request's resolved items sorted by the policy: what the caller may act on, which named
/// targets it may not (the request is then refused as a whole), and which picked ones (`all`,
/// a filter) are left out.
struct Authorization {
    /// Items to act on: allowed, or not resolved (their failure is reported, nothing is done).
    var items: [Resolution] = []
    /// The decision for each allowed item, by reference (`root`, `rule 2`): audit records name it.
    var decisions: [String: Policy.Decision] = [:]
    /// Named targets the policy refuses.
    var refused: [DaemonAPI.Refused] = []
    /// Targets `all` or a filter picked that the caller may not touch.
    var skipped: [String] = []
}

extension Authorization {
    /// These items narrowed by a second grant (`also`, made over `items`): what it refuses or
    /// skips is refused or skipped; the decisions stay the first grant's.
    func narrowed(by also: Authorization) -> Authorization {
        var narrowed = self
        narrowed.items = also.items
        narrowed.refused += also.refused
        narrowed.skipped += also.skipped
        for skipped in also.skipped + also.refused.map(\.target) { narrowed.decisions[skipped] = nil }
        return narrowed
    }
}

extension Policy {
    /// Sorts `items` for `caller` doing the first of `actions` a rule grants (a lease is granted by
    /// `lease` or `pause`). `named` holds the references of the targets the request named;
    /// everything else was picked from the sources.
    func authorize(_ items: [Resolution], named: Set<String>, caller: Caller, actions: [Action], resolver: Resolver) -> Authorization {
        let action = actions.last ?? .status
        var result = Authorization()
        for item in items {
            guard let resolved = item.resolved else {
                result.items.append(item)
                continue
            }
            let subject = subject(of: resolved, resolver: resolver)
            let decision = actions.lazy.map { self.decide(caller, $0, subject) }.first(where: \.isAllowed) ?? .refused
            if decision.isAllowed {
                result.items.append(item)
                result.decisions[item.reference] = decision
            } else if named.contains(item.reference) {
                result.refused.append(.init(target: item.reference, action: action.rawValue,
                                            ruleNeeded: Self.ruleNeeded(caller, action, resolved)))
            } else {
                result.skipped.append(item.reference)
            }
        }
        return result
    }

    /// What a rule is matched against for `resolved`.
    func subject(of resolved: ResolvedTarget, resolver: Resolver) -> Subject {
        var unit: String?
        if case .systemd(let name, _) = resolved.route { unit = name }
        return Subject(container: resolved.container, cgroupPath: resolved.cgroup?.cgroup.cgroupPath, unit: unit,
                       matches: { container, filter in resolver.matches(container, filter) })
    }

    /// The narrowest rule that would let `caller` do `action` on `resolved`, as TOML on one line.
    static func ruleNeeded(_ caller: Caller, _ action: Action, _ resolved: ResolvedTarget) -> String {
        let who = caller.userName ?? String(caller.credentials.uid)
        var rule = #"[[rule]] users = ["\#(who)"], actions = ["\#(action.rawValue)"]"#
        if let container = resolved.container {
            rule += #", filters = ["id=\#(container.id)"]"#
        } else if case .systemd(let unit, _) = resolved.route {
            rule += #", units = ["\#(unit)"]"#
        } else if let path = resolved.cgroup?.cgroup.cgroupPath {
            rule += #", cgroups = ["\#(path)"]"#
        }
        return rule
    }
}

extension CgroupDirectory {
    /// The cgroup path as /proc/PID/cgroup writes it: what the policy's `cgroups` match.
    var cgroupPath: String? { hierarchy.cgroupPath(forDirectory: path) }
}
