import CgroupFreezer
/// `--filter KEY=VALUE` clauses, docker/podman style: several `label` clauses must all match;
/// several clauses with another same key match if any does; different keys must all match.
public struct ContainerFilter: Sendable, Hashable {
    /// One clause.
    public enum Clause: Sendable, Hashable {
        /// `label=KEY` (present) or `label=KEY=VALUE`.
        case label(String, String?)
        /// `status=running|paused`, from the effective freezer state of the container's cgroup.
        case status(paused: Bool)
        /// `runtime=SOURCE`, one of the registry's (`runc`, `docker`, ...).
        case runtime(ContainerSource)
        /// `name=NAME` (exact).
        case name(String)
        /// `id=PREFIX`.
        case id(String)
        /// `memory-below=PCT`: usage under PCT percent of the limit (or of MemTotal without a limit).
        case memoryBelow(Double)
        /// `memory-above=PCT`.
        case memoryAbove(Double)

        /// The key as `--filter` takes it.
        public var key: String {
            switch self {
            case .label: return "label"
            case .status: return "status"
            case .runtime: return "runtime"
            case .name: return "name"
            case .id: return "id"
            case .memoryBelow: return "memory-below"
            case .memoryAbove: return "memory-above"
            }
        }
    }

    /// The keys `--filter` accepts.
    public static let validKeys = ["label", "status", "runtime", "name", "id", "memory-below", "memory-above"]

    /// The clauses in the order given.
    public var clauses: [Clause]

    /// No clause: everything matches.
    public var isEmpty: Bool { clauses.isEmpty }

    /// Whether matching needs the container's memory usage.
    public var needsMemory: Bool {
        clauses.contains { if case .memoryBelow = $0 { return true }; if case .memoryAbove = $0 { return true }; return false }
    }

    /// Whether matching needs the effective freezer state of the container's cgroup.
    public var needsState: Bool {
        clauses.contains { if case .status = $0 { return true }; return false }
    }

    /// No clause: everything matches.
    public init() {
        clauses = []
    }

    /// Parses `--filter` values; a malformed one throws `invalidFilter` naming it and the valid keys.
    public init(parsing texts: [String]) throws(ContainerCatalog.Error) {
        clauses = []
        for text in texts { clauses.append(try Self.parse(text)) }
    }

    private static func parse(_ text: String) throws(ContainerCatalog.Error) -> Clause {
        guard let equals = text.firstIndex(of: "=") else {
            throw ContainerCatalog.Error.invalidFilter(text, reason: "expected KEY=VALUE with KEY one of \(validKeys.joined(separator: ", "))")
        }
        let key = String(text[..<equals])
        let value = String(text[text.index(after: equals)...])
        guard !value.isEmpty else { throw ContainerCatalog.Error.invalidFilter(text, reason: "\(key) needs a value") }
        switch key {
        case "label":
            let parts = value.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard !parts[0].isEmpty else { throw ContainerCatalog.Error.invalidFilter(text, reason: "label needs a KEY: label=KEY or label=KEY=VALUE") }
            return .label(String(parts[0]), parts.count > 1 ? String(parts[1]) : nil)
        case "status":
            switch value {
            case "running": return .status(paused: false)
            case "paused": return .status(paused: true)
            default: throw ContainerCatalog.Error.invalidFilter(text, reason: "status is running or paused")
            }
        case "runtime":
            guard let source = ContainerSources.named(value) else {
                throw ContainerCatalog.Error.invalidFilter(text, reason: "runtime is one of \(ContainerSources.names)")
            }
            return .runtime(source)
        case "name": return .name(value)
        case "id": return .id(value)
        case "memory-below", "memory-above":
            let number = value.hasSuffix("%") ? String(value.dropLast()) : value
            guard let percent = Double(number), percent.isFinite, (0...100).contains(percent) else {
                throw ContainerCatalog.Error.invalidFilter(text, reason: "\(key) takes a percentage from 0 to 100, e.g. \(key)=80%")
            }
            return key == "memory-below" ? .memoryBelow(percent) : .memoryAbove(percent)
        default:
            throw ContainerCatalog.Error.invalidFilter(text, reason: "unknown key \"\(key)\"; valid keys: \(validKeys.joined(separator: ", "))")
        }
    }

    /// Whether `container` matches, given its effective state and memory usage (percent).
    public func matches(_ container: Container, paused: Bool, memoryPercent: Double?) -> Bool {
        let byKey = Dictionary(grouping: clauses, by: \.key)
        for (key, group) in byKey {
            let results = group.map { clause -> Bool in
                switch clause {
                case .label(let name, let value):
                    guard let actual = container.labels[name] else { return false }
                    return value == nil || actual == value
                case .status(let wantPaused): return paused == wantPaused
                case .runtime(let source): return container.source == source
                case .name(let name): return container.name == name
                case .id(let prefix): return container.id.hasPrefix(prefix)
                case .memoryBelow(let limit): return memoryPercent.map { $0 < limit } ?? false
                case .memoryAbove(let limit): return memoryPercent.map { $0 > limit } ?? false
                }
            }
            let matched = key == "label" ? results.allSatisfy { $0 } : results.contains(true)
            if !matched { return false }
        }
        return true
    }
}
