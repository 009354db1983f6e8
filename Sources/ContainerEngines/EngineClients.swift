import CgroupFreezer
import ContainerRuntimes
import SystemPackage

extension DockerEngine: ContainerSourceDriver {
    public var location: FilePath { socketPath }
    public var owner: (any ContainerEngine)? { self }
}

extension ContainerdEngine: ContainerSourceDriver {
    public var source: ContainerSource { .containerd }
    public var location: FilePath { socketPath }
    public var owner: (any ContainerEngine)? { self }
}

extension ContainerCatalog {
    /// A catalog of `runtimeRoots` (default: /run/runc and /run/crun), every registered source,
    /// and the engines the environment names (`DOCKER_HOST`, `CONTAINER_HOST`,
    /// `CONTAINERD_ADDRESS`), containerd searching `namespaces` (empty: all). Reads nothing yet.
    public init(runtimeRoots: [FilePath] = [], environment: [String: String], namespaces: [String] = []) {
        self.init(runtimeRoots: runtimeRoots, engines: [
            .docker: DockerEngine.fromEnvironment(environment),
            .podman: DockerEngine.podmanFromEnvironment(environment),
            .containerd: ContainerdEngine.fromEnvironment(environment, namespaces: namespaces),
        ], namespaces: namespaces)
    }

    /// The Docker Engine API client of Docker's or podman's containers (exec probes run through it).
    public func dockerAPI(for source: ContainerSource) -> DockerEngine? {
        let api: ContainerSource = source == .podman ? .podman : .docker
        return drivers.first { $0.source == api } as? DockerEngine
    }
}
