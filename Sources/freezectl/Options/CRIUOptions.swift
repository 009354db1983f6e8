import ArgumentParser
import CRIUCheckpoint
import CgroupFreezer
import HealthProbes
import Foundation

/// Options both CRIU subcommands take.
struct CRIUOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The images directory.", valueName: "dir"))
    var imagesDir: String

    @Option(name: .long, help: ArgumentHelp("The CRIU executable (default: FREEZECTL_CRIU, else criu on PATH).", valueName: "path"))
    var criu: String?

    @Flag(name: .long, help: "An engine's container (Docker's, or a runc/crun container an engine owns): use its cgroup although the engine keeps its own state.")
    var direct = false

    @Flag(name: .long, help: "CRIU's --shell-job: the tree's root is not a session leader.")
    var shellJob = false

    @Flag(name: .long, help: "CRIU's --tcp-established: checkpoint established TCP connections.")
    var tcpEstablished = false

    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp(
        "Bound of the CRIU dump or restore, 1us to 24h: when it passes, CRIU and its process group are killed and the tree is thawed. (default: 10m)",
        valueName: "duration"), transform: { try parseDuration($0, option: "--criu-timeout") })
    var criuTimeout: Duration = CRIU.defaultTimeout

    /// Sets what checkpoint and restore share from these options and the command's others.
    func configure<Options: CRIUOperationOptions>(_ options: inout Options, timeout: Duration, health: HealthCheckOptions?, audit: AuditTrail) {
        options.shellJob = shellJob
        options.tcpEstablished = tcpEstablished
        options.timeout = timeout
        options.criuTimeout = criuTimeout
        options.health = health
        options.audit = audit
    }

    func locate() throws -> CRIU {
        try CRIU.locate(explicit: criu, environment: ProcessInfo.processInfo.environment)
    }
}
