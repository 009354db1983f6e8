import CgroupFreezer
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Synchronization
import SystemPackage

/// The containers of an OCI runtime, read from its state directory. runc and crun keep no pause
/// state of their own (both read the freezer), so what the cgroup says is what they say.
public struct OCIRuntimeSource: ContainerSourceDriver {
    public var source: ContainerSource { runtime }

    /// The runtime whose state format this root holds.
    public let runtime: ContainerSource
    /// The state directory (`/run/runc`, `/run/crun`, docker's `/run/docker/runtime-runc/moby`, ...).
    public let root: FilePath

    /// The default state directories of runc and crun.
    public static let defaults = [
        OCIRuntimeSource(runtime: .runc, root: "/run/runc"),
        OCIRuntimeSource(runtime: .crun, root: "/run/crun"),
    ]

    /// The drivers of `runtime`: its default state directory, or those of the given roots that
    /// hold its state format.
    static func drivers(of runtime: ContainerSource, in settings: ContainerCatalog.Settings) -> [any ContainerSourceDriver] {
        let sources = settings.runtimeRoots.isEmpty ? defaults : settings.runtimeRoots.map(detecting(root:))
        return sources.filter { $0.runtime == runtime }
    }

    /// A source for `root`; `runtime` is runc or crun.
    public init(runtime: ContainerSource, root: FilePath) {
        self.runtime = runtime
        self.root = root
    }

    /// A source for a directory given by the user: runc or crun, by the state files it holds.
    /// One runtime owns a state directory, so its first container tells.
    public static func detecting(root: FilePath) -> OCIRuntimeSource {
        if case .success(let names) = Syscall.subdirectories(of: root),
           let first = names.first,
           Syscall.exists(root.appending(first).appending("status")) {
            return OCIRuntimeSource(runtime: .crun, root: root)
        }
        return OCIRuntimeSource(runtime: .runc, root: root)
    }

    /// Whether the state directory exists.
    public var isPresent: Bool { Syscall.isDirectory(root) == .success(true) }

    /// Refuses a state directory that anyone but its owner may write (`untrustedState`, naming
    /// it and the rule): for a program that takes runtime roots at its start (freezectld), before
    /// it serves anything. A root that is not there (yet) is not refused: it has no state.
    public func refuseUntrustedState() throws(ContainerCatalog.Error) {
        guard isPresent else { return }
        try RuntimeRoot(root, runtime: runtime).release()
    }

    /// Every container in the state directory whose init process is alive, in directory order.
    /// A runtime root that anyone but its owner may write is refused (`untrustedState`).
    public func containers() throws(ContainerCatalog.Error) -> [Container] {
        let opened = try RuntimeRoot(root, runtime: runtime)
        defer { opened.release() }
        guard case .success(let ids) = Syscall.subdirectories(of: root) else { return [] }
        // Each state file is a full JSON document (runc's holds the whole config): decoding them is
        // most of a large selection's cost, so it is spread over the CPUs.
        return ids.concurrentMap { id -> Container? in
            do {
                return try container(id: id, in: opened)
            } catch {
                return nil  // removed since the listing (a container that exited) or unreadable: not a live container
            }
        }.compactMap { $0 }
    }

    /// Where its containers are read.
    public var location: FilePath { root }

    /// Nothing there: no state directory.
    public var isAbsent: Bool { !isPresent }

    /// Why the state directory cannot be read: it is not there.
    public func unavailability() -> ContainerCatalog.Error? {
        isPresent ? nil : .sourceUnavailable(source: runtime.rawValue, path: root, reason: "no such state directory")
    }

    /// The container whose full ID is `reference`, read from its own state directory alone.
    public func container(exactly reference: String) async throws -> Container? {
        guard !reference.isEmpty, !reference.contains("/"), reference != ".", reference != ".." else { return nil }
        return try container(id: reference)
    }

    /// One container by its full ID (nil when its init is gone). A runtime root that anyone but
    /// its owner may write is refused (`untrustedState`).
    package func container(id: String) throws -> Container? {
        let opened = try RuntimeRoot(root, runtime: runtime)
        defer { opened.release() }
        return try container(id: id, in: opened)
    }

    private func container(id: String, in opened: RuntimeRoot) throws -> Container? {
        switch runtime {
        case .crun: return try crunContainer(id: id, in: opened)
        default: return try runcContainer(id: id, in: opened)
        }
    }

