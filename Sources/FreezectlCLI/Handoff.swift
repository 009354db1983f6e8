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
    /// The health flags as the library validates them (usage errors).
    func validate(_ health: HealthOptions) throws
}

package enum Handoff {
    /// Set by freezectl-engines' main before it parses; nil in freezectl.
    nonisolated(unsafe) package static var engineSide: (any EngineSide)?

    /// The name of the executable that does what freezectl does not link.
    package static let enginesName = "freezectl-engines"

    /// The arguments freezectl was started with, for the handover (`Freezectl.start` keeps them
    /// before it takes a `pause --hold` COMMAND off).
    package nonisolated(unsafe) static var arguments: [String] = []

    /// The engine side of this process; when it has none (freezectl), this process becomes
    /// freezectl-engines with the same arguments and never returns. Call it before anything is
    /// written: the other executable starts the command over.
    package static func engines() -> any EngineSide {
        if let side = engineSide { return side }
        exec()
    }

    /// Whether the command goes to freezectld: `--host`, or FREEZECTL_HOST in the environment
    /// (freezectl-engines' DaemonClient reads and checks them; only its client talks to it).
    static func namesDaemon(_ host: String?) -> Bool {
        host != nil || getenv("FREEZECTL_HOST") != nil
    }

    /// Whether an engine's socket is there (`--all` and `--filter` then select from it too): the
    /// one reading of it for the handover, before parsing and after.
    static var engineListens: Bool {
        ContainerCatalog.anyEnginePresent(environment: EngineAddress.processEnvironment())
    }

    /// Whether the command line certainly needs freezectl-engines, seen before parsing: a
    /// subcommand that only it runs, an engine's or systemd's target, a health check, the daemon,
    /// a lease, or `--all`/`--filter` where an engine listens (`TargetArguments.needsEngineSide`'s
    /// rule). Parsing would come to the same answer (the commands' `needsEngineSide` and the
    /// resolution decide, this only saves freezectl's parse and run up to the handover, which
    /// the Docker and containerd batches of docs/benchmarks.md pay on every call); a miss costs
    /// nothing but that, and a word taken for one of these (an option's value) only hands over a
    /// command freezectl-engines runs the same.
    static func surelyNeedsEngines(_ arguments: [String]) -> Bool {
        if namesDaemon(nil) { return true }
        let words = arguments.prefix { $0 != "--" }
        if let command = words.first(where: { !$0.hasPrefix("-") }), ["checkpoint", "restore", "verify", "criu-hook"].contains(command) {
            return true
        }
        let selects = words.contains { ["--all", "-a", "--filter", "-f"].contains($0) || $0.hasPrefix("--filter=") }
        if selects && engineListens { return true }
        let enginePrefixes = ContainerSources.all.filter(\.needsEngineClient).map { "\($0.source.rawValue):" } + ["unit:"]
        let engineOptions = ["--host", "--for", "--hold", "--namespace"]
        return words.contains { word in
            enginePrefixes.contains { word.hasPrefix($0) } || engineOptions.contains(word)
                || ["--health-", "--host=", "--for=", "--namespace=", "--wait-healthy", "--on-unhealthy"].contains { word.hasPrefix($0) }
        }
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

    private static func exec() -> Never {
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
