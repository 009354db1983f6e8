import ArgumentParser
import FreezerOperations

struct Unpause: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unpause",
        abstract: "Thaw targets and confirm they run again.",
        discussion: """
        Unpausing a running target succeeds and reports "already". A target that stays \
        frozen because an ancestor cgroup is frozen is reported as failed with state \
        frozen-by-parent (its own freeze request is cleared all the same). Example: \
        freezectl unpause --all --filter label=auto_resume=true --filter memory-below=80%
        """
    )

    @ParentCommand var root: Freezectl
    @OptionGroup var targets: TargetArguments
    @OptionGroup var batch: BatchFlags
    @OptionGroup var operation: OperationOptions
    @OptionGroup(title: "Health check after the thaw") var health: HealthOptions
    @OptionGroup(title: "Audit") var audit: AuditOptions
    @OptionGroup var common: CommonOptions

    func validate() throws { try targets.requireSome() }

    func run() async throws {
        throw ExitCode(try await BatchCommand(kind: .thaw, host: root.host, targets: targets, batch: batch, operation: operation,
                                              audit: audit, common: common, health: health).run())
    }
}
