import ArgumentParser
import CgroupFreezer
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
        abstract: "Serve freezectl's pause, unpause, status, leases, events and metrics over HTTP on a unix socket (docs/daemon.md, docs/api.yaml).",
        discussion: """
            Root may do everything; everyone else only what a rule of the policy file grants \
            (deny by default), by the credentials the kernel gives for the connection. SIGHUP \
            reloads the policy; a policy that does not parse keeps the previous one. SIGTERM \
            stops accepting, ends every hold (thawed), finishes what runs, keeps timed leases for \
            the next start and removes the socket. Started by freezectld.socket (systemd socket \
            activation), it serves the socket systemd passes and leaves it to systemd.
            """,
        version: BuildInfo.versionLine)

    @Option(name: .long, help: ArgumentHelp("The unix socket to listen on (unless systemd passes one).", valueName: "path"))
    var socket: String = Daemon.defaultSocket.string

    @Option(name: .long, help: ArgumentHelp("The group that may connect to the socket (mode 0660). (default: root's)", valueName: "group"))
    var socketGroup: String?

    @Option(name: .long, help: ArgumentHelp("The policy file (TOML). (default: /etc/freezectl/policy.toml when it exists, else root only)", valueName: "file"))
    var policy: String?

    @Option(name: .long, help: ArgumentHelp("Also write audit records as JSON lines to this file (the journal gets them whenever it runs).", valueName: "file"))
    var auditLog: String?

    @Option(name: .long, help: ArgumentHelp("Where leases are recorded (DIR/leases), to survive a restart.", valueName: "dir"))
    var stateDir: String = Daemon.defaultStateDirectory.string

    @Option(name: .customLong("runtime-root"), help: ArgumentHelp("Also find runc/crun containers in this state directory (repeatable); one its group or anyone may write stops the start.", valueName: "dir"))
    var runtimeRoots: [String] = []

    @Flag(name: .long, help: "Log each request and each kernel write.")
    var verbose = false

    /// The daemon's child that parses a policy first (`PolicyParseCheck`): not for users.
    @Flag(name: .customLong(String(PolicyParseCheck.argument.dropFirst(2))), help: .hidden)
    var parsePolicyFromStdin = false

    func run() async throws {
        if parsePolicyFromStdin { throw ExitCode(PolicyParseCheck.parseStandardInput()) }
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
