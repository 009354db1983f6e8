import ArgumentParser
import CRIUCheckpoint
import CgroupFreezer
import SystemPackage

struct Checkpoint: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
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
    var target: TargetSpec

    @OptionGroup var criu: CRIUOptions

    @Flag(name: .long, inversion: .prefixedNo, help: "Let the tree run on after the dump (default); --kill lets CRIU end it.")
    var leaveRunning = true

    @Flag(name: .long, help: "Let CRIU end the tree after the dump.")
    var kill = false

    @Option(name: .long, help: ArgumentHelp("The tree's root (default: the container's init, or the one process of the cgroup whose parent is outside it).", valueName: "pid"))
    var pid: Int32?

    @Flag(name: .long, help: "Move descendants that are outside the cgroup into it before the dump.")
    var repairTree = false

    @OptionGroup var sources: SourceOptions
    @OptionGroup var operation: OperationOptions
    @OptionGroup(title: "Health check after the thaw") var health: HealthOptions
    @OptionGroup(title: "Audit") var audit: AuditOptions
    @OptionGroup var common: CommonOptions

    func run() async throws {
        var options = CheckpointOptions(imagesDir: FilePath(criu.imagesDir), criu: CRIU(executable: "criu"))
        options.leaveRunning = leaveRunning && !kill
        options.repairTree = repairTree
        options.rootPID = pid
        options.direct = criu.direct
        criu.configure(&options, timeout: operation.timeout, health: try health.check(), audit: try audit.trail())
        let (target, sources, common, printer) = (self.target, self.sources, self.common, stepPrinter(common))
        try await runStoppable("checkpoint", target.description, audit: audit, health: options.health) { [options, criu] in
            var options = options
            options.criu = try criu.locate()
            return try await sources.resolver(common).checkpoint(target, options: options, interrupted: { StopSignals.shared.received != nil },
                                                          progress: printer).health
        }
    }
}
