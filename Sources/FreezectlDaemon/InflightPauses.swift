import CgroupFreezer
import FreezerOperations
import Foundation
import Logging
import SystemPackage

/// The pauses the daemon is making, recorded under the state directory before any write:
/// `<state-dir>/inflight/<id>.json` with the cgroups it will freeze itself (the kernel routes;
/// an engine or systemd finishes a request it took on its own), removed when the batch is done.
///
/// A daemon killed in the middle (SIGKILL, the OOM killer) cannot undo a freeze that was still
/// waiting: the cgroup stays requested frozen and half-frozen (v2 `cgroup.freeze` 1 and not
/// `frozen`, or v1 FREEZING), which nobody would ever thaw. At its next start the daemon reads
/// the records left behind and puts back every such cgroup (a thaw, audited); a cgroup whose
/// freeze completed stays paused, as asked. Each cgroup is recorded with its identity: one
/// removed and made again under the same path since is not the one this pause froze, and is
/// left alone (audited as `dropped`).
struct InflightPauses: Sendable {
    let directory: FilePath
    /// The directory, held open for the daemon's life: a record is created in it under its final
    /// name and removed by name, with no path walked, no temporary name and no rename (a third
    /// of a pause's cost in the record; docs/performance.md, "freezectld at the kernel's pace").
    private let handle: DirectoryHandle

    /// The largest record read: one of thousands of cgroups is well below it.
    static let sizeLimit = 4 << 20

    private struct Record: Codable {
        /// A cgroup the pause freezes itself, and which cgroup it is: a cgroup made since under
        /// the same path is not put back (it is not the one this pause froze).
        struct Entry: Codable {
            var cgroup: String
            var identity: CgroupIdentity
        }
        var targets: [Entry]
        var requester: AuditRecord.Requester
    }

    /// Creates `<state>/inflight` (0700) when missing; the state directory exists (LeaseFiles).
    init(stateDirectory: FilePath) throws(DaemonState.Error) {
        directory = stateDirectory.appending("inflight")
        try DaemonState.directory(directory, mode: 0o700, private: true)
        do {
            let state = try DirectoryHandle.opening(stateDirectory)
            defer { state.release() }
            handle = try state.subdirectory("inflight")
        } catch {
            throw .directory(path: directory, reason: "cannot be opened (\(error.message))", errno: error.errno)
        }
    }

    /// Records a pause of `items` before it starts; returns the record's ID (nil when there is
    /// no kernel route to record). A record that cannot be written fails the request: the
    /// promise to undo a half-done freeze depends on it.
    func begin(_ items: [Resolution], requester: AuditRecord.Requester) throws(DaemonState.Error) -> String? {
        // The identity each cgroup was validated with is the one its freeze checks under its lock.
        let targets = items.compactMap { item -> Record.Entry? in
            guard case .kernel(let target) = item.resolved?.route, let identity = target.cgroup.identity else { return nil }
            return Record.Entry(cgroup: target.cgroup.path.string, identity: identity)
        }
        guard !targets.isEmpty else { return nil }
        let id = Lease.newID()
        let name = id + ".json"
        // Not flushed to disk (0.8 ms a pause here, half the daemon's pairs a second): the record
        // guards against the daemon's death, which leaves it in the page cache, and a machine
        // crash leaves nothing to put back, since no cgroup survives a reboot. Not renamed into
        // place either: the pause starts only once the record is whole, so a record cut short
        // by the daemon's death is one of a pause that never began (reconcile removes it).
        let data = try DaemonState.encoded(Record(targets: targets, requester: requester), for: directory.appending(name))
        do {
            try handle.create(name, with: data, mode: 0o600)
        } catch {
            throw .record(path: directory.appending(name), reason: error.message, errno: error.errno)
        }
        return id
    }

    /// The pause is done (whatever its results): its record goes.
    func end(_ id: String?) {
        guard let id else { return }
        handle.remove(id + ".json")
    }

    /// The record at `path`; nil when it cannot be read (left in place, logged) or is not whole.
    private static func record(at path: FilePath, logger: Logger) -> Record? {
        let text: String
        do {
            text = try RegularFile.read(path, limit: sizeLimit)
        } catch {
            logger.error("in-flight record \(path) not read (left in place): \(error.withNextStep)")
            return nil
        }
        do {
            return try JSONDecoder().decode(Record.self, from: Data(text.utf8))
        } catch {
            // Written whole before its pause began: one that does not decode was cut short by the
            // daemon's death while it was written, and nothing was frozen for it.
            logger.warning("in-flight record \(path) is not whole (\(error)): its pause never began; removed")
            unlink(path.string)
            return nil
        }
    }

    /// At start, before anyone can connect: every cgroup of a record a killed daemon left that is
    /// still half-frozen is thawed (audited, with the requester of the pause); then the records go.
    func reconcile(resolver: Resolver, audit: AuditTrail, logger: Logger) async {
        guard case .success(let names) = Syscall.regularFiles(of: directory) else {
            logger.error("\(directory) cannot be listed; freezes a killed daemon left half-done are not put back")
            return
        }
        for name in names where name.hasSuffix(".json") && Lease.isID(name.dropLast(5)) {
            let path = directory.appending(name)
            guard let record = Self.record(at: path, logger: logger) else { continue }
            var items: [Resolution] = []
            for entry in record.targets {
                do {
                    let resolved = try await resolver.resolve(.directory(FilePath(entry.cgroup)), for: .unpause, sameAs: ObjectIdentity(cgroup: entry.identity))
                    // Only a freeze left half-done: a completed one is the pause that was asked for.
                    guard let target = resolved.cgroup, try resolver.freezer.status(target).state == .freezing else { continue }
                    items.append(Resolution(resolved))
                } catch CgroupLayout.Error.notFound {
                    continue  // removed since: nothing of it is left frozen
                } catch CgroupFreezer.Error.replaced(_, let why) {
                    var dropped = AuditRecord(action: .unpause, target: entry.cgroup, cgroup: entry.cgroup, backend: nil, result: .dropped,
                                              message: "a freeze in flight when the daemon died: target-replaced: \(why); not touched", duration: .zero)
                    dropped.requester = record.requester
                    audit.record(dropped)
                    logger.warning("\(entry.cgroup): a freeze in flight when the daemon died names another cgroup now (\(why)); not touched")
                } catch {
                    logger.error("\(entry.cgroup): a freeze in flight when the daemon died not checked, so not put back: \(error.withNextStep)")
                }
            }
            if !items.isEmpty {
                var options = BatchOptions(operation: .thaw)
                let requester = record.requester
                options.audit = audit.annotating { entry in
                    entry.requester = requester
                    entry.message = "a freeze the daemon was making when it died was left half-done; put back at start"
                }
                for result in await resolver.run(items, options: options) {
                    if result.outcome == .error {
                        logger.error("\(result.reference): a half-done freeze not put back: \(result.error?.message ?? "unknown error")")
                    } else {
                        logger.warning("\(result.reference): a half-done freeze of a daemon that died was put back (thawed)")
                    }
                }
            }
            unlink(path.string)
        }
    }
}