    /// The largest state, status or spec file read: runc's state.json holds the whole OCI config
    /// (a seccomp profile makes it tens of KiB); one past this is refused as no container's.
    static let stateFileLimit = 4 << 20

    // runc writes state.json: `init_process_pid`, `init_process_start` (to tell a reused PID),
    // `cgroup_paths` (controller -> directory, "" for v2) and `config.labels` ("key=value",
    // including "bundle=/path").
    private struct RuncState: Decodable {
        struct Config: Decodable { var labels: [String]? }
        var id: String
        var init_process_pid: Int32
        var init_process_start: UInt64?
        var cgroup_paths: [String: String]?
        var config: Config?
    }

    /// What a runc state file says, read without looking at /proc: the init, its labels (the
    /// `bundle=` one apart) and the cgroup runc itself writes (the freezer directory, else the v2
    /// one, else the init's). The file is runc's, but its labels come from whoever created the
    /// container: the fuzz harness runs this on arbitrary bytes.
    package static func runcState(_ data: Data) throws -> RuncStateSummary {
        let state = try JSONDecoder().decode(RuncState.self, from: data)
        var labels: [String: String] = [:]
        for label in state.config?.labels ?? [] {
            let parts = label.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            labels[String(parts[0])] = parts.count > 1 ? String(parts[1]) : ""
        }
        let bundle = labels.removeValue(forKey: "bundle")
        let paths = state.cgroup_paths ?? [:]
        let cgroup = (paths["freezer"] ?? paths[""]).map { TargetSpec.directory(FilePath($0)) } ?? .pid(state.init_process_pid)
        return (state.id, state.init_process_pid, state.init_process_start, labels, bundle, cgroup)
    }

    /// The last decode of each runc state file, with the bytes it was decoded from: freezectld
    /// lists the sources every few seconds, and decoding 100 unchanged files was most of its CPU
    /// while it watched 100 idle-frozen containers. A file whose bytes differ in any way (runc
    /// rewrites it on a pause, a resume, an update) is decoded again.
    /// The engine that owns the container is kept with it: it follows from the same bytes and the
    /// runtime root (in the path), and its substring searches were a tenth of a request's
    /// resolution in freezectld.
    private static let decoded = Mutex<[FilePath: (bytes: [UInt8], state: RuncStateSummary, owner: String?)]>([:])
    /// The most files remembered (more are decoded every time: a cache that cannot grow unbounded).
    private static let decodedLimit = 4096

    package typealias RuncStateSummary = (id: String, pid: Int32, startTime: UInt64?, labels: [String: String], bundle: String?, cgroup: TargetSpec)

    /// `runcState` of `bytes`, read from `path` in the runtime root `root`, and the engine that
    /// owns the container: decoded again only when the bytes changed.
    static func runcState(_ bytes: [UInt8], at path: FilePath, root: FilePath) throws -> (state: RuncStateSummary, owner: String?) {
        if let known = decoded.withLock({ $0[path] }), known.bytes == bytes { return (known.state, known.owner) }
        let state = try runcState(Data(bytes))
        let owner = EngineOwnership.owner(annotations: state.labels, bundle: state.bundle, runtimeRoot: root)
        decoded.withLock { cache in
            if cache.count >= decodedLimit && cache[path] == nil { cache.removeAll() }
            cache[path] = (bytes, state, owner)
        }
        return (state, owner)
    }

    private func runcContainer(id: String, in opened: RuntimeRoot) throws -> Container? {
        let file = try opened.read("state.json", of: id, limit: Self.stateFileLimit)
        let (state, owner) = try Self.runcState(file.bytes, at: file.path, root: root)
        guard ProcessStart.isAlive(state.pid, startTime: state.startTime) else { return nil }
        var container = Container(source: runtime, id: state.id, name: state.id, labels: state.labels, pid: state.pid,
                                  engineState: nil, owner: owner, cgroup: state.cgroup)
        container.runtimeRoot = root
        container.initStart = state.startTime
        container.state = ContainerStateFile(path: file.path, writers: file.writers)
        return container
    }

    // crun writes `status`: `pid`, `process-start-time`, `cgroup-path` (relative to the cgroup
    // root, the same in every hierarchy), `bundle`; and keeps a copy of the spec as config.json,
    // whose `annotations` are the labels.
    private struct CrunStatus: Decodable {
        var pid: Int32
        var processStartTime: UInt64?
        var cgroupPath: String?
        var bundle: String?
        enum CodingKeys: String, CodingKey {
            case pid, bundle
            case processStartTime = "process-start-time"
            case cgroupPath = "cgroup-path"
        }
    }

