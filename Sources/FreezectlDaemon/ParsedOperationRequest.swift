import CgroupFreezer
import ContainerEngines
import ContainerRuntimes
import FreezectlAPI
import FreezectlReports
import FreezerOperations
import HealthProbes

/// A pause or unpause request body, checked: what the API acts on, or the bad-input error that
/// is its 400. The one place a request's fields are read (the API and the request-body fuzz
/// harness both use it), so every field an orchestrator sends is checked the same way.
package struct ParsedOperationRequest: Sendable {
    package var selection: TargetSelection
    package var options: BatchOptions
    package var leaseDuration: Duration?
    package var health: HealthCheckOptions?
    package var hold: Bool

    /// The policy's actions the memory options need besides the pause or unpause.
    var memoryActions: [Policy.Action] {
        (options.reclaim ? [.reclaim] : []) + (options.prefetch ? [.prefetch] : [])
    }

    package init(_ body: DaemonAPI.OperationRequest, operation: BatchOptions.Operation) throws {
        options = BatchOptions(operation: operation, atomic: body.atomic ?? false, direct: body.direct ?? false)
        hold = body.hold == true
        var targets: [TargetSpec] = []
        for text in body.targets ?? [] { targets.append(try TargetSpec(parsing: text)) }
        selection = try TargetSelection(targets: targets, all: body.all ?? false,
                                        filter: try ContainerFilter(parsing: body.filters ?? []), namespaces: body.namespaces ?? [])
        if let timeout = body.timeout { options.timeout = try DurationArgument.parse(timeout, option: "timeout") }
        if let parallel = body.parallel {
            guard (1...1000).contains(parallel) else { throw ArgumentError("parallel must be from 1 to 1000, got \(parallel)") }
            options.parallel = parallel
        }
        if body.duration != nil || body.hold == true {
            guard operation == .freeze else { throw ArgumentError("for and hold are pause options; an unpause ends a lease by itself") }
            guard body.duration == nil || body.hold != true else { throw ArgumentError("give for or hold, not both") }
        }
        if let duration = body.duration { leaseDuration = try DurationArgument.parse(duration, option: "for") }
        if body.reclaim == true {
            guard operation == .freeze else { throw ArgumentError("reclaim is a pause option; an unpause brings memory back with prefetch") }
            options.reclaim = true
        }
        if body.prefetch == true {
            guard operation == .thaw || leaseDuration != nil || hold else {
                throw ArgumentError("prefetch on a pause is for the thaw that ends it: give it with for or hold, or on the unpause")
            }
            options.prefetch = true
        }
        if let request = body.health {
            guard operation == .thaw else { throw ArgumentError("health is an unpause option") }
            health = try request.options()
        }
    }
}
