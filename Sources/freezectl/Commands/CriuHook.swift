import ArgumentParser
import CRIUCheckpoint
import Foundation

/// CRIU's action script: `criu restore --action-script /path/to/freezectl` (CRIU execs the path
/// without arguments; freezectl then runs this), or `freezectl criu-hook` from a wrapper.
struct CriuHook: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "criu-hook",
        abstract: "CRIU action-script entry point: writes the restore marker on post-restore.",
        discussion: """
        CRIU runs this with CRTOOLS_SCRIPT_ACTION, CRTOOLS_IMAGE_DIR and CRTOOLS_INIT_PID set; \
        `freezectl restore --marker PATH` passes the marker path as FREEZECTL_MARKER. On \
        post-restore it writes the marker atomically (docs/checkpoint.md); every other action \
        succeeds without effect. It fails only when the marker itself cannot be written.
        """
    )

    func run() throws {
        guard let contract = CRIUHookContract(scriptEnvironment: ProcessInfo.processInfo.environment) else { return }
        do {
            try contract.writeMarker()
        } catch {
            Output.error("criu-hook: cannot write the restore marker \(contract.marker?.string ?? ""): \(error)\n  next step: check that its directory exists and is writable")
            throw ExitCode(ExitStatus.failure)
        }
    }
}
