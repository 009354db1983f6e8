import CgroupFreezer
import CommandSyntax
import FreezectlDaemon
import Logging
import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// freezectld's command line, read with the product's one parser (CommandSyntax).
@main
enum Freezectld {
    static let program = ProgramSpec(
        name: "freezectld",
        version: BuildInfo.versionLine,
        abstract: "Serve freezectl's pause, unpause, status, leases, events and metrics over HTTP on a unix socket (docs/daemon.md, docs/api.yaml).",
        discussion: """
            Root may do everything; everyone else only what a rule of the policy file grants \
            (deny by default), by the credentials the kernel gives for the connection. SIGHUP \
            reloads the policy and the configuration; a file that does not parse keeps the \
            previous one. Containers that stay quiet (no packet, little CPU) for the time an idle \
            rule or their io.freezectl.idle-after label gives are frozen, and woken by their \
            first packet or an unpause. SIGTERM stops accepting, ends every hold (thawed), thaws \
            what it froze for idleness, finishes what runs, keeps timed leases for the next start \
            and removes the socket. Started by freezectld.socket (systemd socket \
            activation), it serves the socket systemd passes and leaves it to systemd.
            """,
        options: [
            .option("socket", value: "path", "The unix socket to listen on (unless systemd passes one). (default: \(Daemon.defaultSocket))"),
            .option("socket-group", value: "group", "The group that may connect to the socket (mode 0660). (default: root's)"),
            .option("policy", value: "file", "The policy file (TOML). (default: /etc/freezectl/policy.toml when it exists, else root only)"),
            .option("config", value: "file", "The configuration file (TOML): idle rules, label opt-in. (default: /etc/freezectl/freezectld.toml when it exists, else containers opt in by their labels only)"),
            .option("audit-log", value: "file", "Also write audit records as JSON lines to this file (the journal gets them whenever it runs)."),
            .option("state-dir", value: "dir", "Where leases are recorded (DIR/leases), to survive a restart. (default: \(Daemon.defaultStateDirectory))"),
            .option("runtime-root", value: "dir", repeatable: true, "Also find runc/crun containers in this state directory (repeatable); one its group or anyone may write stops the start."),
            .flag("verbose", "Log each request and each kernel write."),
        ] + DaemonFile.Kind.allCases.map {
            // The daemon's child that parses a policy or configuration first (PolicyParseCheck): not for users.
            .hiddenFlag(String($0.parseArgument.dropFirst(2)))
        },
        commands: [])

    static func main() async {
        Daemon.runTasksOnEventLoops()
        let line = program.parseOrExit(CommandLine.arguments.dropFirst())
        for kind in DaemonFile.Kind.allCases where line.flag(String(kind.parseArgument.dropFirst(2))) {
            exit(PolicyParseCheck.parseStandardInput(kind))
        }
        do {
            try await run(try configuration(line), verbose: line.flag("verbose"))
        } catch let usage as UsageError {
            program.exitWithUsageError(usage)
        } catch {
            // A policy, audit log or socket path that cannot be used stops the start with its message.
            let text = Array("freezectld: \(error)\n".utf8)
            // A message to a closed standard error is lost either way; the exit code still says it.
            _ = text.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
            exit(1)
        }
    }

    /// The daemon's configuration from the options; an unknown --socket-group is a usage error.
    static func configuration(_ line: ParsedLine) throws -> Daemon.Configuration {
        var configuration = Daemon.Configuration()
        configuration.socket = FilePath(line.value("socket") ?? Daemon.defaultSocket.string)
        configuration.policy = line.value("policy").map { FilePath($0) }
        configuration.idle = line.value("config").map { FilePath($0) }
        configuration.auditLog = line.value("audit-log").map { FilePath($0) }
        configuration.runtimeRoots = line.values("runtime-root").map { FilePath($0) }
        configuration.stateDirectory = FilePath(line.value("state-dir") ?? Daemon.defaultStateDirectory.string)
        if let socketGroup = line.value("socket-group") {
            if let gid = gid_t(socketGroup) {
                configuration.socketGroup = gid
            } else if let entry = getgrnam(socketGroup) {
                configuration.socketGroup = entry.pointee.gr_gid
            } else {
                throw UsageError("--socket-group \(socketGroup): no such group; give a group name or number from /etc/group")
            }
        }
        return configuration
    }

    static func run(_ configuration: Daemon.Configuration, verbose: Bool) async throws {
        var logger = Logger(label: "freezectld")
        logger.logLevel = verbose ? .debug : .info
        try await Daemon(configuration: configuration, logger: logger).run()
    }
}
