import CgroupFreezer
import SystemPackage


/// A container as its runtime or engine describes it.
public struct Container: Sendable, Hashable {
    /// Where it was found.
    public var source: ContainerSource
    /// The full ID.
    public var id: String
    /// The name (Docker's name without the leading `/`; the ID for runc and crun).
    public var name: String
    /// Labels: Docker labels, or the OCI annotations of a runc/crun container.
    public var labels: [String: String]
    /// The container's init process, when it has one.
    public var pid: Int32?
    /// Its start time (field 22 of /proc/PID/stat), when the runtime recorded it and it was
    /// checked: the init is this process, not another that reused its PID.
    public var initStart: UInt64?
    /// The engine's own view of its state (Docker's `State`); nil for runc and crun, which keep
    /// no pause state of their own.
    public var engineState: EngineState?
    /// The engine that owns a runc/crun container (`docker`, `containerd`, `podman`, `cri-o`), if any.
    public var owner: String?
    /// How to find its cgroup: the exact directory from the runtime's state, or its init process.
    public var cgroup: TargetSpec?
    /// The runc/crun state directory it was found in (what `runc --root` takes), for `runc exec`.
    public var runtimeRoot: FilePath?
    /// containerd's namespace (`k8s.io` on Kubernetes nodes); nil for other sources.
    public var namespace: String?
    /// The runtime state file its init and cgroup were read from, and who could have written
    /// it; nil for what an engine answered. The resolver holds the cgroup to it (StateWriters).
    public var state: ContainerStateFile?

    /// `source:id` with the ID shortened to 12 characters, as the CLI prints it
    /// (`containerd:NAMESPACE/id`: containerd's IDs are unique per namespace only, and are
    /// shortened only when they are 64-digit hashes, as Kubernetes makes them; `ctr` users name them).
    public var shortReference: String {
        guard let namespace else { return "\(source.rawValue):\(String(id.prefix(12)))" }
        let isHash = id.utf8.count == 64 && id.unicodeScalars.allSatisfy(\.properties.isASCIIHexDigit)
        return "\(source.rawValue):\(namespace)/\(isHash ? String(id.prefix(12)) : id)"
    }

    /// A Kubernetes pod's sandbox (the pause container CRI makes for each pod), which holds the
    /// pod's namespaces: selections leave it out; it is acted on only when named by its ID.
    public var isSandbox: Bool { labels["io.cri-containerd.kind"] == "sandbox" }

    /// Creates a container description.
    public init(source: ContainerSource, id: String, name: String, labels: [String: String], pid: Int32?,
                engineState: EngineState?, owner: String?, cgroup: TargetSpec?) {
        self.source = source
        self.id = id
        self.name = name
        self.labels = labels
        self.pid = pid
        self.engineState = engineState
        self.owner = owner
        self.cgroup = cgroup
    }
}

/// A runc or crun state file a container was read from.
public struct ContainerStateFile: Sendable, Hashable {
    /// `ROOT/ID/state.json` (runc) or `ROOT/ID/status` (crun).
    public var path: FilePath
    /// Who besides root could have written it, and so which cgroups it may name.
    public var writers: StateWriters
}

/// A container's state as an engine keeps it: Docker's `State` values (podman's are the same).
public enum EngineState: String, Sendable, Hashable, Codable, CaseIterable {
    case created, running, paused, restarting, removing, exited, dead

    /// Running or paused: it has processes, so a cgroup to freeze.
    public var isLive: Bool { self == .running || self == .paused }
}

/// An engine that keeps its own pause state and pauses and resumes its containers itself
/// (Docker, podman, containerd). A freeze written behind its back makes it wrong.
public protocol ContainerEngine: Sendable {
    /// Who acts, for results and audit records.
    var backend: Backend { get }
    /// Pauses the container.
    func pause(_ container: Container, timeout: Duration) async throws
    /// Resumes the container.
    func unpause(_ container: Container, timeout: Duration) async throws
}

/// Which engine, if any, owns a runc/crun container, from the traces engines leave in its
/// annotations, its bundle path and the runtime root they run it under.
enum EngineOwnership {
    static func owner(annotations: [String: String], bundle: String?, runtimeRoot: FilePath) -> String? {
        let root = runtimeRoot.string
        let bundle = bundle ?? ""
        if annotations.keys.contains(where: { $0.hasPrefix("io.podman.") }) || annotations["io.container.manager"] == "libpod"
            || bundle.contains("/containers/storage/") || root.contains("libpod") {
            return "podman"
        }
        if annotations.keys.contains(where: { $0.hasPrefix("io.kubernetes.cri-o.") }) { return "cri-o" }
        if root.contains("/docker/") || root.hasSuffix("/moby") || bundle.contains("/moby/") {
            return "docker"
        }
        if annotations.keys.contains(where: { $0.hasPrefix("io.kubernetes.cri.") || $0.hasPrefix("io.containerd.") })
            || bundle.contains("/containerd/") || root.contains("containerd") {
            return "containerd"
        }
        return nil
    }
}
