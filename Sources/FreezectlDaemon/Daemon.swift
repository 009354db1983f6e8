import CgroupFreezer
import ContainerEngines
import FreezerOperations
import Foundation
import Hummingbird
import Logging
import NIOCore
import SystemPackage

/// freezectld: the library's resolver over HTTP/1.1 and JSON on a unix socket (docs/daemon.md).
public struct Daemon: Sendable {
    /// The socket path (default `/run/freezectl/freezectl.sock`).
    public var socket: FilePath
    /// The daemon's log.
    public var logger: Logger

    /// The default socket.
    public static let defaultSocket: FilePath = "/run/freezectl/freezectl.sock"

    /// A daemon on `socket`.
    public init(socket: FilePath = Daemon.defaultSocket, logger: Logger) {
        self.socket = socket
        self.logger = logger
    }

    /// Runs until SIGTERM or SIGINT (swift-service-lifecycle: stop accepting, finish what runs).
    public func run() async throws {
        try prepareSocketPath()
        let resolver = Resolver(freezer: try CgroupFreezer(logger: logger),
                                catalog: ContainerCatalog(environment: ProcessInfo.processInfo.environment))
        let router = Router(context: DaemonContext.self)
        API(resolver: resolver).register(on: router)
        let socket = self.socket
        let app = Application(
            router: router,
            configuration: .init(address: .unixDomainSocket(path: socket.string), serverName: "freezectld"),
            onServerRunning: { _ in
                // Only root and the socket's group may connect; the policy decides what each may do.
                chmod(socket.string, 0o660)
            },
            logger: logger)
        defer { unlink(socket.string) }
        try await app.runService()
    }

    /// Creates the socket's directory (0755) when missing, and removes a stale socket left by a
    /// daemon that died; anything else at the path is refused, never removed.
    private func prepareSocketPath() throws {
        let directory = socket.removingLastComponent()
        if !directory.isEmpty { mkdir(directory.string, 0o755) }
        var info = stat()
        guard lstat(socket.string, &info) == 0 else { return }
        guard (info.st_mode & S_IFMT) == S_IFSOCK else {
            throw CgroupLayout.Error.unsafeFile(path: socket, reason: "it exists and is not a socket; remove it or give another --socket")
        }
        unlink(socket.string)
    }
}
