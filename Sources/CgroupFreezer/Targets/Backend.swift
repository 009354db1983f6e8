/// Who changes a target's freezer state: the kernel's v1 or v2 freezer written directly, or the
/// engine or manager that keeps its own view of it and is asked through its API.
public enum Backend: String, Sendable, Hashable, Codable, CaseIterable {
    /// The cgroup v1 freezer (`freezer.state`), written directly.
    case v1
    /// The cgroup v2 freezer (`cgroup.freeze`), written directly.
    case v2
    /// The Docker Engine API (`POST /containers/{id}/pause`).
    case docker
    /// containerd's task API (`Tasks/Pause`, `Tasks/Resume`).
    case containerd
    /// podman's API service (`POST /containers/{id}/pause`).
    case podman
    /// systemd's FreezeUnit and ThawUnit.
    case systemd

    /// The kernel freezer of `version`.
    public init(_ version: Hierarchy.Version) {
        self = version == .v1 ? .v1 : .v2
    }
}
