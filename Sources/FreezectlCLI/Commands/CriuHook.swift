import CommandSyntax
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// CRIU's action script: `criu restore --action-script /path/to/freezectl` (CRIU execs the path
/// without arguments; freezectl then runs this), or `freezectl criu-hook` from a wrapper.
package struct CriuHook: ServedCommand, Sendable {
    package init() {}

    package static let spec = CommandSpec(
        program: "freezectl", name: "criu-hook",
        abstract: "CRIU action-script entry point: writes the restore marker on post-restore.",
        discussion: """
        CRIU runs this with CRTOOLS_SCRIPT_ACTION, CRTOOLS_IMAGE_DIR and CRTOOLS_INIT_PID set; \
        `freezectl restore --marker PATH` passes the marker path as FREEZECTL_MARKER. On \
        post-restore it writes the marker atomically (docs/checkpoint.md); every other action \
        succeeds without effect. It fails only when the marker itself cannot be written.
        """,
        groups: [])

    /// Only freezectl-engines links CRIU's hook contract.
    package var needs: CommandNeeds {
        var needs = CommandNeeds()
        needs.engineSideOnly = true
        return needs
    }

    package func run(on side: any EngineSide) async throws { try side.run(self) }
}
