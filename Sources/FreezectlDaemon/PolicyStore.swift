import Logging
import ServiceLifecycle
import Synchronization
import SystemPackage
import UnixSignals

/// The policy in force, read at start and again on SIGHUP. A file that does not parse on reload
/// leaves the previous policy in force (and says why in the log): an operator's typo must not
/// open or close the daemon, nor end it (each text is parsed in a child first: `PolicyParseCheck`).
public final class PolicyStore: Sendable {
    /// The policy file; nil when none was given and the default is absent (root only).
    public let file: FilePath?
    private let parser: PolicyParseCheck
    private let current: Mutex<Policy>
    private let logger: Logger

    /// Loads `file`; throws when it cannot be used (the daemon then does not start).
    public init(file: FilePath?, parser: PolicyParseCheck, logger: Logger) async throws(Policy.Error) {
        self.file = file
        self.parser = parser
        self.logger = logger
        if let file {
            current = Mutex(try await parser.load(file))
        } else {
            current = Mutex(.rootOnly)
        }
    }

    /// The policy in force.
    public var policy: Policy { current.withLock { $0 } }

    /// Reads the file again; keeps the previous policy when it does not parse.
    public func reload() async {
        guard let file else {
            logger.info("SIGHUP: no policy file; only root may use the daemon")
            return
        }
        do {
            let policy = try await parser.load(file)
            current.withLock { $0 = policy }
            logger.info("policy reloaded", metadata: ["file": "\(file)", "rules": "\(policy.rules.count)"])
        } catch {
            logger.error("policy not reloaded; the previous one stays in force: \(error.message)")
        }
    }
}

/// Reloads the policy on each SIGHUP until the daemon shuts down.
struct PolicyReloader: Service {
    let store: PolicyStore

    func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        for await _ in signals.cancelOnGracefulShutdown() {
            await store.reload()
        }
    }
}
