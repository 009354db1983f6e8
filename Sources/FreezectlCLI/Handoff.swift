import CommandSyntax
import ContainerRuntimes
import CgroupFreezer
import SystemPackage
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

/// What only `freezectl-engines` does: it links the engines' clients (Docker, podman,
/// containerd), the health probes, CRIU and freezectld's client, with SwiftNIO, gRPC and full
/// Foundation under them. `freezectl` links none of these, so that pausing a cgroup, a PID or a
/// runc/crun container starts as fast as `runc pause` (issue 16, docs/performance.md); a command
/// that needs any of them is handed over whole, by exec'ing `freezectl-engines` with the same
/// arguments, before anything is written. Both executables parse with the same command tree.
package protocol EngineSide: Sendable {
    /// The catalog with the engines' clients.
    func catalog(runtimeRoots: [FilePath], environment: [String: String]) -> ContainerCatalog
    /// pause or unpause, through the daemon, with a lease or a health check, or locally.
    func run(_ command: BatchCommand) async throws -> Int32
    /// status, through the daemon or locally.
    func run(_ command: Status) async throws
    func run(_ command: Checkpoint) async throws
    func run(_ command: Restore) async throws
    func run(_ command: Verify) async throws
    func run(_ command: CriuHook) throws
}

/// What a parsed command needs, as far as the choice of executable goes.
package struct CommandNeeds: Sendable {
    /// A subcommand only freezectl-engines runs (checkpoint, restore, verify, criu-hook).
    package var engineSideOnly = false
    /// `--host`; FREEZECTL_HOST is read by the rule.
    package var host: String?
    /// `--for` or `--hold`: a lease (freezectld's, or a held command's).
    package var lease = false
    /// A health check after the thaw.
    package var health = false
    /// The TARGETs.
    package var targets: [TargetSpec] = []
    /// `--all` or `--filter`: containers selected from every source.
    package var selects = false
    /// `--direct`: a container an engine owns is written directly, so its engine is not asked.
    package var direct = false
    /// `status`: a container is shown with its owner's view.
    package var inspects = false

    package init() {}
}

/// A parsed command that either executable can be asked to run.
package protocol ServedCommand {
    /// Its options and help (a usage error found while it runs shows its usage).
    static var spec: CommandSpec { get }
    /// What it needs (`Handoff.server(for:)` decides from it).
    var needs: CommandNeeds { get }
    /// Runs it in freezectl-engines, which links everything.
    func run(on side: any EngineSide) async throws
}

/// A command freezectl runs itself when the rule lets it (pause, unpause, status).
package protocol KernelSideCommand: ServedCommand {
    /// Runs it with runc's, crun's and LXC's sources and the kernel's freezer alone.
    func runKernelSide() async throws
}

package enum Handoff {
    /// The two executables.
    package enum Server: Equatable { case freezectl, freezectlEngines }

    /// The name of the executable that does what freezectl does not link.
    package static let enginesName = "freezectl-engines"

    /// The one rule of which executable serves a command (docs/architecture.md, "Two
    /// executables"). freezectl-engines, which links everything, runs whatever it is given;
    /// freezectl runs a command itself unless it needs
    /// - a subcommand only freezectl-engines has, the daemon (`--host`, FREEZECTL_HOST), a lease
    ///   or a health check: what it links;
    /// - a systemd unit, or a container of a source whose client is a network client (the
    ///   registry's `needsEngineClient`: Docker, podman, containerd);
    /// - a bare container name, or `--all`/`--filter`, where such a source is present (its
    ///   containers are candidates too);
    /// - a runc/crun container where podman's service is present, unless `--direct` writes it
    ///   anyway: podman runs its containers with runc's root, and keeps their pause state.
    /// Everything else (cgroups, PIDs, runc, crun and LXC containers) freezectl resolves and acts
    /// on itself, including refusing a runc container an engine owns.
    package static func server(for needs: CommandNeeds, environment: [String: String]? = nil) -> Server {
        if needs.engineSideOnly || needs.lease || needs.health || needs.host != nil || getenv("FREEZECTL_HOST") != nil {
            return .freezectlEngines
        }
        // Read only when a target or selection asks: a cgroup pause reads no environment.
        func anyEngine() -> Bool {
            ContainerCatalog.anyEnginePresent(environment: environment ?? EngineAddress.processEnvironment())
        }
        func podman() -> Bool {
            ContainerSourceKind.podman.isPresent(in: environment ?? EngineAddress.processEnvironment())
        }
        if needs.selects && anyEngine() { return .freezectlEngines }
        for target in needs.targets {
            switch target {
            case .directory, .cgroup, .pid:
                continue
            case .unit:
                return .freezectlEngines
            case .container(nil, _):
                if anyEngine() { return .freezectlEngines }
            case .container(let source?, _):
                if source.needsEngineClient { return .freezectlEngines }
                if (source == .runc || source == .crun) && (!needs.direct || needs.inspects) && podman() {
                    return .freezectlEngines
                }
            }
        }
        return .freezectl
    }

    /// Where freezectl-engines is: beside this executable (a build tree, or a prefix's bin/),
    /// else in the prefix's libexec/freezectl/ (scripts/install.sh, the .deb). Found through
    /// /proc/self/exe, never PATH: a PATH entry the caller controls must not choose the code
    /// that runs with freezectl's privileges.
    package static func enginesPath() -> FilePath? {
        guard case .success(let own) = Syscall.realPath("/proc/self/exe") else { return nil }
        // The parent directories on the string (realpath's answer is absolute and normal):
        // FilePath's component views cost a metadata instantiation at every handover.
        func parent(_ path: Substring) -> Substring { path[..<(path.lastIndex(of: "/") ?? path.startIndex)] }
        let directory = parent(Substring(own.string))
        let candidates = ["\(directory)/\(enginesName)", "\(parent(directory))/libexec/freezectl/\(enginesName)"]
        return candidates.first { access($0, X_OK) == 0 }.map { FilePath($0) }
    }

    /// Becomes freezectl-engines with the same `arguments` (before anything is written: the other
    /// executable starts over); exit 1 with the reason when it cannot.
    package static func exec(_ arguments: [String]) -> Never {
        guard let path = enginesPath() else {
            FileHandleOutput.standardError("freezectl: this command needs \(enginesName) (engines, health probes, CRIU, the daemon's client), which is not installed beside freezectl or in its prefix's libexec/freezectl\n  next step: reinstall freezectl (scripts/install.sh or the .deb), which installs both")
            exit(ExitStatus.failure)
        }
        var argv = ([path.string] + arguments).map { strdup($0) }
        argv.append(nil)
        execv(path.string, argv)
        let failure = Errno(rawValue: errno)
        FileHandleOutput.standardError("freezectl: cannot run \(path): \(failure)\n  next step: check that it is executable (reinstall freezectl)")
        exit(ExitStatus.failure)
    }
}
