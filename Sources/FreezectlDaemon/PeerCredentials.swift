import CLinuxSupport
import NIOCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Who is at the other end of a unix-socket connection, as the kernel recorded it when they
/// connected (SO_PEERCRED): the identity every authorization decision is made on. SwiftNIO has
/// no API for it, so it is read with getsockopt through the channel's socket-option provider.
public struct PeerCredentials: Sendable, Hashable, CustomStringConvertible {
    /// The peer's process.
    public var pid: Int32
    /// Its effective user.
    public var uid: UInt32
    /// Its effective group.
    public var gid: UInt32

    /// Whether the peer is root, whom the policy cannot restrict.
    public var isRoot: Bool { uid == 0 }

    public var description: String { "uid \(uid) gid \(gid) pid \(pid)" }

    /// The credentials of the peer of `channel`; nil when the channel is not a unix socket.
    static func of(_ channel: any Channel) async -> PeerCredentials? {
        guard let provider = channel as? any SocketOptionProvider else { return nil }
        do {
            let credentials: clinux_ucred = try await provider.unsafeGetSocketOption(
                level: .socket, name: NIOBSDSocket.Option(rawValue: CInt(SO_PEERCRED))).get()
            return PeerCredentials(pid: credentials.pid, uid: credentials.uid, gid: credentials.gid)
        } catch {
            return nil  // not a unix socket (or closed meanwhile): no identity, so no access
        }
    }
}
