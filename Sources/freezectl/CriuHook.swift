import ContainerEngines
import HealthProbes
import FreezerOperations
import CRIUCheckpoint
import ArgumentParser
import CgroupFreezer
import Foundation
import SystemPackage

/// CRIU's action script: `criu restore --action-script /path/to/freezectl` (CRIU execs the path
/// without arguments; freezectl then runs this), or `freezectl criu-hook` from a wrapper.
struct CriuHook: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "criu-hook",
        abstract: "CRIU action-script entry point: writes the restore marker on post-restore.",
        discussion: """
        CRIU runs this with CRTOOLS_SCRIPT_ACTION, CRTOOLS_IMAGE_DIR and CRTOOLS_INIT_PID set; \
        `freezectl restore --marker PATH` passes the marker path as FREEZECTL_MARKER. On \
        post-restore it writes the marker atomically (docs/checkpoint.md); every other action \
        succeeds without effect. It fails only when the marker itself cannot be written.
        """
    )

    func run() throws {
        let environment = ProcessInfo.processInfo.environment
        guard environment["CRTOOLS_SCRIPT_ACTION"] == "post-restore",
              let marker = environment["FREEZECTL_MARKER"], !marker.isEmpty else { return }
        // CRTOOLS_IMAGE_DIR is a /proc/PID/fd/N path of CRIU's; the directory restore was given is in FREEZECTL_IMAGES_DIR.
        let imagesDir = environment["FREEZECTL_IMAGES_DIR"]
            ?? environment["CRTOOLS_IMAGE_DIR"].flatMap { try? FileManager.default.destinationOfSymbolicLink(atPath: $0) }
            ?? environment["CRTOOLS_IMAGE_DIR"] ?? ""
        do {
            try RestoreMarker.record(at: FilePath(marker), imagesDir: imagesDir,
                                     initPID: environment["CRTOOLS_INIT_PID"].flatMap { Int32($0) },
                                     criuVersion: environment["FREEZECTL_CRIU_VERSION"])
        } catch {
            Output.error("criu-hook: cannot write the restore marker \(marker): \(error)\n  next step: check that its directory exists and is writable")
            throw ExitCode(ExitStatus.failure)
        }
    }
}

/// `freezectl verify`: the tree check of `checkpoint` on its own.
struct Verify: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check that a target's whole process tree is inside its cgroup (what CRIU needs to dump it).",
        discussion: """
        Lists every descendant of the tree's root that is outside the target's cgroup (in the \
        hierarchy it is frozen through), with PID, command and cgroup. Exit 1 when there are \
        such strays; with --repair they are moved into the cgroup and the exit code is 0.
        """
    )

    @Argument(help: ArgumentHelp("Target: /abs/cgroup/dir, cgroup:/path, pid:N or a container.", valueName: "target"), transform: parseTarget)
    var target: TargetSpec

    @Option(name: .long, help: ArgumentHelp("The tree's root (default: the one process of the cgroup whose parent is outside it).", valueName: "pid"))
    var pid: Int32?

    @Flag(name: .long, help: "Move the strays into the cgroup.")
    var repair = false

    @OptionGroup var selection: SelectionOptions
    @OptionGroup(title: "Audit (--repair)") var audit: AuditOptions
    @OptionGroup var common: CommonOptions

    func run() async throws {
        let (target, pid, repair, selection, common) = (self.target, self.pid, self.repair, self.selection, self.common)
        let trail = repair ? try audit.trailOrExit() : nil
        // --repair writes cgroup.procs: a stop signal ends it between moves, with exit 128 + N.
        try await runStoppable("verify", target.description, audit: repair ? audit : nil) {
            let freezer = try CgroupFreezer(logger: common.makeLogger())
            let resolved = try await resolveOne(target, freezer: freezer, selection: selection)
            let root = try pid ?? freezer.treeRoot(of: resolved)
            let clock = ContinuousClock()
            let start = clock.now
            let (tree, strays) = try freezer.verifyTree(root: root, in: resolved, repair: repair)
            if let trail, !strays.isEmpty {
                trail.record(AuditRecord(action: "repair-tree", target: target.description, cgroup: resolved.cgroup.path.string,
                                         backend: resolved.backend.rawValue, result: "ok",
                                         message: "moved \(strays.map(\.pid)) into the cgroup", duration: start.duration(to: clock.now)))
            }
            Output.tree(tree: tree, strays: strays, cgroup: resolved.cgroup.path, repaired: repair, common: common)
            if !strays.isEmpty && !repair { throw ExitCode(ExitStatus.failure) }
        }
    }
}

/// Resolves one target, containers included, to the cgroup that is frozen.
func resolveOne(_ spec: TargetSpec, freezer: CgroupFreezer, selection: SelectionOptions) async throws -> FreezerTarget {
    try await resolveContainerOrCgroup(spec, freezer: freezer, selection: selection).target
}

/// Resolves one target to its cgroup, and to its container when it names one (whose init is the
/// default root of its process tree).
func resolveContainerOrCgroup(_ spec: TargetSpec, freezer: CgroupFreezer, selection: SelectionOptions) async throws -> (target: FreezerTarget, container: Container?) {
    guard case .container = spec else { return (try freezer.resolve(spec), nil) }
    let items = await freezer.select([spec], all: false, filter: try ContainerFilter(parsing: []), catalog: selection.catalog())
    guard let item = items.first else { throw FreezerError.invalidTarget(spec.description, reason: "nothing matched") }
    if let failure = item.failure { throw failure }
    guard let container = item.container, let cgroup = container.cgroup else { throw FreezerError.containerNotRunning(spec.description) }
    return (try freezer.resolve(cgroup), container)
}
