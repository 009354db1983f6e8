import CgroupFreezer
import ContainerRuntimes
import FreezectlCLI
import Foundation
import Testing

@Suite("Which executable serves a command: the one rule (Handoff.server)")
struct HandoffRuleTests {
    /// No engine anywhere: every address points where nothing is.
    static let noEngines = ["DOCKER_HOST": "unix:///nonexistent/docker.sock", "CONTAINER_HOST": "unix:///nonexistent/podman.sock",
                            "CONTAINERD_ADDRESS": "/nonexistent/containerd.sock"]

    static func needs(_ targets: [String], selects: Bool = false, direct: Bool = false, inspects: Bool = false) throws -> CommandNeeds {
        var needs = CommandNeeds()
        needs.targets = try targets.map { try TargetSpec(parsing: $0) }
        needs.selects = selects
        needs.direct = direct
        needs.inspects = inspects
        return needs
    }

    /// `socket` made to exist under `name`'s variable, the others absent.
    static func with(_ variable: String, at path: String) -> [String: String] {
        var environment = noEngines
        environment[variable] = variable == "CONTAINERD_ADDRESS" ? path : "unix://" + path
        return environment
    }

    @Test("cgroups, PIDs, runc, crun and LXC containers are freezectl's; units and the engines' containers freezectl-engines'")
    func byTarget() throws {
        for target in ["cgroup:/x", "/sys/fs/cgroup/freezer/x", "pid:1", "runc:web", "crun:web", "lxc:web", "web"] {
            #expect(Handoff.server(for: try Self.needs([target]), environment: Self.noEngines) == .freezectl, "\(target)")
        }
        for target in ["unit:nginx.service", "docker:web", "podman:web", "containerd:k8s.io/web"] {
            #expect(Handoff.server(for: try Self.needs([target]), environment: Self.noEngines) == .freezectlEngines, "\(target)")
        }
        // One target that needs the engine side takes the whole command there.
        #expect(Handoff.server(for: try Self.needs(["cgroup:/x", "docker:web"]), environment: Self.noEngines) == .freezectlEngines)
    }

    @Test("what only freezectl-engines links: a subcommand of its own, the daemon, a lease, a health check")
    func byNeed() throws {
        var needs = try Self.needs(["cgroup:/x"])
        #expect(Handoff.server(for: needs, environment: Self.noEngines) == .freezectl)
        for change in [{ (n: inout CommandNeeds) in n.engineSideOnly = true }, { $0.host = "unix:///run/f.sock" },
                       { $0.lease = true }, { $0.health = true }] {
            var changed = needs
            change(&changed)
            #expect(Handoff.server(for: changed, environment: Self.noEngines) == .freezectlEngines)
        }
        needs.selects = true
        #expect(Handoff.server(for: needs, environment: Self.noEngines) == .freezectl, "--all with no engine present")
    }

    @Test("an engine that is present: --all, --filter and bare names go to freezectl-engines; runc targets only for podman, and not with --direct")
    func byPresence() throws {
        let file = NSTemporaryDirectory() + "fz-socket-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        FileManager.default.createFile(atPath: file, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let docker = Self.with("DOCKER_HOST", at: file)
        #expect(Handoff.server(for: try Self.needs([], selects: true), environment: docker) == .freezectlEngines)
        #expect(Handoff.server(for: try Self.needs(["web"]), environment: docker) == .freezectlEngines)
        #expect(Handoff.server(for: try Self.needs(["runc:web"]), environment: docker) == .freezectl, "Docker does not claim runc's root")
        #expect(Handoff.server(for: try Self.needs(["cgroup:/x"], selects: false), environment: docker) == .freezectl)

        let podman = Self.with("CONTAINER_HOST", at: file)
        #expect(Handoff.server(for: try Self.needs(["runc:web"]), environment: podman) == .freezectlEngines, "podman may own it")
        #expect(Handoff.server(for: try Self.needs(["runc:web"], direct: true), environment: podman) == .freezectl, "--direct writes it anyway")
        #expect(Handoff.server(for: try Self.needs(["runc:web"], direct: true, inspects: true), environment: podman) == .freezectlEngines,
                "status shows podman's view")
    }
}
