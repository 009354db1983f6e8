import CommandSyntax
import FreezerOperations

package struct Unpause: Sendable {
    package static let spec = CommandSpec(
        program: "freezectl", name: "unpause",
        abstract: "Thaw targets and confirm they run again.",
        discussion: """
        Unpausing a running target succeeds and reports "already". A target that stays \
        frozen because an ancestor cgroup is frozen is reported as failed with state \
        frozen-by-parent (its own freeze request is cleared all the same). Example: \
        freezectl unpause --all --filter label=auto_resume=true --filter memory-below=80%
        """,
        arguments: targetArguments("Targets", many: true),
        groups: [TargetArguments.spec, SourceOptions.spec, BatchFlags.spec, OperationOptions.spec, HealthOptions.spec,
                 MemoryOptions.unpauseSpec, AuditOptions.spec, CommonOptions.spec, Freezectl.hostGroup])

    /// The batch the options make.
    package let batchCommand: BatchCommand

    /// The command `line` says, under `root`.
    package init(_ line: ParsedLine, root: Freezectl) throws {
        var batch = try BatchCommand(.thaw, line, root: root)
        batch.health = try HealthOptions(line)
        batchCommand = batch
    }
}

extension Unpause: KernelSideCommand {
    package var needs: CommandNeeds { batchCommand.needs }
    package func run(on side: any EngineSide) async throws { throw ExitCode(try await side.run(batchCommand)) }
    package func runKernelSide() async throws { throw ExitCode(try await batchCommand.runKernelSide()) }
}
