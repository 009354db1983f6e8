import FreezectlReports
import ArgumentParser
import CgroupFreezer
import FreezerOperations
import HealthProbes
#if canImport(Glibc)
import Glibc
#endif

struct Pause: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pause",
        abstract: "Freeze targets and wait until the kernel reports every process frozen.",
        discussion: """
        Pausing a target that is already paused succeeds and reports "already". \
        A freeze that does not complete within --timeout is thawed again, so nothing stays \
        half-frozen. Targets are processed concurrently; every target is processed even if \
        another fails; results are printed in the order given. Docker containers are paused \
        through the Engine API unless --direct, units through systemd. Refuses to freeze the \
        cgroup freezectl itself runs in, or one of its ancestors.

        Usage with --hold: freezectl pause [options] --hold TARGET... -- COMMAND [ARG...]
        """
    )

    @ParentCommand var root: Freezectl
    @OptionGroup var targets: TargetArguments
    @OptionGroup var batch: BatchFlags
    @OptionGroup var operation: OperationOptions
    @OptionGroup(title: "Leases") var lease: LeaseOptions
    @OptionGroup(title: "Audit") var audit: AuditOptions
    @OptionGroup var common: CommonOptions

    func validate() throws { try targets.requireSome() }

    func run() async throws {
        throw ExitCode(try await BatchCommand(kind: .freeze, host: root.host, targets: targets, batch: batch, operation: operation,
                                              audit: audit, common: common, lease: lease.request).run())
    }
}

/// What pause and unpause (Unpause.swift) share: the options become one library call (resolve, act, probe),
/// whose results are printed in input order.
struct BatchCommand {
    let kind: BatchOptions.Operation
    /// freezectld's socket (--host); nil: FREEZECTL_HOST, else act directly.
    let host: String?
    let targets: TargetArguments
    let batch: BatchFlags
    let operation: OperationOptions
    let audit: AuditOptions
    let common: CommonOptions
    var lease = LeaseOptions.Lease()
    var health: HealthOptions? = nil

    func run() async throws -> Int32 {
        let client = try daemon()
        if lease.hold { return try await runHeld(through: client) }
        if let client { return try await run(through: client, health: health?.request()) }
        let health = try self.health?.check()
        let selection = try targets.selection()
        let resolver = try targets.sources.resolverOrExit(common)
        let trail = try audit.trail()
        let options = BatchOptions(operation: kind, timeout: operation.timeout, parallel: batch.parallel, atomic: batch.atomic,
                                   direct: batch.direct, audit: trail.isEmpty ? nil : trail)
        let display = LiveHealthDisplay(enabled: health != nil && common.format == .table && !common.quiet && isatty(STDERR_FILENO) == 1)
        // Cancelled by SIGINT/SIGTERM/SIGHUP: the batch ends with what is done, undone or not started.
        let results = try await StopSignals.shared.run {
            await resolver.run(selection, options: options, health: health, progress: display.progress)
        }
        if results.isEmpty {
            Output.noContainersMatched(common: common)
            return StopSignals.shared.exitCode ?? ExitStatus.success
        }
        let reports = results.map(OperationReport.init)
        Output.operations(reports, common: common, verb: kind.action.rawValue)
        if let signal = StopSignals.shared.exitCode { return signal }
        let code = Output.exitCode(reports.map(\.failure))
        if code == ExitStatus.success, let health, results.contains(where: { health.fails($0.health) }) {
            return audit.exitCode(ExitStatus.unhealthy)
        }
        return audit.exitCode(code)
    }
}
