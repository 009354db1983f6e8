#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import CSystemd
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import SystemPackage

/// One audit record: who changed the freezer state of what, when, how, and whether it worked.
public struct AuditRecord: Sendable, Hashable, Codable {
    /// What was done.
    public enum Action: String, Sendable, Hashable, Codable, CaseIterable {
        case pause, unpause, refreeze, checkpoint, restore
        /// Processes of a tree moved into its cgroup (`--repair-tree`, `verify --repair`, restore's placement).
        case repairTree = "repair-tree"
        /// A status read the daemon's policy refused (allowed reads change nothing and are not recorded).
        case status
    }

    /// How it ended.
    public enum Outcome: String, Sendable, Hashable, Codable {
        /// Done, and confirmed (a rolled-back change was done too: its rollback has its own record).
        case ok
        /// It was in the requested state already; nothing was written.
        case already
        /// It failed; `message` says why.
        case error
        /// The daemon's policy refused the request; nothing was done (`message` says what rule was missing).
        case refused
        /// A record kept across time (a lease, a pause in flight) named a target that is no longer
        /// the object it was made for (its cgroup removed and made again, its container started
        /// again): it was dropped and nothing was done to it (`message` says what changed).
        case dropped
    }

    /// Who asked the daemon, as the kernel recorded it on the socket (the record's own uid and
    /// pid are the daemon's).
    public struct Requester: Sendable, Hashable, Codable {
        public var uid: UInt32
        public var gid: UInt32
        public var pid: Int32
        public var user: String?

        public init(uid: UInt32, gid: UInt32, pid: Int32, user: String?) {
            self.uid = uid
            self.gid = gid
            self.pid = pid
            self.user = user
        }
    }

    /// What was done.
    public var action: Action
    /// The target as the user gave it.
    public var target: String
    /// The cgroup directory it resolved to.
    public var cgroup: String?
    /// Who changed the state.
    public var backend: Backend?
    /// How it ended.
    public var result: Outcome
    /// The error message, for `error`.
    public var message: String?
    /// How long it took.
    public var durationMS: Double
    /// The caller.
    public var uid: UInt32
    /// The caller's user name.
    public var user: String?
    /// SUDO_USER and SUDO_UID, when the caller came through sudo.
    public var sudoUser: String?
    /// See `sudoUser`.
    public var sudoUID: String?
    /// The caller's PID.
    public var pid: Int32
    /// The host.
    public var hostname: String
    /// When (RFC 3339, UTC, with fractions).
    public var time: String
    /// Who asked, when the daemon acted on a request.
    public var requester: Requester?
    /// The daemon's policy rule that allowed it (`root`, `rule 2`).
    public var rule: String?
    /// The daemon's lease the change belongs to (a pause with `for` or `hold`, or its end).
    public var lease: String?

    enum CodingKeys: String, CodingKey {
        case action, target, cgroup, backend, result, message, uid, user, pid, hostname, time, requester, rule, lease
        case durationMS = "duration_ms"
        case sudoUser = "sudo_user"
        case sudoUID = "sudo_uid"
    }

    /// A record stamped with the calling process's identity and the time now.
    public init(action: Action, target: String, cgroup: String?, backend: Backend?, result: Outcome, message: String?,
                duration: Duration, environment: [String: String]? = nil) {
        self.action = action
        self.target = target
        self.cgroup = cgroup
        self.backend = backend
        self.result = result
        self.message = message
        durationMS = duration.milliseconds
        uid = getuid()
        user = Self.userName(uid)
        // Without an environment given, the process's own, read by name (Syscall.environment).
        sudoUser = environment.map { $0["SUDO_USER"] } ?? Syscall.environment("SUDO_USER")
        sudoUID = environment.map { $0["SUDO_UID"] } ?? Syscall.environment("SUDO_UID")
        pid = getpid()
        hostname = Self.hostname
        // ISO8601FormatStyle is Foundation's own formatter: ISO8601DateFormatter would load ICU
        // (a calendar, a locale and number formats), a millisecond or more of a CLI run.
        time = Date.ISO8601FormatStyle(includingFractionalSeconds: true).format(Date())
    }

    /// The user's name, looked up once a process (a daemon writes a record at every change, and
    /// each lookup read the user database); looked up again if the process's user is another.
    static func userName(_ uid: UInt32) -> String? {
        uid == processUser.uid ? processUser.name : lookUp(uid)
    }

    private static let processUser: (uid: UInt32, name: String?) = { let uid = getuid(); return (uid, lookUp(uid)) }()

    private static func lookUp(_ uid: UInt32) -> String? {
        getpwuid(uid).flatMap { $0.pointee.pw_name.map { String(cString: $0) } }
    }

    /// The kernel's host name (uname's nodename). ProcessInfo.hostName may ask the resolver
    /// for a canonical name, which can wait on the network.
    static var hostname: String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

