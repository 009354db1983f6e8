import ArgumentParser
import FreezerOperations

struct Pause: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pause",
        abstract: "Freeze targets and wait until the kernel reports every process frozen.",
        discussion: """
        Pausing a target that is already paused succeeds and reports "already". \
        A freeze that does not complete within --timeout is thawed again, so nothing stays \
        half-frozen. Targets are processed concurrently; every target is processed even if \
        another fails; results are printed in the order given. Docker containers are paused \
        through the Engine API unless --direct, units through systemd. Refuses to freeze the \
        cgroup freezectl itself runs in, or one of its ancestors.
        """
    )

    @OptionGroup var targets: TargetArguments
    @OptionGroup var batch: BatchFlags
    @OptionGroup var operation: OperationOptions
    @OptionGroup(title: "Audit") var audit: AuditOptions
    @OptionGroup var common: CommonOptions

    func validate() throws { try targets.requireSome() }

    func run() async throws {
        throw ExitCode(try await BatchCommand(kind: .freeze, targets: targets, batch: batch, operation: operation,
                                              audit: audit, common: common).run())
    }
}
