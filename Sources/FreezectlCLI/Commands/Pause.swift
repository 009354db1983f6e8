import FreezectlReports
import ArgumentParser
import CgroupFreezer
import ContainerRuntimes
import FreezerOperations
#if canImport(Glibc)
import Glibc
#endif

package struct Pause: AsyncParsableCommand {
    package init() {}

    package static let configuration = CommandConfiguration(
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

    @ParentCommand package var root: Freezectl
    @OptionGroup package var targets: TargetArguments
    @OptionGroup package var batch: BatchFlags
    @OptionGroup package var operation: OperationOptions
    @OptionGroup(title: "Leases") package var lease: LeaseOptions
    @OptionGroup(title: "Audit") package var audit: AuditOptions
    @OptionGroup package var common: CommonOptions

    package func validate() throws { try targets.requireSome() }

    package func run() async throws {
        throw ExitCode(try await BatchCommand(kind: .freeze, host: root.host, targets: targets, batch: batch, operation: operation,
                                              audit: audit, common: common, lease: lease.request).run())
    }
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

    package func run() async throws -> Int32 {
        if let side = Handoff.engineSide { return try await side.run(self) }
        guard !needsEngineSide else { return try await Handoff.engines().run(self) }
        let resolver = try targets.sources.resolverOrExit(common)
        let items = await resolver.resolve(try targets.selection(), for: kind.purpose, direct: batch.direct)
        // A runc/crun container an engine owns: the engine may keep its state (podman), or the
        // refusal names it; either way it is freezectl-engines' to say. Nothing was written yet.
        if items.contains(where: \.isEngineOwned) { return try await Handoff.engines().run(self) }
        return try await runLocally { options in await resolver.run(items, options: options) }
    }

    /// Whether this call needs what only freezectl-engines links: the daemon (--host,
    /// FREEZECTL_HOST, a lease), a health check, or an engine's or systemd's targets, which
    /// `--all` and `--filter` select from too.
    package var needsEngineSide: Bool {
        Handoff.namesDaemon(host) || lease.hold || lease.duration != nil
            || health?.isAsked == true || targets.needsEngineSide
    }

    /// Runs the batch locally (not through the daemon): `work` runs it with the options the
    /// flags make, cancelled by a stop signal; its results are printed and make the exit code,
    /// 3 when `unhealthy` says one of them is.
    package func runLocally(unhealthy: (BatchResult) -> Bool = { _ in false },
                            _ work: @escaping @Sendable (BatchOptions) async -> [BatchResult]) async throws -> Int32 {
        let trail = try audit.trail()
        let options = BatchOptions(operation: kind, timeout: operation.timeout, parallel: batch.parallel, atomic: batch.atomic,
                                   direct: batch.direct, audit: trail.isEmpty ? nil : trail)
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

extension Resolution {
    /// A container an engine owns (found in runc's or crun's state): refused as the engine's, or
    /// resolved with --direct. freezectl-engines decides, where podman may keep its state.
    package var isEngineOwned: Bool {
        if let failure = failure as? ContainerCatalog.Error, case .ownedByEngine = failure { return true }
        return resolved?.container?.owner != nil
    }
}
