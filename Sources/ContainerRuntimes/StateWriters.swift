import CgroupFreezer
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import SystemPackage

/// Who besides root could have written a runc or crun container's state, and so which cgroups
/// that state may name (docs/security.md).
///
/// A runtime's state is believed as far as its writers could be trusted with what it names:
/// state only root could write names any cgroup (root can freeze it anyway); state that user U
/// could have written (U owns the file, its container's directory or the runtime root: rootless
/// runc and crun keep theirs in the user's own directory, where root may still pause them) names
/// only cgroups U owns (delegated to U); state that anyone else could have written (a group- or
/// world-writable file or directory, or files of two users) names nothing. The runtime root
/// itself must be writable by its owner alone (`RuntimeRoot`): one anyone may write is refused
/// whole.
public enum StateWriters: Sendable, Hashable {
    /// Root alone: every file and directory from the runtime root down is root's and writable by
    /// root alone.
    case root
    /// Root and `uid`, the one other owner on the way (`path`, the first thing it owns).
    case user(uid_t, path: FilePath)
    /// Anyone could have: `reason` says what made it so.
    case anyone(reason: String)

    /// The writers of a file read through `chain`: the runtime root, the container's directory,
    /// the file, each with its owner and mode as fstat gave them.
    init(_ chain: [(path: FilePath, owner: uid_t, mode: mode_t)]) {
        var found: (uid: uid_t, path: FilePath)?
        for (path, owner, mode) in chain {
            if let mode = Self.writableByOthers(mode) {
                self = .anyone(reason: "\(path) is writable by its group or by anyone (\(mode))")
                return
            }
            guard owner != 0 else { continue }
            if let found, found.uid != owner {
                self = .anyone(reason: "\(found.path) belongs to uid \(found.uid) and \(path) to uid \(owner)")
                return
            }
            if found == nil { found = (owner, path) }
        }
        self = found.map { .user($0.uid, path: $0.path) } ?? .root
    }

    /// `mode NNNN` when the group or others may write, else nil.
    static func writableByOthers(_ mode: mode_t) -> String? {
        mode & (S_IWGRP | S_IWOTH) == 0 ? nil : "mode \(String(mode & 0o7777, radix: 8))"
    }

    /// Refuses `cgroup` for a container whose state these writers could have written, unless
    /// they could freeze it themselves: root's state names any cgroup, a user's only a cgroup
    /// that user owns. `state` is the state file, `reference` the container as named.
    public func check(_ cgroup: CgroupDirectory, reference: String, state: FilePath) throws(ContainerCatalog.Error) {
        switch self {
        case .root:
            return
        case .anyone(let reason):
            throw .untrustedState(reference, path: state, reason: "its runtime state \(state) could have been written by anyone (\(reason)), so it names no cgroup")
        case .user(let uid, let path):
            var info = stat()
            guard lstat(cgroup.path.string, &info) == 0 else {
                throw .untrustedState(reference, path: state, reason: "its runtime state \(state) could have been written by uid \(uid) (\(path) is theirs), and whether they own the cgroup it names, \(cgroup.path), cannot be read: \(Errno(rawValue: errno))")
            }
            guard info.st_uid == uid else {
                throw .untrustedState(reference, path: state, reason: "its runtime state \(state) could have been written by uid \(uid) (\(path) is theirs), so it may name only cgroups uid \(uid) owns; it names \(cgroup.path), which belongs to uid \(info.st_uid)")
            }
        }
    }
}

/// A runtime's state directory, opened to read its containers' state: one that anyone but its
/// owner may write is refused, since whoever can write it can make any state appear there.
struct RuntimeRoot {
    let directory: DirectoryHandle

    /// Opens `root` for `runtime`; refuses a group- or world-writable root, naming it and the rule.
    init(_ root: FilePath, runtime: ContainerSource) throws(ContainerCatalog.Error) {
        let directory: DirectoryHandle
        do {
            directory = try DirectoryHandle.opening(root)
        } catch {
            throw .sourceUnavailable(source: runtime.rawValue, path: root, reason: error.message)
        }
        if let mode = StateWriters.writableByOthers(directory.mode) {
            directory.release()
            throw .untrustedState(runtime.rawValue, path: root, reason: "the runtime root is writable by its group or by anyone (\(mode)), so anyone could plant a state there naming any cgroup; a runtime root must be writable by its owner alone (chmod go-w \(root), or give the directory the runtime really uses)")
        }
        self.directory = directory
    }

    /// Reads `file` of container `id`: its bytes and who could have written them.
    func read(_ file: String, of id: String, limit: Int) throws(ContainerCatalog.Error) -> (bytes: [UInt8], writers: StateWriters, path: FilePath) {
        let container: DirectoryHandle
        let read: (bytes: [UInt8], owner: uid_t, mode: mode_t)
        do {
            container = try directory.subdirectory(id)
        } catch {
            throw .stateUnreadable(path: directory.path.appending(id), errno: error.errno, reason: error.message)
        }
        defer { container.release() }
        do {
            read = try container.readFile(file, limit: limit)
        } catch {
            throw .stateUnreadable(path: container.path.appending(file), errno: error.errno, reason: error.message)
        }
        let writers = StateWriters([(directory.path, directory.owner, directory.mode), (container.path, container.owner, container.mode),
                                    (container.path.appending(file), read.owner, read.mode)])
        return (read.bytes, writers, container.path.appending(file))
    }

    func release() { directory.release() }
}
