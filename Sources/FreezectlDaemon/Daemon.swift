import CgroupFreezer
import ContainerEngines
import ContainerRuntimes
import FreezerOperations
import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import SystemPackage

/// freezectld: the library's resolver over HTTP/1.1 and JSON on a unix socket (docs/daemon.md).
public struct Daemon: Sendable {
    /// Where and how the daemon runs.
    public struct Configuration: Sendable {
        /// The socket path (default `/run/freezectl/freezectl.sock`).
        public var socket: FilePath = Daemon.defaultSocket
        /// The group that may connect (mode 0660); nil keeps root's group.
        public var socketGroup: gid_t?
        /// The policy file; nil means the default when it exists, else root only.
        public var policy: FilePath?
        /// The configuration file (idle rules, label opt-in); nil means the default when it
        /// exists, else containers opt in by their labels alone.
        public var idle: FilePath?
        /// A JSON-lines audit log besides the journal.
        public var auditLog: FilePath?
        /// Where leases are recorded (`<dir>/leases/`), to survive a restart.
        public var stateDirectory: FilePath = Daemon.defaultStateDirectory
        /// More runc/crun state directories to find containers in (the CLI's `--runtime-root`).
        public var runtimeRoots: [FilePath] = []
        /// Who parses a policy's text in a child first: the daemon's own executable run with
        /// `PolicyParseCheck.argument`, which a program embedding the daemon must answer too.
        public var policyParser = PolicyParseCheck()

        public init() {}
    }

    /// The configuration.
    public var configuration: Configuration
    /// The daemon's log.
    public var logger: Logger

    /// The default socket.
    public static let defaultSocket: FilePath = "/run/freezectl/freezectl.sock"
    /// The default state directory.
    public static let defaultStateDirectory: FilePath = "/run/freezectl"

    public init(configuration: Configuration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    /// Runs until SIGTERM or SIGINT (swift-service-lifecycle: stop accepting, finish what runs,
    /// remove the socket). Throws before listening when the policy, the audit log or the socket
    /// path cannot be used.
    public func run() async throws {
        let policyFile = configuration.policy ?? (Syscall.exists(Policy.defaultFile) ? Policy.defaultFile : nil)
        let policy = try await PolicyStore(file: policyFile, parser: configuration.policyParser, logger: logger)
        let idleFile = configuration.idle ?? (Syscall.exists(IdleConfiguration.defaultFile) ? IdleConfiguration.defaultFile : nil)
        let idleConfiguration = try await ConfigurationStore(configuration: idleFile, parser: configuration.policyParser, logger: logger)
        let logger = self.logger
        let freezer = try CgroupFreezer(logger: logger)
        let metrics = DaemonMetrics()
        let hub = EventHub(layout: freezer.layout)
        var audit = try AuditTrail.standard(
            file: configuration.auditLog, required: false,
            warn: { logger.warning("audit: \($0.message)") },
            onFailure: { logger.error("audit record not written: \($0.message)") })
        // Every record is also an event and a metric: one place says what the daemon did.
        audit.sinks = audit.sinks.map { CountingSink(sink: $0, metrics: metrics) } + [EventSink(hub: hub), MetricsSink(metrics: metrics)]
        let leaseFiles = try LeaseFiles(stateDirectory: configuration.stateDirectory)
        // Socket activation: systemd owns the socket (its path, mode and group are the socket unit's).
        let activated = ActivatedServer.takeSocket()
        if activated == nil { try prepareSocketPath() }
        let catalog = ContainerCatalog(runtimeRoots: configuration.runtimeRoots, environment: ProcessInfo.processInfo.environment)
        // A runtime root others may write would let them name any cgroup: refused before listening.
        for driver in catalog.drivers { try driver.refuseUntrustedState() }
        let resolver = Resolver(freezer: freezer, catalog: catalog)
        // The leases a previous daemon left are ended or taken over before anyone can connect.
        let watcher = StateWatcher(resolver: resolver, hub: hub)
        let leases = LeaseKeeper(files: leaseFiles, resolver: resolver, audit: audit, watcher: watcher, hub: hub, logger: logger)
        // Freezes a killed daemon left half-done are put back first, then its leases go on.
        let inflight = try InflightPauses(stateDirectory: configuration.stateDirectory)
        await inflight.reconcile(resolver: resolver, audit: audit, logger: logger)
        await leases.reconcile()
        let idle = try IdleController(resolver: resolver, configuration: idleConfiguration, audit: audit, hub: hub, watcher: watcher,
                                      metrics: metrics, stateDirectory: configuration.stateDirectory, logger: logger)
        let router = Router(context: DaemonContext.self)
        API(resolver: resolver, policy: policy, audit: audit, leases: leases, inflight: inflight, hub: hub, watcher: watcher, metrics: metrics,
            idle: idle).register(on: router)
        let socket = configuration.socket
        let server = self.server(router, activated: activated)
        defer { if activated == nil { unlink(socket.string) } }
        let services = ServiceGroup(configuration: .init(
            // Shut down in reverse order: holds end first, so that their open answers finish and
            // the server can stop.
            services: [.init(service: server), .init(service: FileReloader { await policy.reload(); await idleConfiguration.reload() }),
                       .init(service: StateWatcherService(watcher: watcher)), .init(service: IdleService(controller: idle)),
                       .init(service: ShutdownService(keeper: leases, hub: hub))],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        logger.info("freezectld listening", metadata: [
            "socket": "\(activated == nil ? socket.string : "passed by systemd")", "policy": "\(policyFile?.string ?? "none: root only")",
            "rules": "\(policy.policy.rules.count)", "configuration": "\(idleFile?.string ?? "none: label opt-in only")",
            "idle-rules": "\(idleConfiguration.value.rules.count)",
        ])
        try await services.run()
    }

    /// The HTTP server: on the socket systemd passed, else on `configuration.socket`.
    private func server(_ router: Router<DaemonContext>, activated: Int32?) -> any Service {
        if let activated {
            return ActivatedServer(descriptor: activated, responder: router.buildResponder(), logger: logger)
        }
        let (socket, group) = (configuration.socket, configuration.socketGroup)
        return Application(
            router: router,
            configuration: .init(address: .unixDomainSocket(path: socket.string), serverName: "freezectld"),
            onServerRunning: { _ in
                // Only root and the socket's group may connect; the policy decides what each may do.
                if let group { chown(socket.string, 0, group) }
                chmod(socket.string, 0o660)
            },
            logger: logger)
    }

    /// Creates the socket's directory (0755) when missing, and removes a stale socket left by a
    /// daemon that died; anything else at the path is refused, never removed.
    private func prepareSocketPath() throws {
        let socket = configuration.socket
        let directory = socket.removingLastComponent()
        if !directory.isEmpty { try DaemonState.directory(directory, mode: 0o755) }
        var info = stat()
        guard lstat(socket.string, &info) == 0 else { return }
        guard (info.st_mode & S_IFMT) == S_IFSOCK else { throw DaemonState.Error.notASocket(path: socket) }
        unlink(socket.string)
    }
}
