import FreezectlReports
import ArgumentParser
import FreezerOperations
#if canImport(Glibc)
import Glibc
#endif

package struct Status: AsyncParsableCommand {
    package init() {}

    package static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show the freezer state of targets or containers, or list every frozen or freezing cgroup.",
        discussion: """
        STATE is the effective state: thawed, freezing, frozen, or frozen-by-parent \
        (frozen because an ancestor is). SELF is the cgroup's own request \
        (freezer.self_freezing or cgroup.freeze). PROCS counts the processes in the \
        cgroup and its descendants. For containers, ENGINE is the engine's own view \
        (Docker's state) and DRIFT marks an engine that disagrees with the cgroup; for \
        units, SYSTEMD is systemd's FreezerState.

        Without a target, --all or --filter, lists every cgroup of the v1 freezer and \
        the v2 hierarchy that is frozen or freezing at its own request; descendants \
        frozen only by such a cgroup are not listed.
        """
    )

    @ParentCommand package var root: Freezectl
    @OptionGroup package var targets: TargetArguments
    @OptionGroup package var common: CommonOptions

    package func run() async throws {
        if let side = Handoff.engineSide { return try await side.run(self) }
        guard !needsEngineSide else { return try await Handoff.engines().run(self) }
        let resolver = try targets.sources.resolverOrExit(common)
        let items = await resolver.resolve(try targets.selection(), for: .inspect)
        // An engine's container is shown with the engine's view, which freezectl-engines reads.
        if items.contains(where: \.isEngineOwned) { return try await Handoff.engines().run(self) }
        try show(listsFrozen ? resolver.frozenCgroups().map(StatusReport.init) : items.map(resolver.status).map(StatusReport.init))
    }

    /// The daemon (--host, FREEZECTL_HOST), or an engine's or systemd's targets.
    package var needsEngineSide: Bool { Handoff.namesDaemon(root.host) || targets.needsEngineSide }

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
