import Hummingbird
import NIOCore

/// A request's context: Hummingbird's, and the connection it came on (whose peer credentials
/// authorize it).
public struct DaemonContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The client's connection.
    public let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }
}
