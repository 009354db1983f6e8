import Logging
import ServiceLifecycle
import Synchronization
import SystemPackage
import UnixSignals

/// A daemon file in force (the policy, the configuration), read at start and again on SIGHUP. A
/// file that does not parse on reload leaves the previous one in force (and says why in the log):
/// an operator's typo must not open or close the daemon, nor end it (each text is parsed in a
/// child first: `PolicyParseCheck`).
public final class DaemonFileStore<Value: Sendable>: Sendable {
    /// The file; nil when none was given and the default is absent (`fallback` is in force).
    public let file: FilePath?
    private let kind: DaemonFile.Kind
    private let load: @Sendable (FilePath) async throws(DaemonFile.Error) -> Value
    private let current: Mutex<Value>
    private let logger: Logger

    /// Loads `file` with `load`; throws when it cannot be used (the daemon then does not start).
    init(_ kind: DaemonFile.Kind, file: FilePath?, fallback: Value, logger: Logger,
         load: @escaping @Sendable (FilePath) async throws(DaemonFile.Error) -> Value) async throws(DaemonFile.Error) {
        self.kind = kind
        self.file = file
        self.load = load
        self.logger = logger
        if let file {
            current = Mutex(try await load(file))
        } else {
            current = Mutex(fallback)
        }
    }

    /// What is in force.
    public var value: Value { current.withLock { $0 } }

    /// Reads the file again; keeps the previous value when it does not parse.
    public func reload() async {
        guard let file else {
            logger.info("SIGHUP: no \(kind.rawValue) file; the defaults stay")
            return
        }
        do {
            let value = try await load(file)
            current.withLock { $0 = value }
            logger.info("\(kind.rawValue) reloaded", metadata: ["file": "\(file)"])
        } catch {
            logger.error("\(kind.rawValue) not reloaded; the previous one stays in force: \(error.message)")
        }
    }
}

/// The policy in force: only root when there is no file.
public typealias PolicyStore = DaemonFileStore<Policy>

extension DaemonFileStore where Value == Policy {
    /// Loads the policy `file` (nil: root only).
    public convenience init(file: FilePath?, parser: PolicyParseCheck, logger: Logger) async throws(Policy.Error) {
        try await self.init(.policy, file: file, fallback: .rootOnly, logger: logger) { file throws(DaemonFile.Error) in try await parser.load(file) }
    }

    /// The policy in force.
    public var policy: Policy { value }
}

/// The configuration in force: containers opt in by their labels when there is no file.
public typealias ConfigurationStore = DaemonFileStore<IdleConfiguration>

extension DaemonFileStore where Value == IdleConfiguration {
    /// Loads the configuration `file` (nil: labels only).
    public convenience init(configuration file: FilePath?, parser: PolicyParseCheck, logger: Logger) async throws(DaemonFile.Error) {
        try await self.init(.configuration, file: file, fallback: .labelsOnly, logger: logger) { file throws(DaemonFile.Error) in
            try await parser.loadConfiguration(file)
        }
    }
}

/// Reloads the daemon's files on each SIGHUP until the daemon shuts down.
struct FileReloader: Service {
    let reload: @Sendable () async -> Void

    func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        for await _ in signals.cancelOnGracefulShutdown() {
            await reload()
        }
    }
}
