import ContainerEngines
import HealthProbes
import FreezerOperations
import CRIUCheckpoint
import ArgumentParser
import CgroupFreezer
import Foundation
import Synchronization
import SystemPackage

/// Options both CRIU subcommands take.
struct CRIUOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The images directory.", valueName: "dir"))
    var imagesDir: String

    @Option(name: .long, help: ArgumentHelp("The CRIU executable (default: FREEZECTL_CRIU, else criu on PATH).", valueName: "path"))
    var criu: String?

    @Flag(name: .long, help: "CRIU's --shell-job: the tree's root is not a session leader.")
    var shellJob = false

    @Flag(name: .long, help: "CRIU's --tcp-established: checkpoint established TCP connections.")
    var tcpEstablished = false

    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp(
        "Bound of the CRIU dump or restore, 1us to 24h: when it passes, CRIU and its process group are killed and the tree is thawed. (default: 10m)",
        valueName: "duration"), transform: { try DurationArgument.parse($0, option: "--criu-timeout") })
    var criuTimeout: Duration = CRIU.defaultTimeout

    func locate() throws -> CRIU {
        try CRIU.locate(explicit: criu, environment: ProcessInfo.processInfo.environment)
    }
}

/// Prints each step as it happens: a line on a terminal or in table mode, a JSON object per step with --format json.
func stepPrinter(_ common: CommonOptions) -> @Sendable (CheckpointEvent) -> Void {
    let json = common.format == .json
    let quiet = common.quiet
    return { event in
        // Written at once (not through print's buffer): each step shows as it happens.
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            if let data = try? encoder.encode(event) {
                FileHandleOutput.standardOutput(String(decoding: data, as: UTF8.self))
            }
        } else if !quiet || event.status == "failed" {
            FileHandleOutput.standardOutput("\(event.step.padding(toLength: 9, withPad: " ", startingAt: 0)) \(event.status.padding(toLength: 7, withPad: " ", startingAt: 0)) \(event.detail.escapingControlCharacters)")
        }
    }
}

struct Checkpoint: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "checkpoint",
        abstract: "Checkpoint a target's process tree with CRIU: check, verify the tree, freeze, dump, thaw.",
        discussion: """
        Steps, each reported as it happens: criu check (with the cause of a known failure); \
        every descendant of the root must be inside the target's cgroup (--repair-tree moves \
        strays in, otherwise the command refuses); freeze; criu dump --freeze-cgroup; thaw; \
        the health check if asked. On any failure after the freeze the cgroup is thawed. CRIU \
        is never killed: on SIGINT/SIGTERM freezectl waits for it, thaws, and exits 1.
        """
    )

    @Argument(help: ArgumentHelp("Target: /abs/cgroup/dir, cgroup:/path, pid:N or a container.", valueName: "target"), transform: parseTarget)
    var target: TargetSpec

    @OptionGroup var criu: CRIUOptions

    @Flag(name: .long, inversion: .prefixedNo, help: "Let the tree run on after the dump (default); --kill lets CRIU end it.")
    var leaveRunning = true

    @Flag(name: .long, help: "Let CRIU end the tree after the dump.")
    var kill = false

    @Option(name: .long, help: ArgumentHelp("The tree's root (default: the container's init, or the one process of the cgroup whose parent is outside it).", valueName: "pid"))
    var pid: Int32?

    @Flag(name: .long, help: "Move descendants that are outside the cgroup into it before the dump.")
    var repairTree = false

    @OptionGroup var operation: OperationOptions
    @OptionGroup var selection: SelectionOptions
    @OptionGroup(title: "Health check after the thaw") var health: HealthOptions
    @OptionGroup(title: "Audit") var audit: AuditOptions
    @OptionGroup var common: CommonOptions

    func run() async throws {
        let printer = stepPrinter(common)
        let trail = try audit.trailOrExit()
        let audited = AuditedSteps(action: "checkpoint", target: target.description, trail: trail, print: printer)
        let report = audited.progress
        let (target, criu, selection, common, health) = (self.target, self.criu, self.selection, self.common, self.health)
        var options = CheckpointOptions(imagesDir: FilePath(criu.imagesDir), criu: CRIU(executable: "criu"))
        options.leaveRunning = leaveRunning && !kill
        options.repairTree = repairTree
        options.shellJob = criu.shellJob
        options.tcpEstablished = criu.tcpEstablished
        options.timeout = operation.timeout
        options.criuTimeout = criu.criuTimeout
        let explicitRoot = pid
        try await runStoppable("checkpoint", target.description, audit: audit) { [options] in
            let freezer = try CgroupFreezer(logger: common.makeLogger())
            let (resolved, container) = try await resolveContainerOrCgroup(target, freezer: freezer, selection: selection)
            audited.resolved(resolved)
            var options = options
            options.criu = try criu.locate()
            // The tree's root: --pid, else the container's init, else found from the cgroup.
            options.rootPID = explicitRoot ?? container?.pid
            let wasPaused = try freezer.status(resolved).state != .thawed
            let root = try await audited.record {
                try await freezer.checkpoint(resolved, options: options, interrupted: { StopSignals.shared.received != nil },
                                             progress: report)
            }
            if options.leaveRunning && !wasPaused {
                try await probeAfterThaw(try health.check(), target: target.description, cgroup: resolved.cgroup.path.string,
                                         pid: root, report: report)
            }
        }
    }
}

