import CgroupFreezer
import ContainerEngines
import HealthProbes
import SystemPackage

/// One thing a command acts on: a cgroup target, a container, or a target that could not be
/// resolved (kept so that results stay in input order).
public struct BatchItem: Sendable {
    /// The target as given, or `source:shortid` for a container picked by `--all`/`--filter`.
    public var reference: String
    /// A cgroup target (`/path`, `cgroup:/`, `pid:`).
    public var cgroup: TargetSpec?
    /// A container.
    public var container: Container?
    /// Why the target could not be resolved.
    public var failure: FreezerError?

    /// An item for a cgroup target.
    public init(cgroup spec: TargetSpec) {
        reference = spec.description
        cgroup = spec
    }

    /// An item for a container.
    public init(container: Container, reference: String? = nil) {
        self.reference = reference ?? container.shortReference
        self.container = container
    }

    /// An item that failed to resolve.
    public init(reference: String, failure: FreezerError) {
        self.reference = reference
        self.failure = failure
    }
}

/// What the freezer and the engine say about one container.
public struct ContainerStatus: Sendable {
    /// The container.
    public var container: Container
    /// The freezer status of its cgroup; nil when it has none (not running).
    public var freezer: FreezerStatus?
    /// Memory usage against its limit (or MemTotal), in percent.
    public var memoryPercent: Double?

    /// Paused as the cgroup says: frozen, frozen by a parent, or freezing.
    public var isPaused: Bool {
        guard let state = freezer?.state else { return container.engineState == "paused" }
        return state != .thawed
    }

    /// The engine says paused and the cgroup not, or the other way round.
    public var drift: Bool {
        guard let engineState = container.engineState, let state = freezer?.state else { return false }
        return (engineState == "paused") != (state != .thawed)
    }
}

extension CgroupFreezer {
    /// The freezer status and memory usage of a container.
    public func status(of container: Container) -> ContainerStatus {
        var status = freezerStatus(of: container)
        status.memoryPercent = memoryPercent(of: container)
        return status
    }

    /// The container's memory usage against its limit, in percent, over its whole cgroup.
    func memoryPercent(of container: Container) -> Double? {
        guard let pid = container.pid else { return nil }
        return ContainerMemory.percent(pid: pid, layout: layout, container: container.cgroup.flatMap { try? resolve($0).cgroup })
    }

    private func freezerStatus(of container: Container) -> ContainerStatus {
        let target = container.cgroup.flatMap { try? resolve($0) }
        return ContainerStatus(container: container, freezer: target.flatMap { try? status($0) }, memoryPercent: nil)
    }

    /// Turns targets, `--all` and filters into the items to act on, in order: the named targets
    /// first (filtered when they are containers), then every matching container of `catalog`
    /// when `all` is set or a filter is given without targets.
    public func select(_ targets: [TargetSpec], all: Bool, filter: ContainerFilter, catalog: ContainerCatalog) async -> [BatchItem] {
        var items: [BatchItem] = []
        var seen: Set<String> = []
        for spec in targets {
            guard case .container(let source, let reference) = spec else {
                if !filter.isEmpty {
                    items.append(BatchItem(reference: spec.description, failure: .invalidFilter(
                        filter.clauses.map(\.key).joined(separator: ","), reason: "--filter selects containers; \(spec) is a cgroup")))
                } else {
                    items.append(BatchItem(cgroup: spec))
                }
                continue
            }
            do {
                let container = try await catalog.lookup(source, reference)
                if filter.isEmpty || matches(container, filter) {
                    items.append(BatchItem(container: container, reference: spec.description))
                    seen.insert("\(container.source):\(container.id)")
                }
            } catch let error as FreezerError {
                items.append(BatchItem(reference: spec.description, failure: error))
            } catch {
                items.append(BatchItem(reference: spec.description, failure: .engineError(spec.description, status: 0, message: "\(error)")))
            }
        }
        if all || (targets.isEmpty && !filter.isEmpty) {
            let (containers, failures) = await catalog.all()
            for container in containers where !seen.contains("\(container.source):\(container.id)") && matches(container, filter) {
                items.append(BatchItem(container: container))
            }
            // A source that is there but failed: its containers could not be selected, and the
            // command must say so (exit 1) rather than act as if it had none.
            for failure in failures {
                items.append(BatchItem(reference: all ? "--all" : "--filter", failure: failure))
            }
        }
        return items
    }

    /// Labels, names and IDs decide most selections; the freezer state and the memory usage cost
    /// several file reads per container, so they are read only when a clause asks for them.
    private func matches(_ container: Container, _ filter: ContainerFilter) -> Bool {
        guard !filter.isEmpty else { return true }
        let paused = filter.needsState ? freezerStatus(of: container).isPaused : false
        let memory = filter.needsMemory ? memoryPercent(of: container) : nil
        return filter.matches(container, paused: paused, memoryPercent: memory)
    }
}
