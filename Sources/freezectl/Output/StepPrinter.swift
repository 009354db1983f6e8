import CRIUCheckpoint
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
            FileHandleOutput.standardOutput("\(event.step.rawValue.padding(toLength: 9, withPad: " ", startingAt: 0)) \(event.status.rawValue.padding(toLength: 7, withPad: " ", startingAt: 0)) \(event.detail.escapingControlCharacters)")
        }
    }
}
