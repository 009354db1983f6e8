import CgroupFreezer
import SystemPackage

/// Every place containers are found: the OCI runtimes' state directories and the Docker Engine.
public struct ContainerCatalog: Sendable {
    /// The runc/crun state directories searched.
    public var runtimes: [OCIRuntimeSource]
    /// The Docker Engine.
    public var docker: DockerEngine

    /// A catalog of `runtimes` (default: /run/runc and /run/crun) and the engine `DOCKER_HOST` names.
    /// Reads nothing yet: a command reads a source only when a target or selection needs it.
    public init(runtimeRoots: [FilePath] = [], environment: [String: String]) {
        runtimes = runtimeRoots.isEmpty ? OCIRuntimeSource.defaults : runtimeRoots.map(OCIRuntimeSource.detecting(root:))
        docker = DockerEngine.fromEnvironment(environment)
    }

    /// Every container with a live process (running or paused) in every source that is present,
    /// and why each source that is there could not be read. Only an absent source (no state
    /// directory, no Docker socket) is skipped quietly; a daemon that fails or does not answer
    /// is a failure the caller reports, never a silent omission.
    public func all() async -> (containers: [Container], failures: [any FreezectlError]) {
        var found: [Container] = []
        var failures: [any FreezectlError] = []
        for runtime in runtimes where runtime.isPresent {
            found += runtime.containers()
        }
        if !docker.isAbsent {
            do {
                if let problem = docker.unavailability() { throw problem }
                found += try await docker.containers().filter { $0.engineState?.isLive == true }
            } catch let error as any FreezectlError {
                failures.append(ContainerCatalog.Error.sourceFailed(source: "docker", path: docker.socketPath, reason: error.message))
            } catch {
                failures.append(ContainerCatalog.Error.sourceFailed(source: "docker", path: docker.socketPath, reason: "\(error)"))
            }
        }
        return (found, failures)
    }

    /// The one container that `reference` names in `source` (or in every source when nil): an
    /// exact ID or name first, else a unique ID prefix.
    public func lookup(_ source: ContainerSource?, _ reference: String) async throws -> Container {
        let given = source.map { "\($0.rawValue):\(reference)" } ?? reference
        // runc:ID and crun:ID with a full ID name a state directory: read that one alone rather
        // than every container on the host (a start-up cost the CLI pays per call).
        if let source, source != .docker, !reference.isEmpty, !reference.contains("/"), reference != ".", reference != ".." {
            // Not there or unreadable: the full search below finds it by prefix or name, or says why not.
            let exact = runtimes.filter { $0.runtime == source && $0.isPresent }.compactMap { try? $0.container(id: reference) }
            if exact.count == 1 { return exact[0] }
        }
        var candidates: [Container] = []
        var searched: [String] = []
        for runtime in runtimes where source == nil || runtime.runtime == source {
            guard runtime.isPresent else {
                if source != nil && runtimes.filter({ $0.runtime == source }).allSatisfy({ !$0.isPresent }) {
                    throw ContainerCatalog.Error.sourceUnavailable(source: runtime.runtime.rawValue, path: runtime.root, reason: "no such state directory")
                }
                continue
            }
            searched.append("\(runtime.runtime.rawValue) \(runtime.root)")
            candidates += runtime.containers()
        }
        if source == nil || source == .docker {
            if let problem = docker.unavailability() {
                if source == .docker { throw problem }
            } else {
                searched.append("docker \(docker.socketPath)")
                do {
                    candidates += try await docker.containers()
                } catch ContainerCatalog.Error.sourceUnavailable(let name, let path, let reason) {
                    if source == .docker { throw ContainerCatalog.Error.sourceUnavailable(source: name, path: path, reason: reason) }
                }
            }
        }
        let exact = candidates.filter { $0.id == reference || $0.name == reference }
        let matches = exact.isEmpty ? candidates.filter { $0.id.hasPrefix(reference) } : exact
        switch matches.count {
        case 1: return matches[0]
        case 0: throw ContainerCatalog.Error.noSuchContainer(given, searched: searched)
        default:
            throw ContainerCatalog.Error.ambiguousContainer(given, matches: matches.map { "\($0.shortReference) (\($0.name))" })
        }
    }
}
