import CommandSyntax
import CgroupFreezer
import SystemPackage

@dynamicMemberLookup
package struct Checkpoint: ServedCommand, Sendable {
    package static let spec = CommandSpec(
        program: "freezectl", name: "checkpoint",
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
        """,
        arguments: targetArguments("Target", many: false),
        groups: [CRIUOptions.spec, OptionGroupSpec([
            .flag("leave-running", "Let the tree run on after the dump (default); --kill lets CRIU end it."),
            .flag("no-leave-running", "The same as --kill."),
            .flag("kill", "Let CRIU end the tree after the dump."),
            .option("pid", value: "pid", "The tree's root (default: the container's init, or the one process of the cgroup whose parent is outside it)."),
            .flag("repair-tree", "Move descendants that are outside the cgroup into it before the dump."),
        ])] + CRIUCommandOptions.groups)

    package var target: TargetSpec
    package var leaveRunning = true
    package var kill = false
    package var pid: Int32?
    package var repairTree = false
    /// CRIU's options, the sources, timeout, health check, audit and output.
    package var shared: CRIUCommandOptions

    package subscript<T>(dynamicMember path: KeyPath<CRIUCommandOptions, T>) -> T { shared[keyPath: path] }

    /// The command `line` says.
    package init(_ line: ParsedLine) throws {
        target = try parseTarget(line.arguments[0])
        shared = try CRIUCommandOptions(line)
        if line.flag("leave-running") && line.flag("no-leave-running") {
            throw UsageError("give --leave-running or --no-leave-running, not both")
        }
        leaveRunning = !line.flag("no-leave-running")
        kill = line.flag("kill")
        pid = try line.integer("pid")
        repairTree = line.flag("repair-tree")
    }

    /// Only freezectl-engines links CRIU and the probes.
    package var needs: CommandNeeds {
        var needs = CommandNeeds()
        needs.engineSideOnly = true
        return needs
    }

    package func run(on side: any EngineSide) async throws { try await side.run(self) }
}
