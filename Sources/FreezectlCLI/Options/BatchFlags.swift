import ArgumentParser

/// Options of batch operations.
package struct BatchFlags: ParsableArguments {
    package init() {}

    @Flag(name: .long, help: "Write the cgroup of Docker (or engine-owned runc) containers instead of asking the engine. Faster, and works with the daemon down, but the engine's view becomes stale.")
    package var direct = false

    /// The most targets worked on at once: each holds a descriptor or a connection.
    package static let maximumParallel = 1000

    /// How many targets are worked on at once unless --parallel says.
    package static let defaultParallel = 50

    @Option(name: .long, help: ArgumentHelp("How many targets to work on at once, 1 to 1000. (default: \(defaultParallel))", valueName: "n"))
    package var parallel = defaultParallel

    @Flag(name: .long, help: "If any target fails, undo what this call changed (thaw what it paused, or refreeze what it unpaused), then exit 1.")
    package var atomic = false

    package func validate() throws {
        guard (1...Self.maximumParallel).contains(parallel) else {
            throw ValidationError("--parallel must be from 1 to \(Self.maximumParallel), got \(parallel)")
        }
    }
}
