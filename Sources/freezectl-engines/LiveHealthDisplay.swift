import Foundation
import FreezectlCLI
import FreezerOperations
import HealthProbes
#if canImport(Glibc)
import Glibc
#endif

/// On a terminal, one live line per target while the health checks run.
final class LiveHealthDisplay: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    private var targets: [String] = []
    private let enabled: Bool

    init(enabled: Bool) {
        self.enabled = enabled
    }

    /// The callbacks the library's health checks call.
    var progress: HealthProgress {
        HealthProgress(started: { [self] in start($0) }, probed: { [self] in update($0, attempt: $1, outcome: $2) })
    }

    private func start(_ targets: [String]) {
        guard enabled else { return }
        lock.withLock {
            self.targets = targets
            lines = targets.map { "\($0): waiting for the first probe" }
            FileHandleOutput.standardError(lines.joined(separator: "\n"))
        }
    }

    private func update(_ index: Int, attempt: Int, outcome: ProbeOutcome) {
        guard enabled, index < lines.count else { return }
        lock.lock()
        defer { lock.unlock() }
        lines[index] = "\(targets[index]): probe \(attempt) \(outcome.healthy ? "healthy" : "failing") \(outcome.output)".escapingControlCharacters
        // Move up to the block's first line, rewrite every line.
        var text = "\u{1B}[\(lines.count)A"
        for line in lines { text += "\r\u{1B}[2K" + String(line.prefix(120)) + "\n" }
        FileHandleOutput.write(text, to: STDERR_FILENO)
    }
}
