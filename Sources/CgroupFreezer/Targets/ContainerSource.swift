/// Where a container was found.
public enum ContainerSource: String, Sendable, Hashable, Codable, CaseIterable {
    /// runc's state directory (`/run/runc/<id>/state.json`).
    case runc
    /// crun's state directory (`/run/crun/<id>/status`).
    case crun
    /// The Docker Engine API.
    case docker
    /// containerd's gRPC API (Kubernetes nodes): `containerd:ID` or `containerd:NAMESPACE/ID`.
    case containerd
    /// podman's API service (its Docker-compatible endpoints).
    case podman

    /// Whether an engine keeps this source's pause state itself, so it must pause and resume its
    /// containers: a freeze written behind its back makes it wrong. runc and crun read the freezer.
    public var isEngine: Bool { self == .docker || self == .containerd || self == .podman }
}
