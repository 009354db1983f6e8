import ArgumentParser
import FreezerOperations

package struct Unpause: AsyncParsableCommand {
    package init() {}

    package static let configuration = CommandConfiguration(
        commandName: "unpause",
        abstract: "Thaw targets and confirm they run again.",
        discussion: """
        Unpausing a running target succeeds and reports "already". A target that stays \
        frozen because an ancestor cgroup is frozen is reported as failed with state \
        frozen-by-parent (its own freeze request is cleared all the same). Example: \
        freezectl unpause --all --filter label=auto_resume=true --filter memory-below=80%
        """
    )

    @ParentCommand package var root: Freezectl
    @OptionGroup package var targets: TargetArguments
    @OptionGroup package var batch: BatchFlags
    @OptionGroup package var operation: OperationOptions
    @OptionGroup(title: "Health check after the thaw") package var health: HealthOptions
    @OptionGroup(title: "Audit") package var audit: AuditOptions
    @OptionGroup package var common: CommonOptions

    package func validate() throws { try targets.requireSome() }

    /// The batch the options make.
    package var batchCommand: BatchCommand {
        BatchCommand(kind: .thaw, host: root.host, targets: targets, batch: batch, operation: operation,
                     audit: audit, common: common, health: health)
    }
}

extension Unpause: KernelSideCommand {
    package var needs: CommandNeeds { batchCommand.needs }
    package func run(on side: any EngineSide) async throws { throw ExitCode(try await side.run(batchCommand)) }
    package func runKernelSide() async throws { throw ExitCode(try await batchCommand.runKernelSide()) }
}
