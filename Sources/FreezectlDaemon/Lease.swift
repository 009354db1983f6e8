import CgroupFreezer
import FreezectlAPI
import FreezectlReports
import FreezerOperations
import Foundation
import SystemPackage

/// A freeze that ends on its own: at a time (`for`), or when the client that holds it goes away
/// (`hold`). Stored under the state directory before the freeze is acknowledged, so that a daemon
/// that restarts (even after SIGKILL) still ends it.
///
/// A lease owns only the freezes it made: a target that was paused already when the lease began
/// is not part of it, and stays paused when the lease ends.
struct Lease: Codable, Sendable {
    enum Kind: String, Codable, Sendable {
        /// Ends at `expires`.
        case timed = "for"
        /// Ends when the holder's connection closes (or, after a restart, when its process exits).
        case hold
    }

    /// The process that holds a `hold`: its PID and start time (a reused PID is not it).
    struct Holder: Codable, Sendable {
        var pid: Int32
        var startTime: UInt64
    }

    /// One target the lease froze.
    struct Target: Codable, Sendable, Hashable {
        /// As the request named it (or `source:shortid`), for reports.
        var reference: String
        /// How to find it again to thaw it: the cgroup directory for a kernel route, `docker:ID`
        /// (the full ID) or `unit:NAME` for an engine or systemd route.
        var spec: String
        /// The cgroup directory whose state is the truth, when there is one: a lease whose
        /// cgroup is gone is dropped; an unpause of this cgroup ends the lease for it.
        var cgroup: String?
        /// What was frozen, as opposed to where: the cgroup's inode (its cgroup ID) and a
        /// container's init (PID and start time). The target is acted on again only while it is
        /// that object; one that is not (`target-replaced`) is dropped, never touched. nil in a
        /// record of an earlier freezectld, which is dropped the same way: it cannot be checked.
        var identity: ObjectIdentity?
    }

    /// 32 hex digits from the system's random source: not guessable, not reused.
    var id: String
    var kind: Kind
    /// When it began and (for `for`) when it ends, in seconds since the epoch: wall-clock time,
    /// which means the same thing after a restart.
    var created: Double
    var expires: Double?
    var holder: Holder?
    /// Who asked, and the rule that allowed it.
    var requester: AuditRecord.Requester
    var rule: String?
    var targets: [Target]
    /// The thaw that ends it first brings the targets' memory back (`prefetch`, the deep pause);
    /// nil in a record of an earlier freezectld: no.
    var prefetch: Bool?

    static func newID() -> String {
        var random = SystemRandomNumberGenerator()
        return (0..<2).map { _ in
            let value = random.next() as UInt64
            let hex = String(value, radix: 16)
            return String(repeating: "0", count: 16 - hex.count) + hex
        }.joined()
    }

    /// Whether `text` can be a lease ID (the only names read from or written to the state directory).
    static func isID(_ text: Substring) -> Bool {
        text.utf8.count == 32 && text.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }
}

extension DaemonAPI.LeaseReport {
    init(_ lease: Lease) {
        self.init(id: lease.id, kind: lease.kind.rawValue, created: Self.time(lease.created), expires: lease.expires.map(Self.time),
                  holderPID: lease.holder?.pid, uid: lease.requester.uid, user: lease.requester.user,
                  targets: lease.targets.map(\.reference))
    }

    static func time(_ seconds: Double) -> String {
        Date(timeIntervalSince1970: seconds).formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }
}

/// Records of one kind under the state directory (`<state>/<name>/<id>.json`, root's alone):
/// leases, idle freezes. Each is written whole (`DaemonState.write`) and named by a random ID
/// (`Lease.newID`).
struct RecordFiles<Record: Codable & Sendable>: Sendable {
    let directory: FilePath

    /// The largest record read: a lease of thousands of targets is well below it.
    static var sizeLimit: Int { 4 << 20 }

    /// Creates `<state>/<name>` (0700) when missing; refuses a path that is not a directory.
    init(stateDirectory: FilePath, name: String) throws(DaemonState.Error) {
        directory = stateDirectory.appending(name)
        try DaemonState.directory(stateDirectory, mode: 0o755)
        try DaemonState.directory(directory, mode: 0o700, private: true)
    }

    func write(_ record: Record, id: String) throws(DaemonState.Error) {
        try DaemonState.write(record, as: id + ".json", in: directory)
    }

    func remove(_ id: String) {
        // Gone already is fine: the record's only job is done.
        unlink(directory.appending(id + ".json").string)
    }

    /// Every record with its ID; a file that cannot be read or parsed is reported and left for
    /// an operator.
    func readAll() -> (records: [(id: String, record: Record)], problems: [String]) {
        guard case .success(let names) = Syscall.regularFiles(of: directory) else { return ([], ["\(directory) cannot be listed"]) }
        var records: [(String, Record)] = []
        var problems: [String] = []
        for name in names where name.hasSuffix(".json") && Lease.isID(name.dropLast(5)) {
            let path = directory.appending(name)
            do {
                let text = try RegularFile.read(path, limit: Self.sizeLimit)
                records.append((String(name.dropLast(5)), try JSONDecoder().decode(Record.self, from: Data(text.utf8))))
            } catch {
                problems.append("\(path): \(error)")
            }
        }
        return (records, problems)
    }
}

/// The leases' records (`<state>/leases`).
typealias LeaseFiles = RecordFiles<Lease>

extension RecordFiles where Record == Lease {
    init(stateDirectory: FilePath) throws(DaemonState.Error) {
        try self.init(stateDirectory: stateDirectory, name: "leases")
    }

    func write(_ lease: Lease) throws(DaemonState.Error) {
        try write(lease, id: lease.id)
    }
}