    private struct Spec: Decodable {
        var annotations: [String: String]?
    }

    /// The annotations of crun's copy of the spec. crun keeps it only for some containers: a
    /// missing or unreadable copy means no labels, not a broken container.
    private static func annotations(of id: String, in opened: RuntimeRoot) -> [String: String] {
        do {
            // It only describes the container: its writers are not asked.
            let data = Data(try opened.read("config.json", of: id, limit: stateFileLimit).bytes)
            return try JSONDecoder().decode(Spec.self, from: data).annotations ?? [:]
        } catch {
            return [:]
        }
    }

    /// What a crun status file says, read without looking at /proc: the init, its start time, the
    /// bundle and the cgroup (crun's path, the same in every hierarchy, else the init's).
    package static func crunStatus(_ data: Data) throws -> (pid: Int32, startTime: UInt64?, bundle: String?, cgroup: TargetSpec) {
        let status = try JSONDecoder().decode(CrunStatus.self, from: data)
        let cgroup = status.cgroupPath.flatMap { $0.isEmpty ? nil : TargetSpec.cgroup($0) } ?? .pid(status.pid)
        return (status.pid, status.processStartTime, status.bundle, cgroup)
    }

    private func crunContainer(id: String, in opened: RuntimeRoot) throws -> Container? {
        let file = try opened.read("status", of: id, limit: Self.stateFileLimit)
        let status = try Self.crunStatus(Data(file.bytes))
        guard ProcessStart.isAlive(status.pid, startTime: status.startTime) else { return nil }
        let annotations = Self.annotations(of: id, in: opened)
        let cgroup = status.cgroup
        var container = Container(source: runtime, id: id, name: id, labels: annotations, pid: status.pid, engineState: nil,
                                  owner: EngineOwnership.owner(annotations: annotations, bundle: status.bundle, runtimeRoot: root),
                                  cgroup: cgroup)
        container.runtimeRoot = root
        container.initStart = status.startTime
        container.state = ContainerStateFile(path: file.path, writers: file.writers)
        return container
    }
}

extension ContainerSource {
    public static let runc = ContainerSource(rawValue: "runc")
    public static let crun = ContainerSource(rawValue: "crun")
}

extension ContainerSourceKind {
    /// runc's state directory (`/run/runc/<id>/state.json`); runc reads the freezer.
    public static let runc = ContainerSourceKind(
        syntax: ContainerSourceSyntax(source: .runc, form: TargetForm(syntax: "runc:ID", meaning: "a runc container, from its state directory")),
        keepsPauseState: false, needsEngineClient: false, drivers: { OCIRuntimeSource.drivers(of: .runc, in: $0) }, isPresent: { _ in false },
        advice: OCIRuntimeSource.advice("runc"))
    /// crun's state directory (`/run/crun/<id>/status`); crun reads the freezer.
    public static let crun = ContainerSourceKind(
        syntax: ContainerSourceSyntax(source: .crun, form: TargetForm(syntax: "crun:ID", meaning: "a crun container, from its state directory")),
        keepsPauseState: false, needsEngineClient: false, drivers: { OCIRuntimeSource.drivers(of: .crun, in: $0) }, isPresent: { _ in false },
        advice: OCIRuntimeSource.advice("crun"))
}

extension OCIRuntimeSource {
    /// The next steps of `runtime`'s errors.
    static func advice(_ runtime: String) -> SourceAdvice {
        SourceAdvice(list: "`\(runtime) list`", start: "check that the runtime has containers here, or give its state directory with --runtime-root",
                     checkSource: "check the runtime's state directory", checkContainer: "check the container with `\(runtime) state ID`",
                     target: "\(runtime):ID")
    }

    /// The container with its init's PID, read from its runtime state where the listing took its
    /// cgroup from the engine's naming (a checkpoint needs the init itself); unchanged otherwise.
    public static func withInit(_ container: Container) -> Container {
        guard container.pid == nil, let root = container.runtimeRoot,
              case .success(let found??) = Result(catching: { try OCIRuntimeSource.detecting(root: root).container(id: container.id) })
        else { return container }
        var completed = container
        completed.pid = found.pid
        completed.initStart = found.initStart
        completed.state = found.state
        return completed
    }
}
