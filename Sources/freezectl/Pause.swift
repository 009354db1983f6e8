import ArgumentParser
import CgroupFreezer

struct Pause: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Freeze targets and wait until the kernel reports every process frozen.",
        discussion: """
        Pausing a target that is already paused succeeds and reports "already". \
        A freeze that does not complete within --timeout is thawed again, so nothing stays \
        half-frozen. Every target is processed even if another fails; results are printed \
        in the order given. Refuses to freeze the cgroup freezectl itself runs in, or one \
        of its ancestors.
        """
    )

    @Argument(help: ArgumentHelp("Targets: /abs/cgroup/dir, cgroup:/path or pid:N.", valueName: "target"),
              transform: parseTarget)
    var targets: [TargetSpec]

    @OptionGroup var operation: OperationOptions
    @OptionGroup var common: CommonOptions

    func run() async throws {
        let code = await OperationRunner(kind: .freeze, timeout: operation.timeout, common: common).run(targets)
        throw ExitCode(code)
    }
}

struct Unpause: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Thaw targets and confirm they run again.",
        discussion: """
        Unpausing a running target succeeds and reports "already". A target that stays \
        frozen because an ancestor cgroup is frozen is reported as failed with state \
        frozen-by-parent (its own freeze request is cleared all the same).
        """
    )

    @Argument(help: ArgumentHelp("Targets: /abs/cgroup/dir, cgroup:/path or pid:N.", valueName: "target"),
              transform: parseTarget)
    var targets: [TargetSpec]

    @OptionGroup var operation: OperationOptions
    @OptionGroup var common: CommonOptions

    func run() async throws {
        let code = await OperationRunner(kind: .thaw, timeout: operation.timeout, common: common).run(targets)
        throw ExitCode(code)
    }
}

/// Runs one freeze or thaw per target concurrently and prints the results in input order.
struct OperationRunner {
    enum Kind { case freeze, thaw }

    let kind: Kind
    let timeout: Duration
    let common: CommonOptions

    func run(_ specs: [TargetSpec]) async -> Int32 {
        let freezer: CgroupFreezer
        do {
            freezer = try CgroupFreezer(logger: common.makeLogger())
        } catch {
            Output.error(error.description)
            return ExitStatus.failure
        }
        let reports = await withTaskGroup(of: (Int, OperationReport).self) { group in
            for (index, spec) in specs.enumerated() {
                group.addTask { (index, await perform(spec, freezer: freezer)) }
            }
            var reports = [OperationReport?](repeating: nil, count: specs.count)
            for await (index, report) in group { reports[index] = report }
            return reports.compactMap { $0 }
        }
        Output.operations(reports, common: common, verb: kind == .freeze ? "pause" : "unpause")
        return Output.exitCode(reports.map(\.failure))
    }

    private func perform(_ spec: TargetSpec, freezer: CgroupFreezer) async -> OperationReport {
        let clock = ContinuousClock()
        let start = clock.now
        var target: FreezerTarget?
        do {
            let resolved = try freezer.resolve(spec)
            target = resolved
            let outcome = kind == .freeze
                ? try await freezer.freeze(resolved, timeout: timeout)
                : try await freezer.thaw(resolved, timeout: timeout)
            return OperationReport(spec: spec, outcome: outcome)
        } catch {
            let state = target.flatMap { try? freezer.status($0).state }
            return OperationReport(spec: spec, target: target, state: state, duration: start.duration(to: clock.now), error: error)
        }
    }
}
