import FreezectlReports
import ArgumentParser
import FreezerOperations
import FreezectlClient
import Foundation

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
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

    @ParentCommand var root: Freezectl
    @OptionGroup var targets: TargetArguments
    @OptionGroup var common: CommonOptions

    func run() async throws {
        let selection = try targets.selection()
        let listFrozen = targets.targets.isEmpty && !targets.selectsContainers
        let reports: [StatusReport]
        if let client = try daemon() {
            do {
                reports = try await client.status(targets: targets.targets.map(\.description), all: targets.all, filters: targets.filters,
                                                   namespaces: targets.namespaces)
            } catch {
                throw Output.daemonFailure("status", error)
            }
        } else {
            let resolver = try targets.sources.resolverOrExit(common)
            reports = (listFrozen ? resolver.frozenCgroups() : await resolver.status(selection)).map(StatusReport.init)
        }
        if reports.isEmpty {
            if listFrozen {
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

extension Status {
    /// freezectld named by --host or FREEZECTL_HOST; nil: read directly.
    func daemon() throws -> DaemonClient? {
        let client = try namedDaemon(host: root.host, verb: "status")
        if client != nil { try targets.sources.refuseThroughDaemon() }
        return client
    }
}
