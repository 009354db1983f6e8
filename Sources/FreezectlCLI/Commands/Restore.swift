import ArgumentParser
import CgroupFreezer
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import SystemPackage

package struct Restore: AsyncParsableCommand, ServedCommand {
    package init() {}

    package static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Restore a checkpointed tree with CRIU, into a cgroup, and write the restore marker.",
        discussion: """
        Runs criu restore --restore-detached with freezectl's own executable as CRIU's action script \
        (it writes --marker on post-restore), then moves every process of the restored tree into \
        --cgroup (so a second checkpoint works), thaws it unless --paused, runs the health check, \
        and prints the new root PID. With --paused (which needs --cgroup) CRIU leaves the tree \
        stopped (--leave-stopped); it is moved into the cgroup and frozen before it is continued, \
        so it never runs. CRIU is bounded by --criu-timeout.
        """
    )

    @OptionGroup package var criu: CRIUOptions

    @Option(name: .long, help: ArgumentHelp("The cgroup the restored tree must end up in (a target: \(TargetSpec.formList)).", valueName: "target"), transform: parseTarget)
    package var cgroup: TargetSpec?

    @Flag(name: .long, help: "Leave the restored tree frozen.")
    package var paused = false

    @Option(name: .long, help: ArgumentHelp("Write the restore marker here (docs/checkpoint.md).", valueName: "path"))
    package var marker: String?

    @OptionGroup package var sources: SourceOptions
    @OptionGroup package var operation: OperationOptions
    @OptionGroup(title: "Health check after the thaw") package var health: HealthOptions
    @OptionGroup(title: "Audit") package var audit: AuditOptions
    @OptionGroup package var common: CommonOptions

    package func validate() throws {
        if paused && cgroup == nil {
            throw ValidationError("--paused needs --cgroup: a restored tree can be kept frozen only in a cgroup")
        }
    }

    /// Only freezectl-engines links CRIU and the probes.
    package var needs: CommandNeeds {
        var needs = CommandNeeds()
        needs.engineSideOnly = true
        return needs
    }

    package func run(on side: any EngineSide) async throws { try await side.run(self) }
}
