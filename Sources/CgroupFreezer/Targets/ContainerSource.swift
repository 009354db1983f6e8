/// Where a container was found.
public enum ContainerSource: String, Sendable, Hashable, Codable, CaseIterable {
    /// runc's state directory (`/run/runc/<id>/state.json`).
    case runc
    /// crun's state directory (`/run/crun/<id>/status`).
    case crun
    /// The Docker Engine API.
    case docker
}
