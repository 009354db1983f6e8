import CommandSyntax
import CgroupFreezer
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import SystemPackage

@dynamicMemberLookup
package struct Restore: ServedCommand, Sendable {
    package static let spec = CommandSpec(
        program: "freezectl", name: "restore",
        abstract: "Restore a checkpointed tree with CRIU, into a cgroup, and write the restore marker.",
        discussion: """
        Runs criu restore --restore-detached with freezectl's own executable as CRIU's action script \
        (it writes --marker on post-restore), then moves every process of the restored tree into \
        --cgroup (so a second checkpoint works), thaws it unless --paused, runs the health check, \
        and prints the new root PID. With --paused (which needs --cgroup) CRIU leaves the tree \
        stopped (--leave-stopped); it is moved into the cgroup and frozen before it is continued, \
        so it never runs. CRIU is bounded by --criu-timeout.
        """,
        groups: [CRIUOptions.spec, OptionGroupSpec([
            .option("cgroup", value: "target", "The cgroup the restored tree must end up in (a target: \(TargetSpec.formList))."),
            .flag("paused", "Leave the restored tree frozen."),
            .option("marker", value: "path", "Write the restore marker here (docs/checkpoint.md)."),
        ])] + CRIUCommandOptions.groups)

    package var cgroup: TargetSpec?
    package var paused = false
    package var marker: String?
    /// CRIU's options, the sources, timeout, health check, audit and output.
    package var shared: CRIUCommandOptions

    package subscript<T>(dynamicMember path: KeyPath<CRIUCommandOptions, T>) -> T { shared[keyPath: path] }

    /// The command `line` says.
    package init(_ line: ParsedLine) throws {
        shared = try CRIUCommandOptions(line)
        cgroup = try line.value("cgroup", default: nil) { try parseTarget($0) }
        paused = line.flag("paused")
        marker = line.value("marker")
        if paused && cgroup == nil {
            throw UsageError("--paused needs --cgroup: a restored tree can be kept frozen only in a cgroup")
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
