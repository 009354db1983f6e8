import CgroupFreezer
import ContainerRuntimes
import FreezectlReports
import SystemPackage

/// What the daemon freezes by itself when it is idle (issue 34, docs/daemon.md "Idle rules"): the
/// `[[idle]]` rules of the configuration file and the containers' own labels.
///
/// ```toml
/// [[idle]]
/// filters = ["label=preview=true"]   # and/or sources, cgroups (prefixes), units
/// after = "10m"                       # no packet and CPU below cpu-below for this long
/// cpu-below = "1%"                    # of one CPU (default 1%)
/// wake = "traffic"                    # or "api": only an unpause wakes it
/// reclaim = true                      # deep pause: its memory goes to swap (pause --reclaim)
///
/// [labels]                            # containers that opt in by io.freezectl.idle-after
/// enabled = true                      # false: labels are ignored
/// filters = ["label=env=preview"]     # and/or sources, cgroups: who may opt in
/// ```
///
/// A container is judged by the first rule covering it; one no rule covers, by its labels
/// `io.freezectl.idle-after` (which opts it in), `io.freezectl.wake`, `io.freezectl.reclaim`.
public struct IdleConfiguration: Sendable {
    /// The default configuration file.
    public static let defaultFile: FilePath = "/etc/freezectl/freezectld.toml"
    /// The shortest `after`: below it a target would be frozen between two requests of one page
    /// load, and wake for each.
    public static let minimumAfter: Duration = .seconds(5)
    /// The default `cpu-below`, in percent of one CPU.
    public static let defaultCPUBelow = 1.0

    /// The labels a container opts in with.
    public enum Label {
        public static let after = "io.freezectl.idle-after"
        public static let wake = "io.freezectl.wake"
        public static let reclaim = "io.freezectl.reclaim"
    }

    /// What wakes an idle-frozen target.
    public enum Wake: String, Sendable, Codable {
        /// Its first packet, or an unpause.
        case traffic
        /// Only an unpause (`POST /v1/unpause`, `freezectl unpause`).
        case api
    }

    /// How one target is judged and frozen.
    public struct Plan: Sendable, Equatable {
        /// Quiet (no packet, CPU below `cpuBelow`) for this long: frozen.
        public var after: Duration
        /// Percent of one CPU.
        public var cpuBelow: Double
        public var wake: Wake
        /// Deep pause: the memory goes to swap after the freeze, is read back before the thaw.
        public var reclaim: Bool
        /// Who asked: `idle rule 2` or `labels`.
        public var origin: String
    }

    /// One `[[idle]]`.
    public struct Rule: Sendable {
        /// Its position in the file (1-based).
        public var number: Int
        public var selectors: TargetSelectors
        public var plan: Plan
    }

    /// The `[labels]` table.
    public struct Labels: Sendable {
        /// Whether labels opt containers in at all.
        public var enabled = true
        /// Only containers these cover may opt in.
        public var selectors = TargetSelectors()
        /// The `cpu-below` of containers that opt in.
        public var cpuBelow = IdleConfiguration.defaultCPUBelow
    }

    public var rules: [Rule]
    public var labels: Labels

    /// No file: no rule; containers opt in by their labels.
    public static let labelsOnly = IdleConfiguration(rules: [], labels: Labels())

    init(rules: [Rule], labels: Labels) {
        self.rules = rules
        self.labels = labels
    }

    /// A label that does not hold: the container is not judged (its owner asked for something
    /// the daemon cannot do); the message names the container's label and the valid forms.
    public struct LabelError: Swift.Error, Sendable, Equatable {
        public var message: String
    }

    /// How `subject` is judged: the first rule covering it, else its labels (when they opt it in
    /// and `[labels]` allows it); nil when it is not judged at all.
    public func plan(for subject: Policy.Subject) throws(LabelError) -> Plan? {
        if let rule = rules.first(where: { $0.selectors.covers(subject) }) { return rule.plan }
        guard labels.enabled, let container = subject.container, let after = container.labels[Label.after],
              labels.selectors.covers(subject) else { return nil }
        let duration: Duration
        do {
            duration = try Self.after(after, name: "label \(Label.after)")
        } catch {
            throw LabelError(message: error.description)
        }
        var wake = Wake.traffic
        if let text = container.labels[Label.wake] {
            guard let parsed = Wake(rawValue: text) else {
                throw LabelError(message: "label \(Label.wake) \"\(text)\" is neither traffic nor api")
            }
            wake = parsed
        }
        var reclaim = false
        if let text = container.labels[Label.reclaim] {
            guard let parsed = Bool(text) else { throw LabelError(message: "label \(Label.reclaim) \"\(text)\" is neither true nor false") }
            reclaim = parsed
        }
        return Plan(after: duration, cpuBelow: labels.cpuBelow, wake: wake, reclaim: reclaim, origin: "labels")
    }

