import ArgumentParser
import CgroupFreezer
import SystemPackage

package struct Checkpoint: AsyncParsableCommand, ServedCommand {
    package init() {}

    package static let configuration = CommandConfiguration(
        commandName: "checkpoint",
        abstract: "Checkpoint a target's process tree with CRIU: check, verify the tree, freeze, dump, thaw.",
        discussion: """
        Steps, each reported as it happens: criu check (with the cause of a known failure); \
        every descendant of the root must be inside the target's cgroup (--repair-tree moves \
        strays in, otherwise the command refuses); freeze; criu dump --freeze-cgroup; thaw; \
        the health check if asked. On any failure after the freeze the cgroup is thawed. \
        CRIU runs in its own process group, bounded by --criu-timeout; on SIGINT, SIGTERM or \
        SIGHUP it gets 10s to finish, then it is killed, the tree thawed, and freezectl exits \
        128 + the signal. An engine's container (Docker's, or a runc container an engine \
        owns) is refused unless --direct: CRIU freezes its cgroup behind the engine's back.
        """
    )

    @Argument(help: targetHelp("Target"), transform: parseTarget)
    package var target: TargetSpec

    @OptionGroup package var criu: CRIUOptions

    @Flag(name: .long, inversion: .prefixedNo, help: "Let the tree run on after the dump (default); --kill lets CRIU end it.")
    package var leaveRunning = true

    @Flag(name: .long, help: "Let CRIU end the tree after the dump.")
    package var kill = false

    @Option(name: .long, help: ArgumentHelp("The tree's root (default: the container's init, or the one process of the cgroup whose parent is outside it).", valueName: "pid"))
    package var pid: Int32?

    @Flag(name: .long, help: "Move descendants that are outside the cgroup into it before the dump.")
    package var repairTree = false

    @OptionGroup package var sources: SourceOptions
    @OptionGroup package var operation: OperationOptions
    @OptionGroup(title: "Health check after the thaw") package var health: HealthOptions
    @OptionGroup(title: "Audit") package var audit: AuditOptions
    @OptionGroup package var common: CommonOptions

    /// Only freezectl-engines links CRIU and the probes.
    package var needs: CommandNeeds {
        var needs = CommandNeeds()
        needs.engineSideOnly = true
        return needs
    }

    package func run(on side: any EngineSide) async throws { try await side.run(self) }
}
