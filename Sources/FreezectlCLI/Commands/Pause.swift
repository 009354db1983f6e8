import CommandSyntax
import FreezectlReports
import CgroupFreezer
import ContainerRuntimes
import FreezerOperations
#if canImport(Glibc)
import Glibc
#endif

package struct Pause: Sendable {
    package static let spec = CommandSpec(
        program: "freezectl", name: "pause",
        abstract: "Freeze targets and wait until the kernel reports every process frozen.",
        discussion: """
        Pausing a target that is already paused succeeds and reports "already". \
        A freeze that does not complete within --timeout is thawed again, so nothing stays \
        half-frozen. Targets are processed concurrently; every target is processed even if \
        another fails; results are printed in the order given. Docker containers are paused \
        through the Engine API unless --direct, units through systemd. Refuses to freeze the \
        cgroup freezectl itself runs in, or one of its ancestors.

        With --reclaim the frozen target's memory goes to swap (the deep pause, \
        docs/deep-pause.md); unpause --prefetch brings it back.

        With --hold: freezectl pause [options] --hold TARGET... -- COMMAND [ARG...]
        """,
        arguments: targetArguments("Targets", many: true),
        groups: [TargetArguments.spec, SourceOptions.spec, BatchFlags.spec, OperationOptions.spec, LeaseOptions.spec,
                 MemoryOptions.pauseSpec, AuditOptions.spec, CommonOptions.spec, Freezectl.hostGroup])

    /// The batch the options make.
    package let batchCommand: BatchCommand

    /// The command `line` says, under `root`, with COMMAND (the words after `--`) for --hold.
    package init(_ line: ParsedLine, root: Freezectl, command: [String]) throws {
        var batch = try BatchCommand(.freeze, line, root: root)
        batch.lease = try LeaseOptions(line, command: command).request
        if batch.memory.prefetch && !batch.lease.hold && batch.lease.duration == nil {
            throw UsageError("pause --prefetch is for the thaw that ends --for or --hold; to bring memory back now: freezectl unpause --prefetch TARGET")
        }
        batchCommand = batch
    }
}

extension Pause: KernelSideCommand {
    package var needs: CommandNeeds { batchCommand.needs }
    package func run(on side: any EngineSide) async throws { throw ExitCode(try await side.run(batchCommand)) }
    package func runKernelSide() async throws { throw ExitCode(try await batchCommand.runKernelSide()) }
}

/// What pause and unpause (Unpause.swift) share: the options become one library call (resolve, act, probe),
/// whose results are printed in input order.
package struct BatchCommand {
    package let kind: BatchOptions.Operation
    /// freezectld's socket (--host); nil: FREEZECTL_HOST, else act directly.
    package let host: String?
    package let targets: TargetArguments
    package let batch: BatchFlags
    package let operation: OperationOptions
    package let audit: AuditOptions
    package let common: CommonOptions
    package var lease = LeaseOptions.Lease()
    package var health: HealthOptions? = nil
    /// --reclaim, --prefetch.
    package let memory: MemoryOptions

    /// What pause and unpause both read from `line` (TARGETs, the batch, the timeout, the audit,
    /// the output); they must act on something.
    init(_ kind: BatchOptions.Operation, _ line: ParsedLine, root: Freezectl) throws {
        self.kind = kind
        host = root.host
        targets = try TargetArguments(line)
        batch = try BatchFlags(line)
        operation = try OperationOptions(line)
        audit = AuditOptions(line)
        common = try CommonOptions(line)
        memory = MemoryOptions(line)
        try targets.requireSome()
    }

    /// Runs the batch in freezectl, with the kernel-side sources (Handoff.server said so).
    package func runKernelSide() async throws -> Int32 {
        let resolver = try targets.sources.resolverOrExit(common, side: nil)
        let selection = try targets.selection()
        return try await runLocally { options in await resolver.run(selection, options: options) }
    }

    /// What the choice of executable looks at.
    package var needs: CommandNeeds {
        var needs = targets.needs
        needs.host = host
        needs.lease = lease.hold || lease.duration != nil
        needs.health = health?.isAsked == true
        needs.direct = batch.direct
        return needs
    }

    /// The library's options the flags make, for `operation` (the audit trail opened).
    package func batchOptions(_ operation: BatchOptions.Operation) throws -> BatchOptions {
        let trail = try audit.trail()
        var options = BatchOptions(operation: operation, timeout: self.operation.timeout, parallel: batch.parallel, atomic: batch.atomic,
                                   direct: batch.direct, audit: trail.isEmpty ? nil : trail)
        options.reclaim = memory.reclaim
        options.prefetch = memory.prefetch
        return options
    }

    /// Runs the batch locally (not through the daemon): `work` runs it with the options the
    /// flags make, cancelled by a stop signal; its results are printed and make the exit code,
    /// 3 when `unhealthy` says one of them is.
    package func runLocally(unhealthy: (BatchResult) -> Bool = { _ in false },
                            _ work: @escaping @Sendable (BatchOptions) async -> [BatchResult]) async throws -> Int32 {
        let options = try batchOptions(kind)
        // Cancelled by SIGINT/SIGTERM/SIGHUP: the batch ends with what is done, undone or not started.
        let results = try await StopSignals.shared.run { await work(options) }
        if results.isEmpty {
            Output.noContainersMatched(common: common)
            return StopSignals.shared.exitCode ?? ExitStatus.success
        }
        let reports = results.map(OperationReport.init)
        Output.operations(reports, common: common, verb: kind.action.rawValue)
        if let signal = StopSignals.shared.exitCode { return signal }
        let code = Output.exitCode(reports.map(\.failure))
        if code == ExitStatus.success, results.contains(where: unhealthy) {
            return audit.exitCode(ExitStatus.unhealthy)
        }
        return audit.exitCode(code)
    }
}


