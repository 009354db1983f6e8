import ContainerEngines
import HealthProbes
import FreezerOperations
import CRIUCheckpoint
import ArgumentParser
import CgroupFreezer

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show the freezer state of targets or containers, or list every frozen or freezing cgroup.",
        discussion: """
        STATE is the effective state: thawed, freezing, frozen, or frozen-by-parent \
        (frozen because an ancestor is). SELF is the cgroup's own request \
        (freezer.self_freezing or cgroup.freeze). PROCS counts the processes in the \
        cgroup and its descendants. For containers, ENGINE is the engine's own view \
        (Docker's state) and DRIFT marks an engine that disagrees with the cgroup.

        Without a target, --all or --filter, lists every cgroup of the v1 freezer and \
        the v2 hierarchy that is frozen or freezing at its own request; descendants \
        frozen only by such a cgroup are not listed.
        """
    )

    @Argument(help: ArgumentHelp("Targets: /abs/cgroup/dir, cgroup:/path, pid:N, runc:ID, crun:ID, docker:ID|NAME, or a bare container ID|NAME.", valueName: "target"),
              transform: parseTarget)
    var targets: [TargetSpec] = []

    @OptionGroup var selection: SelectionOptions
    @OptionGroup var common: CommonOptions

    func run() async throws {
        let filter = try selection.containerFilter()
        let catalog = selection.catalog()
        let freezer: CgroupFreezer
        do {
            freezer = try CgroupFreezer(logger: common.makeLogger())
        } catch {
            Output.error(error.description)
            throw ExitCode(ExitStatus.failure)
        }
        let reports: [StatusReport]
        if targets.isEmpty && !selection.selectsContainers {
            reports = freezer.frozenCgroups().map { StatusReport(reference: $0.target.spec.description, status: $0) }
            if reports.isEmpty && common.format == .table && !common.quiet {
                FileHandleOutput.standardOutput("No cgroup is frozen or freezing.")
                return
            }
        } else {
            let items = await freezer.select(targets, all: selection.all, filter: filter, catalog: catalog)
            if items.isEmpty {
                Output.noContainersMatched(common: common)
                return
            }
            reports = items.map { item in
                if let failure = item.failure { return StatusReport(reference: item.reference, error: failure) }
                if let container = item.container {
                    return StatusReport(reference: item.reference, container: freezer.status(of: container))
                }
                do {
                    let spec = try require(item.cgroup)
                    var report = StatusReport(reference: item.reference, status: try freezer.status(try freezer.resolve(spec)))
                    if case .unit(let unit) = spec {
                        // systemd's own view, beside the cgroup's: FreezerState.
                        report.engineState = try? SystemdManager().freezerState(unit)
                    }
                    return report
                } catch {
                    return StatusReport(reference: item.reference, error: error)
                }
            }
        }
        Output.statuses(reports, common: common)
        throw ExitCode(Output.exitCode(reports.map(\.failure)))
    }
}

/// `#require` for the CLI: unwraps or fails as an internal error.
private func require<T>(_ value: T?) throws -> T {
    guard let value else { throw FreezerError.invalidTarget("-", reason: "nothing to show") }
    return value
}
