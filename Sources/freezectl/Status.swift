import ArgumentParser
import CgroupFreezer

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the freezer state of targets, or list every frozen or freezing cgroup.",
        discussion: """
        STATE is the effective state: thawed, freezing, frozen, or frozen-by-parent \
        (frozen because an ancestor is). SELF is the cgroup's own request \
        (freezer.self_freezing or cgroup.freeze). PROCS counts the processes in the \
        cgroup and its descendants.

        Without a target, lists every cgroup of the v1 freezer and the v2 hierarchy \
        that is frozen or freezing at its own request; descendants frozen only by such \
        a cgroup are not listed.
        """
    )

    @Argument(help: ArgumentHelp("Targets: /abs/cgroup/dir, cgroup:/path or pid:N.", valueName: "target"),
              transform: parseTarget)
    var targets: [TargetSpec] = []

    @OptionGroup var common: CommonOptions

    func run() async throws {
        let freezer: CgroupFreezer
        do {
            freezer = try CgroupFreezer(logger: common.makeLogger())
        } catch {
            Output.error(error.description)
            throw ExitCode(ExitStatus.failure)
        }
        let reports: [StatusReport]
        if targets.isEmpty {
            reports = freezer.frozenCgroups().map { StatusReport(spec: $0.target.spec, status: $0) }
            if reports.isEmpty && common.format == .table && !common.quiet {
                print("No cgroup is frozen or freezing.")
                return
            }
        } else {
            reports = targets.map { spec in
                do {
                    return StatusReport(spec: spec, status: try freezer.status(try freezer.resolve(spec)))
                } catch {
                    return StatusReport(spec: spec, error: error)
                }
            }
        }
        Output.statuses(reports, common: common)
        throw ExitCode(Output.exitCode(reports.map(\.failure)))
    }
}
