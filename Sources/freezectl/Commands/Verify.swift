import ArgumentParser
import CRIUCheckpoint
import FreezerOperations
import CgroupFreezer

/// `freezectl verify`: the tree check of `checkpoint` on its own.
struct Verify: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check that a target's whole process tree is inside its cgroup (what CRIU needs to dump it).",
        discussion: """
        Lists every descendant of the tree's root that is outside the target's cgroup (in the \
        hierarchy it is frozen through), with PID, command and cgroup. Exit 1 when there are \
        such strays; with --repair they are moved into the cgroup and the exit code is 0.
        """
    )

    @Argument(help: targetHelp("Target"), transform: parseTarget)
    var target: TargetSpec

    @Option(name: .long, help: ArgumentHelp("The tree's root (default: the one process of the cgroup whose parent is outside it).", valueName: "pid"))
    var pid: Int32?

    @Flag(name: .long, help: "Move the strays into the cgroup.")
    var repair = false

    @OptionGroup var sources: SourceOptions
    @OptionGroup(title: "Audit (--repair)") var audit: AuditOptions
    @OptionGroup var common: CommonOptions

    func run() async throws {
        let trail = repair ? try audit.trail() : nil
        let (target, pid, repair, sources, common) = (self.target, self.pid, self.repair, self.sources, self.common)
        // --repair writes cgroup.procs: a stop signal ends it between moves, with exit 128 + N.
        try await runStoppable("verify", target.description, audit: repair ? audit : nil) {
            let check = try await sources.resolver(common).verifyTree(target, root: pid, repair: repair, audit: trail)
            Output.tree(check, common: common)
            if !check.strays.isEmpty && !repair { throw ExitCode(ExitStatus.failure) }
            return nil
        }
    }
}
