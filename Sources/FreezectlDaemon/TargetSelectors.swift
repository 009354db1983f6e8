import CgroupFreezer
import ContainerRuntimes
import SystemPackage

/// Which targets a policy rule or an idle rule covers: the CLI's `--filter` clauses, container
/// sources, cgroup path prefixes and systemd units. A target is covered when it matches every
/// kind of selector given (any entry of each list); no selector at all covers every target.
public struct TargetSelectors: Sendable {
    /// Containers matching these `--filter` clauses (the CLI's semantics).
    public var filter = ContainerFilter()
    /// Containers of these sources.
    public var sources: [ContainerSource] = []
    /// Targets whose cgroup is one of these or below (cgroup paths as /proc/PID/cgroup writes
    /// them, e.g. `/batch`, in whichever hierarchy the target is; matched by whole components).
    public var cgroups: [FilePath] = []
    /// systemd units by name.
    public var units: [String] = []

    public init() {}

    /// Whether the selectors cover `subject`.
    public func covers(_ subject: Policy.Subject) -> Bool {
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

    /// The selectors as a file writes them; `place` names the table in errors ("rule 2").
    init(_ text: Text, place: String, file: String, kind: DaemonFile.Kind) throws(DaemonFile.Error) {
        do {
            filter = try ContainerFilter(parsing: text.filters ?? [])
        } catch {
            throw .invalid(kind, file, "\(place): \(error.message)")
        }
        for source in text.sources ?? [] {
            guard let parsed = ContainerSources.named(source) else {
                throw .invalid(kind, file, "\(place): unknown source \"\(source)\"; sources are \(ContainerSources.names)")
            }
            sources.append(parsed)
        }
        for prefix in text.cgroups ?? [] {
            // `.` and `..` are refused rather than normalized: a selector must read as what it selects.
            let path = FilePath(prefix)
            guard path.isAbsolute, !path.components.contains(where: { $0.kind != .regular }) else {
                throw .invalid(kind, file, "\(place): cgroups takes absolute paths below the hierarchy's root, like \"/batch/\"; got \"\(prefix)\"")
            }
            cgroups.append(path)
        }
        units = text.units ?? []
    }

    /// The selectors' keys as a table gave them (each table decodes all its keys itself: the
    /// strict decoder counts a key another decoder of the same table read as unknown).
    struct Text {
        var filters: [String]?
        var sources: [String]?
        var cgroups: [String]?
        var units: [String]?
    }
}
