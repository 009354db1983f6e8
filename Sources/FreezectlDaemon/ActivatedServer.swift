import CgroupFreezer
import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization

/// freezectld started by its socket unit (contrib/systemd/freezectld.socket): systemd bound and
/// listens on the socket, and hands it over as descriptor 3 (sd_listen_fds(3): LISTEN_PID is
/// this process, LISTEN_FDS is 1). Hummingbird's server binds its own socket, so this serves the
/// handed-over one with Hummingbird's HTTP/1 channel and the same router: the same answers.
struct ActivatedServer: Service {
    /// The first descriptor systemd passes.
    static let firstDescriptor: Int32 = 3

    /// The listening socket systemd passed to this process, if any; the variables are removed so
    /// that no child takes them for its own.
    static func takeSocket() -> Int32? {
        let environment = ProcessInfo.processInfo.environment
        defer {
            unsetenv("LISTEN_PID")
            unsetenv("LISTEN_FDS")
            unsetenv("LISTEN_FDNAMES")
        }
        guard environment["LISTEN_PID"].flatMap(Int32.init) == getpid(),
              let count = environment["LISTEN_FDS"].flatMap(Int.init), count >= 1 else { return nil }
        var info = stat()
        guard fstat(firstDescriptor, &info) == 0, info.st_mode & S_IFMT == S_IFSOCK else { return nil }
        _ = fcntl(firstDescriptor, F_SETFD, FD_CLOEXEC)
        return firstDescriptor
    }

    let descriptor: Int32
    /// The daemon's router, built.
    let responder: RouterResponder<DaemonContext>
    let logger: Logger

    func run() async throws {
        let responder = self.responder
        let logger = self.logger
        let http1 = HTTP1Channel(responder: { request, writer, channel in
            let context = DaemonContext(source: ApplicationRequestContextSource(channel: channel, logger: logger))
            var response: Response
            do {
                response = try await responder.respond(to: request, context: context)
            } catch {
                response = Response(status: .internalServerError)
            }
            response.headers[.server] = "freezectld"
            try await writer.write(response: response.head, body: response.body)
        })
        let connections = Connections()
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { channel in
                http1.setup(channel: channel, logger: logger).map { value in
                    connections.start(on: channel) { await http1.handle(value: value, logger: logger) }
                }
            }
            .withBoundSocket(descriptor)
            .get()
        logger.info("serving the socket systemd passed (socket activation)")
        // Until shutdown: then stop accepting, and let the connections end (holds and event
        // streams are ended by ShutdownService; a request in flight finishes).
        await untilShutdown()
        do {
            try await server.close()
        } catch {
            logger.debug("closing the listening socket: \(error) (closed already)")
        }
        await connections.waitForAll()
    }
}

/// The connections being served, so that shutdown can wait for them, and close the idle ones.
private final class Connections: Sendable {
    private struct State {
        var next = 0
        var tasks: [Int: Task<Void, Never>] = [:]
        var channels: [Int: any Channel] = [:]
    }

    private let state = Mutex(State())

    func start(on channel: any Channel, _ body: @escaping @Sendable () async -> Void) {
        state.withLock { state in
            let id = state.next
            state.next += 1
            state.channels[id] = channel
            state.tasks[id] = Task {
                await body()
                self.state.withLock { state in
                    state.tasks.removeValue(forKey: id)
                    state.channels.removeValue(forKey: id)
                }
            }
        }
    }

    /// Waits for every connection to end; after `grace`, closes those still open (a kept-alive
    /// connection between requests would otherwise stay open for as long as its client likes).
    func waitForAll(grace: Duration = .seconds(10)) async {
        let deadline = ContinuousClock.now + grace
        while state.withLock({ !$0.tasks.isEmpty }) && ContinuousClock.now < deadline {
            guard await sleepUnlessCancelled(for: .milliseconds(20)) else { break }
        }
        for channel in state.withLock({ Array($0.channels.values) }) { channel.close(promise: nil) }
        for task in state.withLock({ Array($0.tasks.values) }) { await task.value }
    }
}
