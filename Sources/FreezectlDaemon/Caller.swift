import CLinuxSupport
import NIOCore
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Who asked, as the kernel recorded it when they connected: the credentials (SO_PEERCRED), the
/// supplementary groups (SO_PEERGROUPS), and the names the policy's rules are written with.
/// Everything comes from the socket, never from the request or from /proc (a PID can be reused
/// by another process once the caller exits).
public struct Caller: Sendable, CustomStringConvertible {
    /// uid, gid and pid.
    public var credentials: PeerCredentials
    /// The user's name, when the user database has one.
    public var userName: String?
    /// The primary and supplementary groups, with their names where the group database has them.
    public var groups: [(gid: UInt32, name: String?)]

    /// `alice (uid 1000 gid 1000 pid 42)`.
    public var description: String {
        userName.map { "\($0) (\(credentials))" } ?? "\(credentials)"
    }

    /// The caller at the other end of `channel`, read from the socket; nil when its credentials
    /// cannot be read (then it has no identity, and no access). `Callers` reads it once a connection.
    static func read(_ channel: any Channel) async -> Caller? {
        guard let credentials = await PeerCredentials.of(channel) else { return nil }
        var gids = [credentials.gid]
        for gid in await supplementaryGroups(channel) where !gids.contains(gid) { gids.append(gid) }
        return Caller(credentials: credentials, userName: userName(credentials.uid),
                      groups: gids.map { ($0, groupName($0)) })
    }

    /// SO_PEERGROUPS. A peer with more than 256 groups, or a kernel without the option, gives
    /// none: the caller then counts by its primary group only, which can only grant less. The
    /// unused slots read 0, so a supplementary gid 0 is not counted (grant root's group by uid).
    private static func supplementaryGroups(_ channel: any Channel) async -> [UInt32] {
        guard let provider = channel as? any SocketOptionProvider else { return [] }
        do {
            let groups: clinux_peergroups = try await provider.unsafeGetSocketOption(
                level: .socket, name: NIOBSDSocket.Option(rawValue: CInt(SO_PEERGROUPS))).get()
            return withUnsafeBytes(of: groups.gids) { Array($0.bindMemory(to: UInt32.self)) }.filter { $0 != 0 }
        } catch {
            return []
        }
    }

    private static func userName(_ uid: UInt32) -> String? {
        var entry = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 4096)
        guard getpwuid_r(uid, &entry, &buffer, buffer.count, &result) == 0, result != nil, let name = entry.pw_name else { return nil }
        return String(cString: name)
    }

    private static func groupName(_ gid: UInt32) -> String? {
        var entry = group()
        var result: UnsafeMutablePointer<group>?
        var buffer = [CChar](repeating: 0, count: 16384)
        guard getgrgid_r(gid, &entry, &buffer, buffer.count, &result) == 0, result != nil, let name = entry.gr_name else { return nil }
        return String(cString: name)
    }
}

/// The callers of the open connections, each read at its first request and kept until it closes.
/// The kernel fixes a connection's credentials and groups when the client connects, so a second
/// read could only say the same; it cost two hops to the connection's event loop (getsockopt
/// through NIO's futures) and two reads of the user and group databases on every request. The
/// names are those of that moment: a user renamed meanwhile is known by the new name from the
/// next connection on.
final class Callers: Sendable {
    private let known = Mutex<[ObjectIdentifier: Caller]>([:])

    init() {}

    /// The caller at the other end of `channel`; nil when its credentials cannot be read.
    func of(_ channel: any Channel) async -> Caller? {
        let key = ObjectIdentifier(channel)
        if let caller = known.withLock({ $0[key] }) { return caller }
        guard let caller = await Caller.read(channel) else { return nil }
        known.withLock { $0[key] = caller }
        // Forgotten when the connection closes. The closure holds the channel until then, so no
        // other connection can be given the same identifier while the entry is there.
        channel.closeFuture.whenComplete { [self] _ in
            withExtendedLifetime(channel) { _ = known.withLock { $0.removeValue(forKey: key) } }
        }
        return caller
    }
}
