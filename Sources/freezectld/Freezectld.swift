import ArgumentParser
import FreezectlDaemon
import Logging
import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

@main
struct Freezectld: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "freezectld",
        abstract: "Serve freezectl's pause, unpause and status over HTTP on a unix socket (docs/daemon.md).",
        discussion: """
            Root may do everything; everyone else only what a rule of the policy file grants \
            (deny by default). SIGHUP reloads the policy; a policy that does not parse keeps the \
            previous one. SIGTERM stops accepting, finishes what runs and removes the socket.
            """,
        version: "0.1.0")

    @Option(name: .long, help: ArgumentHelp("The unix socket to listen on. (default: /run/freezectl/freezectl.sock)", valueName: "path"))
    var socket: String = Daemon.defaultSocket.string

    @Option(name: .long, help: ArgumentHelp("The group that may connect to the socket (mode 0660). (default: root's)", valueName: "group"))
    var socketGroup: String?

    @Option(name: .long, help: ArgumentHelp("The policy file (TOML). (default: /etc/freezectl/policy.toml when it exists, else root only)", valueName: "file"))
    var policy: String?

    @Option(name: .long, help: ArgumentHelp("Also write audit records as JSON lines to this file (the journal gets them whenever it runs).", valueName: "file"))
    var auditLog: String?

    @Option(name: .long, help: ArgumentHelp("Where leases are recorded, to survive a restart. (default: /run/freezectl)", valueName: "dir"))
    var stateDir: String = Daemon.defaultStateDirectory.string

    @Option(name: .customLong("runtime-root"), help: ArgumentHelp("Also find runc/crun containers in this state directory (repeatable).", valueName: "dir"))
    var runtimeRoots: [String] = []

    @Flag(name: .long, help: "Log each request and each kernel write.")
    var verbose = false

    func run() async throws {
        var logger = Logger(label: "freezectld")
        logger.logLevel = verbose ? .debug : .info
        var configuration = Daemon.Configuration()
        configuration.socket = FilePath(socket)
        configuration.policy = policy.map { FilePath($0) }
        configuration.auditLog = auditLog.map { FilePath($0) }
        configuration.runtimeRoots = runtimeRoots.map { FilePath($0) }
        configuration.stateDirectory = FilePath(stateDir)
        if let socketGroup {
            if let gid = gid_t(socketGroup) {
                configuration.socketGroup = gid
            } else if let entry = getgrnam(socketGroup) {
                configuration.socketGroup = entry.pointee.gr_gid
            } else {
                throw ValidationError("--socket-group \(socketGroup): no such group; give a group name or number from /etc/group")
            }
        }
        // A policy, audit log or socket path that cannot be used stops the start with its message.
        try await Daemon(configuration: configuration, logger: logger).run()
    }
}
