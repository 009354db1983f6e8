import ArgumentParser
import FreezerOperations
import CgroupFreezer

/// `freezectl verify`: the tree check of `checkpoint` on its own.
package struct Verify: AsyncParsableCommand, ServedCommand {
    package init() {}

    package static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check that a target's whole process tree is inside its cgroup (what CRIU needs to dump it).",
        discussion: """
        Lists every descendant of the tree's root that is outside the target's cgroup (in the \
        hierarchy it is frozen through), with PID, command and cgroup. Exit 1 when there are \
        such strays; with --repair they are moved into the cgroup and the exit code is 0.
        """
    )

    @Argument(help: targetHelp("Target"), transform: parseTarget)
    package var target: TargetSpec

    @Option(name: .long, help: ArgumentHelp("The tree's root (default: the one process of the cgroup whose parent is outside it).", valueName: "pid"))
    package var pid: Int32?

    @Flag(name: .long, help: "Move the strays into the cgroup.")
    package var repair = false

    @OptionGroup package var sources: SourceOptions
    @OptionGroup(title: "Audit (--repair)") package var audit: AuditOptions
    @OptionGroup package var common: CommonOptions

    /// Only freezectl-engines links CRIU and the probes.
    package var needs: CommandNeeds {
        var needs = CommandNeeds()
        needs.engineSideOnly = true
        return needs
    }

    package func run(on side: any EngineSide) async throws { try await side.run(self) }
}