/// Runs a checkpoint, restore or repair so that SIGINT, SIGTERM and SIGHUP cancel it (the library
/// thaws what it froze), prints its error, and exits 128 + the signal when one came, else 0, 1 or 2.
func runStoppable(_ verb: String, _ subject: String, audit: AuditOptions? = nil,
                  _ body: @escaping @Sendable () async throws -> Void) async throws {
    do {
        try await StopSignals.shared.run(body)
    } catch let error as FreezerError {
        Output.error(verb, subject, ErrorReport(error))
        throw ExitCode(StopSignals.shared.exitCode ?? (error.isBadInput ? ExitStatus.badInput : ExitStatus.failure))
    } catch let exit as ExitCode {
        throw ExitCode(StopSignals.shared.exitCode ?? exit.rawValue)
    } catch {
        Output.error(verb, subject, ErrorReport(error))
        throw ExitCode(StopSignals.shared.exitCode ?? ExitStatus.failure)
    }
    if let code = StopSignals.shared.exitCode { throw ExitCode(code) }
    if let audit, audit.exitCode(ExitStatus.success) != ExitStatus.success { throw ExitCode(ExitStatus.failure) }
}

struct Restore: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Restore a checkpointed tree with CRIU, into a cgroup, and write the restore marker.",
        discussion: """
        Runs criu restore --restore-detached with freezectl itself as CRIU's action script \
        (it writes --marker on post-restore), then moves every process of the restored tree into \
        --cgroup (so a second checkpoint works), thaws it unless --paused, runs the health check, \
        and prints the new root PID. With --paused (which needs --cgroup) CRIU leaves the tree \
        stopped (--leave-stopped); it is moved into the cgroup and frozen before it is continued, \
        so it never runs. CRIU is bounded by --criu-timeout.
        """
    )

    @OptionGroup var criu: CRIUOptions

    @Option(name: .long, help: ArgumentHelp("The cgroup the restored tree must end up in (a target).", valueName: "target"), transform: parseTarget)
    var cgroup: TargetSpec?

    @Flag(name: .long, help: "Leave the restored tree frozen.")
    var paused = false

    @Option(name: .long, help: ArgumentHelp("Write the restore marker here (docs/checkpoint.md).", valueName: "path"))
    var marker: String?

    @OptionGroup var operation: OperationOptions
    @OptionGroup var selection: SelectionOptions
    @OptionGroup(title: "Health check after the thaw") var health: HealthOptions
    @OptionGroup(title: "Audit") var audit: AuditOptions
    @OptionGroup var common: CommonOptions

    func validate() throws {
        if paused && cgroup == nil {
            throw ValidationError("--paused needs --cgroup: a restored tree can be kept frozen only in a cgroup")
        }
    }

    func run() async throws {
        let trail = try audit.trailOrExit()
        let audited = AuditedSteps(action: "restore", target: cgroup?.description ?? criu.imagesDir, trail: trail, print: stepPrinter(common))
        let report = audited.progress
        let (cgroup, criu, selection, common, health, paused, marker) = (self.cgroup, self.criu, self.selection, self.common, self.health, self.paused, self.marker)
        let timeout = operation.timeout
        try await runStoppable("restore", criu.imagesDir, audit: audit) {
            let freezer = try CgroupFreezer(logger: common.makeLogger())
            var options = RestoreOptions(imagesDir: FilePath(criu.imagesDir), criu: try criu.locate())
            if let cgroup { options.cgroup = try await resolveOne(cgroup, freezer: freezer, selection: selection) }
            if let resolved = options.cgroup { audited.resolved(resolved) }
            options.paused = paused
            options.marker = marker.map { FilePath($0) }
            let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
            // CRIU execs this path without arguments; freezectl then acts as `criu-hook`.
            options.actionScript = executable
            options.shellJob = criu.shellJob
            options.tcpEstablished = criu.tcpEstablished
            options.timeout = timeout
            options.criuTimeout = criu.criuTimeout
            let root = try await audited.record { try await freezer.restore(options: options, progress: report) }
            report(CheckpointEvent(step: "done", status: "ok", detail: "root PID \(root)"))
            if !paused {
                try await probeAfterThaw(try health.check(), target: cgroup?.description ?? "pid:\(root)",
                                         cgroup: options.cgroup?.cgroup.path.string, pid: root, report: report)
            }
        }
    }
}

