import CommandSyntax
import CgroupFreezer

/// Options both CRIU subcommands take.
package struct CRIUOptions: Sendable {
    package static let spec = OptionGroupSpec([
        .option("images-dir", value: "dir", "The images directory."),
        .option("criu", value: "path", "The CRIU executable (default: FREEZECTL_CRIU, else criu on PATH)."),
        .flag("direct", "An engine's container (Docker's, or a runc/crun container an engine owns): use its cgroup although the engine keeps its own state."),
        .flag("shell-job", "CRIU's --shell-job: the tree's root is not a session leader."),
        .flag("tcp-established", "CRIU's --tcp-established: checkpoint established TCP connections."),
        .option("criu-timeout", value: "duration", "Bound of the CRIU dump or restore, 1us to 24h: when it passes, CRIU and its process group are killed and the tree is thawed. (default: 10m, the library's CRIU.defaultTimeout)"),
    ])

    package var imagesDir: String
    package var criu: String?
    package var direct = false
    package var shellJob = false
    package var tcpEstablished = false
    package var criuTimeout: Duration?

    package init(_ line: ParsedLine) throws {
        guard let imagesDir = line.value("images-dir") else { throw UsageError("Missing expected argument '--images-dir <dir>'") }
        self.imagesDir = imagesDir
        criu = line.value("criu")
        direct = line.flag("direct")
        shellJob = line.flag("shell-job")
        tcpEstablished = line.flag("tcp-established")
        criuTimeout = try line.value("criu-timeout", default: nil) { try parseDuration($0, option: "--criu-timeout") }
    }
}

/// What checkpoint and restore both take besides their own options: CRIU's options, where
/// containers are, the freeze's timeout, the health check after the thaw, the audit, the output.
/// Each command reads them through `@dynamicMemberLookup` (`checkpoint.criu`, `restore.health`).
package struct CRIUCommandOptions: Sendable {
    /// Their option groups, after CRIU's and the command's own.
    package static let groups = [SourceOptions.spec, OperationOptions.spec, HealthOptions.spec, AuditOptions.spec, CommonOptions.spec]

    package var criu: CRIUOptions
    package var sources: SourceOptions
    package var operation: OperationOptions
    package var health: HealthOptions
    package var audit: AuditOptions
    package var common: CommonOptions

    package init(_ line: ParsedLine) throws {
        criu = try CRIUOptions(line)
        sources = SourceOptions(line)
        operation = try OperationOptions(line)
        health = try HealthOptions(line)
        audit = AuditOptions(line)
        common = try CommonOptions(line)
    }
}
