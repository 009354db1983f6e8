import ContainerEngines
import HealthProbes
import FreezerOperations
import CRIUCheckpoint
import ArgumentParser
import CgroupFreezer
import Foundation

struct Pause: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pause",
        abstract: "Freeze targets and wait until the kernel reports every process frozen.",
        discussion: """
        Pausing a target that is already paused succeeds and reports "already". \
        A freeze that does not complete within --timeout is thawed again, so nothing stays \
        half-frozen. Targets are processed concurrently; every target is processed even if \
        another fails; results are printed in the order given. Docker containers are paused \
        through the Engine API unless --direct. Refuses to freeze the cgroup freezectl \
        itself runs in, or one of its ancestors.
        """
    )

    @Argument(help: ArgumentHelp("Targets: /abs/cgroup/dir, cgroup:/path, pid:N, runc:ID, crun:ID, docker:ID|NAME, or a bare container ID|NAME.", valueName: "target"),
              transform: parseTarget)
    var targets: [TargetSpec] = []

    @OptionGroup var selection: SelectionOptions
    @OptionGroup var batch: BatchFlags
    @OptionGroup var operation: OperationOptions
    @OptionGroup(title: "Audit") var audit: AuditOptions
    @OptionGroup var common: CommonOptions

    func validate() throws { try selection.validate(targets: targets) }

    func run() async throws {
        throw ExitCode(try await OperationRunner(kind: .freeze, operation: operation, batch: batch, selection: selection,
                                                 common: common, audit: audit).run(targets))
    }
}

struct Unpause: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unpause",
        abstract: "Thaw targets and confirm they run again.",
        discussion: """
        Unpausing a running target succeeds and reports "already". A target that stays \
        frozen because an ancestor cgroup is frozen is reported as failed with state \
        frozen-by-parent (its own freeze request is cleared all the same). Example: \
        freezectl unpause --all --filter label=auto_resume=true --filter memory-below=80%
        """
    )

    @Argument(help: ArgumentHelp("Targets: /abs/cgroup/dir, cgroup:/path, pid:N, runc:ID, crun:ID, docker:ID|NAME, or a bare container ID|NAME.", valueName: "target"),
              transform: parseTarget)
    var targets: [TargetSpec] = []

    @OptionGroup var selection: SelectionOptions
    @OptionGroup var batch: BatchFlags
    @OptionGroup var operation: OperationOptions
    @OptionGroup(title: "Health check after the thaw") var health: HealthOptions
    @OptionGroup(title: "Audit") var audit: AuditOptions
    @OptionGroup var common: CommonOptions

    func validate() throws { try selection.validate(targets: targets) }

    func run() async throws {
        throw ExitCode(try await OperationRunner(kind: .thaw, operation: operation, batch: batch, selection: selection,
                                                 common: common, audit: audit, health: try health.check()).run(targets))
    }
}

/// Selects the items, runs the batch, prints the results in input order.
struct OperationRunner {
    let kind: BatchOptions.Operation
    let operation: OperationOptions
    let batch: BatchFlags
    let selection: SelectionOptions
    let common: CommonOptions
    let audit: AuditOptions
    var health: HealthCheckOptions? = nil

    func run(_ specs: [TargetSpec]) async throws -> Int32 {
        let filter = try selection.containerFilter()
        let freezer: CgroupFreezer
        let trail: AuditTrail
        do {
            freezer = try CgroupFreezer(logger: common.makeLogger())
            trail = try audit.trail()
        } catch let error as FreezerError {
            Output.error(error.description)
            return ExitStatus.failure
        }
        let selection = self.selection, kind = self.kind, health = self.health, common = self.common
        let options = BatchOptions(operation: kind, timeout: operation.timeout, parallel: batch.parallel,
                                   atomic: batch.atomic, direct: batch.direct, audit: trail.isEmpty ? nil : trail)
        // Cancelled by SIGINT/SIGTERM/SIGHUP: the batch ends with what is done, undone or not started.
        let results = try await StopSignals.shared.run { () async throws -> [BatchResult] in
            let catalog = selection.catalog()
            let items = await freezer.select(specs, all: selection.all, filter: filter, catalog: catalog)
            var results = await freezer.run(items, options: options, docker: catalog.docker)
            if let health, !Task.isCancelled {
                let display = LiveHealthDisplay(targets: results.map(\.item.reference),
                                                enabled: common.format == .table && !common.quiet && isatty(STDERR_FILENO) == 1)
                results = await freezer.checkHealth(results, options: health, batch: options, docker: catalog.docker) { index, attempt, outcome in
                    display.update(index, attempt: attempt, outcome: outcome)
                }
            }
            return results
        }
        if results.isEmpty {
            Output.noContainersMatched(common: common)
            return StopSignals.shared.exitCode ?? ExitStatus.success
        }
        let reports = results.map(OperationReport.init)
        Output.operations(reports, common: common, verb: kind.action)
        if let signal = StopSignals.shared.exitCode { return signal }
        let code = Output.exitCode(reports.map(\.failure))
        if code == ExitStatus.success, let health, health.onUnhealthy != .ignore,
           results.contains(where: { $0.health?.healthy == false }) {
            return audit.exitCode(ExitStatus.unhealthy)
        }
        return audit.exitCode(code)
    }
}
