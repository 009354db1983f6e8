import CommandSyntax
import FreezerOperations
import CgroupFreezer

/// `freezectl verify`: the tree check of `checkpoint` on its own.
package struct Verify: ServedCommand, Sendable {
    package static let spec = CommandSpec(
        program: "freezectl", name: "verify",
        abstract: "Check that a target's whole process tree is inside its cgroup (what CRIU needs to dump it).",
        discussion: """
        Lists every descendant of the tree's root that is outside the target's cgroup (in the \
        hierarchy it is frozen through), with PID, command and cgroup. Exit 1 when there are \
        such strays; with --repair they are moved into the cgroup and the exit code is 0.
        """,
        arguments: targetArguments("Target", many: false),
        groups: [OptionGroupSpec([
            .option("pid", value: "pid", "The tree's root (default: the one process of the cgroup whose parent is outside it)."),
            .flag("repair", "Move the strays into the cgroup."),
        ]), SourceOptions.spec, AuditOptions.spec.titled("Audit (--repair)"), CommonOptions.spec])

    package var target: TargetSpec
    package var pid: Int32?
    package var repair = false
    package var sources: SourceOptions
    package var audit: AuditOptions
    package var common: CommonOptions

    /// The command `line` says.
    package init(_ line: ParsedLine) throws {
        target = try parseTarget(line.arguments[0])
        pid = try line.integer("pid")
        repair = line.flag("repair")
        sources = SourceOptions(line)
        audit = AuditOptions(line)
        common = try CommonOptions(line)
    }

    /// Only freezectl-engines links CRIU and the probes.
    package var needs: CommandNeeds {
        var needs = CommandNeeds()
        needs.engineSideOnly = true
        return needs
    }

    package func run(on side: any EngineSide) async throws { try await side.run(self) }
}