    /// An `after` (a rule's, a label's): a duration of at least `minimumAfter`.
    static func after(_ text: String, name: String) throws(ArgumentError) -> Duration {
        let duration = try DurationArgument.parse(text, option: name)
        guard duration >= minimumAfter else {
            throw ArgumentError("\(name) \"\(text)\" is shorter than \(minimumAfter.shortDescription): an idle freeze needs at least \(minimumAfter.shortDescription) of quiet (e.g. 10m)")
        }
        return duration
    }

    /// A `cpu-below`: a percentage above 0 and at most 100 (of one CPU), written with its `%`.
    static func cpuBelow(_ text: String, place: String, file: String) throws(DaemonFile.Error) -> Double {
        guard text.hasSuffix("%"), let value = Double(text.dropLast()), value.isFinite, value > 0, value <= 100 else {
            throw .invalid(.configuration, file, "\(place): cpu-below \"\(text)\" is not a percentage of one CPU above 0% and at most 100%, e.g. \"1%\"")
        }
        return value
    }
}

// The file.
extension IdleConfiguration {
    public init(parsing text: String, file: String) throws(DaemonFile.Error) {
        let parsed = try DaemonFile.decode(FileText.self, from: text, file: file, .configuration, tables: ["[[idle]]", "[labels]"], keys: [
            "idle": "an idle rule has filters, sources, cgroups, units, after, cpu-below, wake, reclaim",
            "labels": "[labels] has enabled, filters, sources, cgroups, cpu-below",
        ])
        var rules: [Rule] = []
        for (index, text) in (parsed.idle ?? []).enumerated() {
            let place = "idle rule \(index + 1)"
            let selectors = try TargetSelectors(.init(filters: text.filters, sources: text.sources, cgroups: text.cgroups, units: text.units),
                                                place: place, file: file, kind: .configuration)
            guard let afterText = text.after else {
                throw .invalid(.configuration, file, "\(place) gives no after: how long a target must be quiet, e.g. after = \"10m\"")
            }
            let after: Duration
            do {
                after = try Self.after(afterText, name: "\(place): after")
            } catch {
                throw .invalid(.configuration, file, error.description)
            }
            guard let wake = Wake(rawValue: text.wake ?? Wake.traffic.rawValue) else {
                throw .invalid(.configuration, file, "\(place): wake \"\(text.wake ?? "")\" is neither \"traffic\" nor \"api\"")
            }
            let cpu = try text.cpuBelow.map { text throws(DaemonFile.Error) in try Self.cpuBelow(text, place: place, file: file) } ?? Self.defaultCPUBelow
            rules.append(Rule(number: index + 1, selectors: selectors,
                              plan: Plan(after: after, cpuBelow: cpu, wake: wake, reclaim: text.reclaim ?? false, origin: place)))
        }
        var labels = Labels()
        if let table = parsed.labels {
            labels.enabled = table.enabled ?? true
            labels.selectors = try TargetSelectors(.init(filters: table.filters, sources: table.sources, cgroups: table.cgroups, units: nil),
                                                   place: "[labels]", file: file, kind: .configuration)
            labels.cpuBelow = try table.cpuBelow.map { text throws(DaemonFile.Error) in try Self.cpuBelow(text, place: "[labels]", file: file) } ?? Self.defaultCPUBelow
        }
        self.init(rules: rules, labels: labels)
    }
}

/// An `[[idle]]` as written in TOML.
private struct IdleText: Decodable {
    var filters: [String]?
    var sources: [String]?
    var cgroups: [String]?
    var units: [String]?
    var after: String?
    var cpuBelow: String?
    var wake: String?
    var reclaim: Bool?

    enum CodingKeys: String, CodingKey {
        case filters, sources, cgroups, units, after, wake, reclaim
        case cpuBelow = "cpu-below"
    }
}

/// The `[labels]` table as written in TOML.
private struct LabelsText: Decodable {
    var enabled: Bool?
    var filters: [String]?
    var sources: [String]?
    var cgroups: [String]?
    var cpuBelow: String?

    enum CodingKeys: String, CodingKey {
        case enabled, filters, sources, cgroups
        case cpuBelow = "cpu-below"
    }
}

private struct FileText: Decodable {
    var idle: [IdleText]?
    var labels: LabelsText?
}
