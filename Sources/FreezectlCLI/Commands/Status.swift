import CommandSyntax
import FreezectlReports
import FreezerOperations
#if canImport(Glibc)
import Glibc
#endif

package struct Status: KernelSideCommand, Sendable {
    package static let spec = CommandSpec(
        program: "freezectl", name: "status",
        abstract: "Show the freezer state of targets or containers, or list every frozen or freezing cgroup.",
        discussion: """
        STATE is the effective state: thawed, freezing, frozen, or frozen-by-parent \
        (frozen because an ancestor is); idle-frozen (WAKE, since TIME) for a target \
        freezectld froze because it was idle (JSON: state frozen, and idle). SELF is the cgroup's own request \
        (freezer.self_freezing or cgroup.freeze). PROCS counts the processes in the \
        cgroup and its descendants; RESIDENT and SWAPPED, their memory in RAM and in \
        swap (the sums of their Pss and SwapPss: what pause --reclaim gives back). For \
        containers, ENGINE is the engine's own view \
        (Docker's state) and DRIFT marks an engine that disagrees with the cgroup; for \
        units, SYSTEMD is systemd's FreezerState.

        Without a target, --all or --filter, lists every cgroup of the v1 freezer and \
        the v2 hierarchy that is frozen or freezing at its own request; descendants \
        frozen only by such a cgroup are not listed.
        """,
        arguments: targetArguments("Targets", many: true),
        groups: [TargetArguments.spec, SourceOptions.spec, CommonOptions.spec, Freezectl.hostGroup])

    package var root: Freezectl
    package var targets: TargetArguments
    package var common: CommonOptions

    /// The command `line` says, under `root`.
    package init(_ line: ParsedLine, root: Freezectl) throws {
        self.root = root
        targets = try TargetArguments(line)
        common = try CommonOptions(line)
    }

    /// The frozen cgroups, or the targets' states, read in freezectl (Handoff.server said so).
    package func runKernelSide() async throws {
        let resolver = try targets.sources.resolverOrExit(common, side: nil)
        if listsFrozen { return try show(resolver.frozenCgroups().map { StatusReport($0.shown(idle: IdleFreeze.read())) }) }
        try show(await resolver.status(try targets.selection()).map(StatusReport.init))
    }

    /// What the choice of executable looks at.
    package var needs: CommandNeeds {
        var needs = targets.needs
        needs.host = root.host
        needs.inspects = true
        return needs
    }

    package func run(on side: any EngineSide) async throws { try await side.run(self) }

    /// No target, `--all` or `--filter`: the command lists the frozen and freezing cgroups.
    package var listsFrozen: Bool { targets.targets.isEmpty && !targets.selectsContainers }

    /// Prints the reports, read directly or from the daemon; exit 1 or 2 when one has a failure.
    package func show(_ reports: [StatusReport]) throws {
        if reports.isEmpty {
            if listsFrozen {
                if common.format == .table && !common.quiet { FileHandleOutput.standardOutput("No cgroup is frozen or freezing.") }
            } else {
                Output.noContainersMatched(common: common)
            }
            return
        }
        Output.statuses(reports, common: common)
        throw ExitCode(Output.exitCode(reports.map(\.failure)))
    }
}
