import CgroupFreezer
import ContainerEngines
@testable import ContainerRuntimes
@testable import FreezerOperations
import Foundation
import Testing

/// Route choice and the engine-ownership policy, without a kernel: containers here have no
/// cgroup, so every decision shown is made before any file would be read.
@Suite("Routes: who acts on a container")
struct RouteTests {
    let resolver: Resolver

    init() throws {
        let url = try #require(Bundle.module.url(forResource: "Fixtures/hybrid", withExtension: "mountinfo"))
        let layout = try CgroupLayout(mountinfo: String(contentsOf: url, encoding: .utf8))
        resolver = Resolver(freezer: try CgroupFreezer(layout: layout), catalog: ContainerCatalog(environment: [:]))
    }

    func container(_ source: ContainerSource, state: EngineState? = nil, owner: String? = nil) -> Container {
        Container(source: source, id: "3f2a9c0d1e2f", name: "web", labels: [:], pid: nil, engineState: state, owner: owner, cgroup: nil)
    }

    @Test func dockerContainersGoThroughTheEngine() throws {
        for purpose in [Purpose.pause, .unpause] {
            let resolved = try resolver.route(container(.docker, state: .running), reference: "docker:web", for: purpose, direct: false)
            guard case .engine(let engine, let routed, nil) = resolved.route else {
                Issue.record("\(purpose): not an engine route: \(resolved.route)")
                continue
            }
            #expect(engine.backend == .docker && routed.id == "3f2a9c0d1e2f")
            #expect(resolved.route.backend == .docker && resolved.warnings.isEmpty)
        }
    }

    @Test func aStoppedDockerContainerHasNothingToChangeButCanBeShown() throws {
        #expect(throws: ContainerCatalog.Error.containerNotRunning("docker:web")) {
            try resolver.route(container(.docker, state: .exited), reference: "docker:web", for: .pause, direct: false)
        }
        let shown = try resolver.route(container(.docker, state: .exited), reference: "docker:web", for: .inspect, direct: false)
        guard case .engine = shown.route else { Issue.record("status of a stopped container: \(shown.route)"); return }
    }

    @Test func criuNeedsTheCgroupSoAnEngineContainerNeedsDirect() {
        #expect(throws: ContainerCatalog.Error.ownedByEngine("docker:web", engine: "docker")) {
            try resolver.route(container(.docker, state: .running), reference: "docker:web", for: .checkpoint, direct: false)
        }
    }

    @Test(arguments: ["podman", "containerd", "docker", "cri-o"])
    func engineOwnedRuntimeContainersAreRefusedWithoutDirect(_ owner: String) {
        for purpose in [Purpose.pause, .unpause, .checkpoint] {
            #expect(throws: ContainerCatalog.Error.ownedByEngine("runc:web", engine: owner)) {
                try resolver.route(container(.runc, owner: owner), reference: "runc:web", for: purpose, direct: false)
            }
        }
        // With --direct the cgroup is the route: without one, there is nothing to write.
        #expect(throws: ContainerCatalog.Error.containerNotRunning("runc:web")) {
            try resolver.route(container(.runc, owner: owner), reference: "runc:web", for: .pause, direct: true)
        }
    }

    @Test func engineOwnershipIsReadFromTheTracesEnginesLeave() {
        #expect(EngineOwnership.owner(annotations: ["io.podman.annotations.autoremove": "FALSE"], bundle: nil, runtimeRoot: "/run/runc") == "podman")
        #expect(EngineOwnership.owner(annotations: [:], bundle: "/run/containerd/io.containerd.runtime.v2.task/k8s.io/x", runtimeRoot: "/run/containerd/runc/k8s.io") == "containerd")
        #expect(EngineOwnership.owner(annotations: [:], bundle: nil, runtimeRoot: "/run/docker/runtime-runc/moby") == "docker")
        #expect(EngineOwnership.owner(annotations: ["io.kubernetes.cri-o.Name": "x"], bundle: nil, runtimeRoot: "/run/runc") == "cri-o")
        #expect(EngineOwnership.owner(annotations: ["app": "web"], bundle: "/srv/bundles/web", runtimeRoot: "/run/runc") == nil)
    }

    @Test func selectionsPickFromSourcesOnlyWhenAsked() throws {
        #expect(!TargetSelection(targets: [.pid(1)]).selectsFromSources)
        #expect(TargetSelection(targets: [.pid(1)], all: true).selectsFromSources)
        #expect(TargetSelection(targets: [], filter: try ContainerFilter(parsing: ["label=a"])).selectsFromSources)
        #expect(!TargetSelection(targets: [.pid(1)], filter: try ContainerFilter(parsing: ["label=a"])).selectsFromSources)
    }
}
