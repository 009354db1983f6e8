import CgroupFreezer
import SystemPackage
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Where an engine listens, as the environment says: the one reading of `DOCKER_HOST`,
/// `CONTAINER_HOST` (podman) and `CONTAINERD_ADDRESS`. The engines' clients (ContainerEngines)
/// connect there; freezectl, which links none of them, only looks whether anything is there, to
/// know whether `--all` or `--filter` can find an engine's container (Handoff).
public struct EngineAddress: Sendable {
    /// The socket.
    public var socketPath: FilePath
    /// Why the address cannot be used (a scheme other than unix://); reported by whoever needs
    /// the engine, and such an engine is not absent.
    public var problem: ContainerCatalog.Error?

    public static let dockerSocket: FilePath = "/var/run/docker.sock"
    /// podman's socket when run by root (`podman.socket`).
    public static let podmanSocket: FilePath = "/run/podman/podman.sock"
    public static let containerdSocket: FilePath = "/run/containerd/containerd.sock"

    /// `source`'s address: Docker's `DOCKER_HOST` (unix:// only), else /var/run/docker.sock;
    /// podman's `CONTAINER_HOST` (unix:// only), else root's /run/podman/podman.sock, else the
    /// rootless `$XDG_RUNTIME_DIR/podman/podman.sock`; containerd's `CONTAINERD_ADDRESS` (a path,
    /// as containerd's own tools take it, or unix://PATH), else /run/containerd/containerd.sock.
    /// Nil for runc and crun, which have no socket.
    public static func of(_ source: ContainerSource, environment: [String: String]) -> EngineAddress? {
        switch source {
        case .docker:
            return unix(environment["DOCKER_HOST"], variable: "DOCKER_HOST", source: source, default: dockerSocket)
        case .podman:
            let fallback = getuid() != 0 ? environment["XDG_RUNTIME_DIR"].map { FilePath($0).appending("podman/podman.sock") } ?? podmanSocket
                : podmanSocket
            return unix(environment["CONTAINER_HOST"], variable: "CONTAINER_HOST", source: source, default: fallback)
        case .containerd:
            guard var address = environment["CONTAINERD_ADDRESS"], !address.isEmpty else {
                return EngineAddress(socketPath: containerdSocket)
            }
            if address.hasPrefix("unix://") { address = String(address.dropFirst("unix://".count)) }
            return EngineAddress(socketPath: FilePath(address))
        default:
            return nil
        }
    }

    private static func unix(_ address: String?, variable: String, source: ContainerSource, default socket: FilePath) -> EngineAddress {
        guard let address, !address.isEmpty else { return EngineAddress(socketPath: socket) }
        guard address.hasPrefix("unix://") else {
            return EngineAddress(socketPath: FilePath(address), problem: .sourceUnavailable(
                source: source.rawValue, path: FilePath(address), reason: "only unix:// sockets are supported in \(variable)"))
        }
        return EngineAddress(socketPath: FilePath(String(address.dropFirst("unix://".count))))
    }

    /// The variables `of(_:environment:)` reads, as this process's environment has them: read with
    /// getenv, since the whole environment as a dictionary (ProcessInfo) costs more than the
    /// check itself in freezectl's handover, which runs at every start.
    public static func processEnvironment() -> [String: String] {
        var found: [String: String] = [:]
        for name in ["DOCKER_HOST", "CONTAINER_HOST", "XDG_RUNTIME_DIR", "CONTAINERD_ADDRESS"] {
            if let value = Syscall.environment(name) { found[name] = value }
        }
        return found
    }

    /// No daemon at all: nothing at the socket path and no address problem to report (`--all`
    /// skips such an engine quietly).
    public var isAbsent: Bool { problem == nil && !Syscall.exists(socketPath) }
}

extension ContainerSource {
    public static let docker = ContainerSource(rawValue: "docker")
    public static let podman = ContainerSource(rawValue: "podman")
    public static let containerd = ContainerSource(rawValue: "containerd")
}

extension Backend {
    /// The Docker Engine API (`POST /containers/{id}/pause`).
    public static let docker = Backend(rawValue: "docker")
    /// podman's API service (`POST /containers/{id}/pause`).
    public static let podman = Backend(rawValue: "podman")
    /// containerd's task API (`Tasks/Pause`, `Tasks/Resume`).
    public static let containerd = Backend(rawValue: "containerd")
}

extension ContainerSourceKind {
    /// An engine that keeps its own pause state, reached through its socket by a client in
    /// ContainerEngines: present when its address names a socket that exists or cannot be used.
    private static func engine(_ source: ContainerSource, _ form: TargetForm, scoped: Bool = false, advice: SourceAdvice) -> ContainerSourceKind {
        ContainerSourceKind(syntax: ContainerSourceSyntax(source: source, form: form, scopedReferences: scoped),
                            keepsPauseState: true, needsEngineClient: true, drivers: nil,
                            isPresent: { EngineAddress.of(source, environment: $0)?.isAbsent == false }, advice: advice)
    }

    /// The Docker Engine API.
    public static let docker = engine(.docker, TargetForm(syntax: "docker:ID|NAME", meaning: "a Docker container, through the Engine API"), advice: SourceAdvice(
        list: "`docker ps`", start: "start dockerd, or point DOCKER_HOST=unix:///path/to/docker.sock at its socket",
        checkSource: "check dockerd (`docker info`, its log)", checkContainer: "check the container with `docker inspect`; the daemon's log says more",
        target: "docker:ID"))
    /// podman's API service (its Docker-compatible endpoints).
    public static let podman = engine(.podman, TargetForm(syntax: "podman:ID|NAME", meaning: "a podman container, through its API service"), advice: SourceAdvice(
        list: "`podman ps`",
        start: "start podman's API service (`systemctl start podman.socket`, or `podman system service --time=0 unix:///run/podman/podman.sock`), or point CONTAINER_HOST=unix:///path at its socket",
        checkSource: "check podman's API service (`podman info`, its log)", checkContainer: "check the container with `podman inspect`; podman's log says more",
        target: "podman:ID, with podman's API service running (`systemctl start podman.socket`)"))
    /// containerd's gRPC API (Kubernetes nodes): `containerd:ID` or `containerd:NAMESPACE/ID`.
    public static let containerd = engine(.containerd, TargetForm(syntax: "containerd:[NS/]ID", meaning: "a containerd task, through its gRPC API"), scoped: true,
        advice: SourceAdvice(
            list: "`ctr -n NAMESPACE task ls`", start: "start containerd, or point CONTAINERD_ADDRESS=/path/to/containerd.sock at its socket",
            checkSource: "check containerd (`ctr version`, its log)", checkContainer: "check the task with `ctr -n NAMESPACE task ls`; containerd's log says more",
            target: "containerd:ID"))
}
