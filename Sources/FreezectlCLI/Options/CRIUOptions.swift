import ArgumentParser
import CgroupFreezer

/// Options both CRIU subcommands take.
package struct CRIUOptions: ParsableArguments {
    package init() {}

    @Option(name: .long, help: ArgumentHelp("The images directory.", valueName: "dir"))
    package var imagesDir: String

    @Option(name: .long, help: ArgumentHelp("The CRIU executable (default: FREEZECTL_CRIU, else criu on PATH).", valueName: "path"))
    package var criu: String?

    @Flag(name: .long, help: "An engine's container (Docker's, or a runc/crun container an engine owns): use its cgroup although the engine keeps its own state.")
    package var direct = false

    @Flag(name: .long, help: "CRIU's --shell-job: the tree's root is not a session leader.")
    package var shellJob = false

    @Flag(name: .long, help: "CRIU's --tcp-established: checkpoint established TCP connections.")
    package var tcpEstablished = false

    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp(
        "Bound of the CRIU dump or restore, 1us to 24h: when it passes, CRIU and its process group are killed and the tree is thawed. (default: 10m, the library's CRIU.defaultTimeout)",
        valueName: "duration"), transform: { try parseDuration($0, option: "--criu-timeout") })
    package var criuTimeout: Duration?
}
