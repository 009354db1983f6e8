import CommandSyntax

/// Options of batch operations.
package struct BatchFlags: Sendable {
    package static let spec = OptionGroupSpec([
        .flag("direct", "Write the cgroup of Docker (or engine-owned runc) containers instead of asking the engine. Faster, and works with the daemon down, but the engine's view becomes stale."),
        .option("parallel", value: "n", "How many targets to work on at once, 1 to 1000. (default: \(defaultParallel))"),
        .flag("atomic", "If any target fails, undo what this call changed (thaw what it paused, or refreeze what it unpaused), then exit 1."),
    ])

    package var direct = false

    /// The most targets worked on at once: each holds a descriptor or a connection.
    package static let maximumParallel = 1000

    /// How many targets are worked on at once unless --parallel says.
    package static let defaultParallel = 50

    package var parallel = defaultParallel
    package var atomic = false

    package init(direct: Bool = false, parallel: Int = defaultParallel, atomic: Bool = false) {
        self.direct = direct
        self.parallel = parallel
        self.atomic = atomic
    }

    package init(_ line: ParsedLine) throws {
        self.init(direct: line.flag("direct"), parallel: try line.integer("parallel") ?? Self.defaultParallel, atomic: line.flag("atomic"))
        try validate()
    }

    private func validate() throws {
        guard (1...Self.maximumParallel).contains(parallel) else {
            throw UsageError("--parallel must be from 1 to \(Self.maximumParallel), got \(parallel)")
        }
    }
}
