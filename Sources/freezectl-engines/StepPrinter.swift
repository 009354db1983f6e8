import CRIUCheckpoint
import CgroupFreezer
import FreezectlCLI
import Foundation

/// Prints each step as it happens: a line on a terminal or in table mode, a JSON object per step with --format json.
func stepPrinter(_ common: CommonOptions) -> @Sendable (CheckpointEvent) -> Void {
    let json = common.format == .json
    let quiet = common.quiet
    return { event in
        // Written at once (not through print's buffer): each step shows as it happens.
        if json {
            Output.printJSON(event)
        } else if !quiet || event.status == .failed {
            FileHandleOutput.standardOutput("\(event.step.rawValue.padded(to: 9)) \(event.status.rawValue.padded(to: 7)) \(event.detail.escapingControlCharacters)")
        }
    }
}
