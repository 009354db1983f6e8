import ArgumentParser
import FreezectlDaemon
import Logging
import SystemPackage

@main
struct Freezectld: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "freezectld",
        abstract: "Serve freezectl's pause, unpause and status over HTTP on a unix socket (docs/daemon.md).",
        version: "0.1.0")

    @Option(name: .long, help: ArgumentHelp("The unix socket to listen on. (default: /run/freezectl/freezectl.sock)", valueName: "path"))
    var socket: String = Daemon.defaultSocket.string

    @Flag(name: .long, help: "Log each request and each kernel write.")
    var verbose = false

    func run() async throws {
        var logger = Logger(label: "freezectld")
        logger.logLevel = verbose ? .debug : .info
        try await Daemon(socket: FilePath(socket), logger: logger).run()
    }
}