/// Prints the steps of a checkpoint or restore and writes its audit records: one for the
/// operation, and one `repair-tree` when processes were moved into the cgroup.
final class AuditedSteps: @unchecked Sendable {
    private let action: String
    private let target: String
    private let trail: AuditTrail
    private let print: @Sendable (CheckpointEvent) -> Void
    private let lock = NSLock()
    private var cgroup: FreezerTarget?
    /// The operation's record counts from here: resolving and preflight are part of it.
    private let start = ContinuousClock.now

    init(action: String, target: String, trail: AuditTrail, print: @escaping @Sendable (CheckpointEvent) -> Void) {
        self.action = action
        self.target = target
        self.trail = trail
        self.print = print
    }

    func resolved(_ target: FreezerTarget) {
        lock.withLock { cgroup = target }
    }

    var progress: @Sendable (CheckpointEvent) -> Void {
        { [self] event in
            print(event)
            if (event.step == "verify" || event.step == "place") && event.status == "ok" && event.detail.hasPrefix("moved") {
                let cgroup = lock.withLock { self.cgroup }
                trail.record(AuditRecord(action: "repair-tree", target: target, cgroup: cgroup?.cgroup.path.string,
                                         backend: cgroup?.backend.rawValue, result: "ok", message: event.detail, duration: .zero))
            }
        }
    }

    /// Runs the operation and records it, whether it succeeds or throws.
    func record<T>(_ operation: () async throws -> T) async throws -> T {
        do {
            let value = try await operation()
            finish(error: nil)
            return value
        } catch {
            finish(error: error)
            throw error
        }
    }

    private func finish(error: (any Error)?) {
        let cgroup = lock.withLock { self.cgroup }
        trail.record(AuditRecord(action: action, target: target, cgroup: cgroup?.cgroup.path.string, backend: cgroup?.backend.rawValue,
                                 result: error == nil ? "ok" : "error", message: error.map { ($0 as? FreezerError)?.message ?? "\($0)" },
                                 duration: start.duration(to: .now)))
    }
}

/// The `--health-*` check after a checkpoint's or restore's thaw, reported as a `health` step;
/// exit 3 when unhealthy (unless --on-unhealthy ignore).
func probeAfterThaw(_ check: HealthCheckOptions?, target: String, cgroup: String?, pid: Int32,
                    report: @Sendable (CheckpointEvent) -> Void) async throws {
    guard let check else { return }
    let result = try await check.probe.waitUntilHealthy(policy: check.policy, context: ProbeContext(target: target, cgroup: cgroup, pid: pid))
    report(CheckpointEvent(step: "health", status: result.healthy ? "ok" : "failed",
                           detail: "\(result.healthy ? "healthy" : "unhealthy") after \(result.attempts) probe(s): \(result.last?.output ?? "")"))
    if !result.healthy && check.onUnhealthy != .ignore { throw ExitCode(ExitStatus.unhealthy) }
}
