import CgroupFreezer
import FreezerOperations
import HealthProbes
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import SystemPackage

/// One step of a checkpoint or restore, as it happens.
public struct CheckpointEvent: Sendable, Hashable, Codable {
    /// Which step.
    public enum Step: String, Sendable, Hashable, Codable {
        case preflight, verify, freeze, dump, thaw, restore, place, health, done
    }

    /// Where the step is.
    public enum Status: String, Sendable, Hashable, Codable {
        case started, ok, failed
    }

    /// Which step.
    public var step: Step
    /// Where it is.
    public var status: Status
    /// What happened, for people.
    public var detail: String
    /// The processes this step moved into the cgroup (a repaired tree, a placed restore): the
    /// typed result that audit records and programs read, never the detail text.
    public var moved: [Int32]?

    /// An event.
    public init(step: Step, status: Status, detail: String, moved: [Int32]? = nil) {
        self.step = step
        self.status = status
        self.detail = detail
        self.moved = moved
    }
}

/// How a checkpoint or restore ended when it succeeded.
public struct CheckpointReport: Sendable {
    /// The root PID of the tree that was dumped, or of the restored tree.
    public var root: Int32
    /// The health check after the thaw, when one was asked for and the tree was thawed.
    public var health: HealthReport?
}

/// What a checkpoint and a restore are both told: the CRIU, its pass-through options, the
/// bounds, the health check after the thaw and the audit trail.
public protocol CRIUOperationOptions: Sendable {
    /// The images directory.
    var imagesDir: FilePath { get set }
    /// The CRIU to use.
    var criu: CRIU { get set }
    /// CRIU's `--shell-job`.
    var shellJob: Bool { get set }
    /// CRIU's `--tcp-established`.
    var tcpEstablished: Bool { get set }
    /// The deadline of freezes and thaws.
    var timeout: Duration { get set }
    /// How long CRIU may run before it is killed (`--criu-timeout`).
    var criuTimeout: Duration { get set }
    /// The health check after the thaw.
    var health: HealthCheckOptions? { get set }
    /// Where the operation's records go.
    var audit: AuditTrail? { get set }
}

/// How to checkpoint.
public struct CheckpointOptions: CRIUOperationOptions {
    /// Where CRIU writes the images (created if missing).
    public var imagesDir: FilePath
    /// The CRIU to use.
    public var criu: CRIU
    /// Let the tree run on after the dump (default); false: CRIU ends the tree (`--kill`).
    public var leaveRunning = true
    /// The tree's root; default: the one process of the cgroup whose parent is outside it.
    public var rootPID: Int32?
    /// Move descendants that are outside the cgroup into it before the dump.
    public var repairTree = false
    /// CRIU's `--shell-job` (a root that is not a session leader).
    public var shellJob = false
    /// CRIU's `--tcp-established`.
    public var tcpEstablished = false
    /// The deadline of the freeze and the thaw.
    public var timeout: Duration = CgroupFreezer.defaultTimeout
    /// How long CRIU may run before it is killed and the tree thawed (`--criu-timeout`).
    public var criuTimeout: Duration = CRIU.defaultTimeout
    /// Write an engine's container's cgroup although the engine keeps its own state.
    public var direct = false
    /// The health check after the thaw (only when the tree runs on and was not paused before).
    public var health: HealthCheckOptions?
    /// Where the checkpoint's record (and a `repair-tree` record) goes.
    public var audit: AuditTrail?

    /// Options with the defaults.
    public init(imagesDir: FilePath, criu: CRIU) {
        self.imagesDir = imagesDir
        self.criu = criu
    }
}

/// How to restore.
public struct RestoreOptions: CRIUOperationOptions {
    /// The images to restore from.
    public var imagesDir: FilePath
    /// The CRIU to use.
    public var criu: CRIU
    /// The cgroup the tree must end up in.
    public var cgroup: FreezerTarget?
    /// Leave it frozen.
    public var paused = false
    /// Where the action script writes the restore marker (`CRIUHookContract`).
    public var marker: FilePath?
    /// The action script CRIU runs (freezectl itself: CRIU execs it without arguments).
    public var actionScript: String?
    /// The health check after the thaw (not with `paused`).
    public var health: HealthCheckOptions?
    /// Where the restore's record (and a `repair-tree` record) goes.
    public var audit: AuditTrail?
    /// CRIU's `--shell-job`.
    public var shellJob = false
    /// CRIU's `--tcp-established`.
    public var tcpEstablished = false
    /// The deadline of freezes and thaws.
    public var timeout: Duration = CgroupFreezer.defaultTimeout
    /// How long CRIU may run before it is killed (`--criu-timeout`).
    public var criuTimeout: Duration = CRIU.defaultTimeout

    /// Options with the defaults.
    public init(imagesDir: FilePath, criu: CRIU) {
        self.imagesDir = imagesDir
        self.criu = criu
    }
}

extension CgroupFreezer {
    /// Checkpoints the process tree of `target` with CRIU: preflight (`criu check`), verify the tree
    /// is inside the cgroup (repair on request), freeze, `criu dump --freeze-cgroup`, thaw.
    ///
    /// On any failure after the freeze, the cgroup is thawed before the error is thrown; the error
    /// quotes the `Error (...)` lines of CRIU's log. CRIU runs in its own process group and is never
    /// killed: when `interrupted()` turns true during the dump, the dump is let finish, the cgroup
    /// is thawed, and `CgroupFreezer.Error.interrupted` is thrown.
    /// - Returns: the root PID that was dumped.
    public func checkpoint(
        _ target: FreezerTarget, options: CheckpointOptions,
        interrupted: @escaping @Sendable () -> Bool = { false },
        progress: @Sendable (CheckpointEvent) -> Void = { _ in }
    ) async throws -> Int32 {
        progress(CheckpointEvent(step: .preflight, status: .started, detail: "\(options.criu.executable) check"))
        do {
            try await options.criu.check()
            // --freeze-cgroup learned cgroup v2's cgroup.freeze in CRIU 3.14.
            if target.backend == .v2, let version = await options.criu.version(), CRIU.compare(version, "3.14") < 0 {
                throw CRIU.Error.checkFailed(path: options.criu.executable, output: "version \(version)",
                                                   explanation: "cgroup v2 --freeze-cgroup needs CRIU 3.14 or later")
            }
        } catch {
            progress(CheckpointEvent(step: .preflight, status: .failed, detail: "\(error)"))
            throw error
        }
        progress(CheckpointEvent(step: .preflight, status: .ok, detail: "criu check passed"))

        let root = try options.rootPID ?? treeRoot(of: target)
        let (tree, strays, remaining) = try verifyTree(root: root, in: target, repair: options.repairTree)
        func describe(_ members: [ProcessTree.Member]) -> [String] { members.map { "\($0.pid) \($0.command) in \($0.cgroup?.string ?? "?")" } }
        let described = describe(strays)
        if !remaining.isEmpty {
            progress(CheckpointEvent(step: .verify, status: .failed, detail: describe(remaining).joined(separator: "; ")))
            throw CRIU.Error.strayProcesses(cgroup: target.cgroup.path, strays: describe(remaining))
        }
        progress(CheckpointEvent(step: .verify, status: .ok, detail: strays.isEmpty
            ? "\(tree.members.count) processes under \(root), all in \(target.cgroup.path)"
            : "moved into \(target.cgroup.path): \(described.joined(separator: "; "))", moved: strays.isEmpty ? nil : strays.map(\.pid)))

        // What the checkpoint found is what it leaves: a target paused before stays paused (the
        // thaw below undoes only this call's own freeze).
        let froze = try await freeze(target, timeout: options.timeout).result == .ok
        progress(CheckpointEvent(step: .freeze, status: .ok, detail: froze
            ? "\(target.cgroup.path) frozen" : "\(target.cgroup.path) was frozen already; it stays frozen after the dump"))
        var failure: (any Swift.Error)?
        do {
            let images = try ImagesDirectory(preparing: options.imagesDir, staleLog: "dump.log")
            let log = images.path.appending("dump.log")
            var arguments = ["dump", "--tree", String(root), "--images-dir", images.path.string,
                             "--freeze-cgroup", target.cgroup.path.string, "--log-file", log.string, "-v4"]
            if options.leaveRunning { arguments.append("--leave-running") }
            arguments += CRIU.passThrough(shellJob: options.shellJob, tcpEstablished: options.tcpEstablished)
            progress(CheckpointEvent(step: .dump, status: .started, detail: "criu " + arguments.joined(separator: " ")))
            let run = try await options.criu.run(arguments, timeout: options.criuTimeout, interrupted: interrupted)
            try CRIU.check(run, operation: .dump, log: log, timeout: options.criuTimeout, progress: progress)
            progress(CheckpointEvent(step: .dump, status: .ok, detail: "images in \(images.path)"))
        } catch {
            failure = error
        }
        // After a --leave-running dump CRIU leaves the cgroup frozen as it found it; with --kill the
        // tree is gone and the empty cgroup is thawed all the same. This runs whatever happened,
        // a cancelled call included.
        if froze {
            do {
                _ = try await uncancelled { try await self.thaw(target, timeout: options.timeout) }
                progress(CheckpointEvent(step: .thaw, status: .ok, detail: "\(target.cgroup.path) thawed" + (failure == nil ? "" : " after the failure")))
            } catch {
                // For the message only: the error says what the thaw itself reported.
                let state = (try? status(target).state.rawValue) ?? "in an unknown state"
                progress(CheckpointEvent(step: .thaw, status: .failed, detail: "\(target.cgroup.path) is \(state): \(error)"))
                let cause = failure.map { "\($0.freezectlMessage); then the thaw failed: " } ?? "the thaw failed: "
                throw CgroupFreezer.Error.leftFrozen(path: target.cgroup.path, state: state, cause: cause + error.freezectlMessage)
            }
        }
        if let failure { throw failure }
        if interrupted() || Task.isCancelled {
            throw CgroupFreezer.Error.interrupted("the dump finished and \(target.cgroup.path) was " + (froze ? "thawed" : "left frozen as it was found"))
        }
        return root
    }

    /// Restores a tree with CRIU (detached, freezectl's criu-hook as action script), moves every
    /// process of the restored tree into `options.cgroup` (what makes a second checkpoint of a
    /// restored tree work), thaws it unless `paused`.
    /// - Returns: the restored tree's root PID.
    public func restore(
        options: RestoreOptions, progress: @Sendable (CheckpointEvent) -> Void = { _ in }
    ) async throws -> Int32 {
        progress(CheckpointEvent(step: .preflight, status: .started, detail: "\(options.criu.executable) check"))
        try await options.criu.check()
        progress(CheckpointEvent(step: .preflight, status: .ok, detail: "criu check passed"))
        // --paused needs a cgroup to freeze in: otherwise the tree would run unfrozen.
        if options.paused && options.cgroup == nil {
            throw CRIU.Error.invalidOption("--paused", reason: "a restore can stay paused only in a cgroup: give --cgroup")
        }
        let images = try ImagesDirectory(preparing: options.imagesDir, staleLog: "restore.log", "restore.pid")
        let log = images.path.appending("restore.log")
        let pidfile = images.path.appending("restore.pid")
        var arguments = ["restore", "--restore-detached", "--pidfile", pidfile.string, "--images-dir", images.path.string,
                         "--log-file", log.string, "-v4"]
        // --paused: CRIU leaves the tree stopped (SIGSTOP), so it never runs before it is frozen below.
        if options.paused { arguments.append("--leave-stopped") }
        if let script = options.actionScript { arguments += ["--action-script", script] }
        arguments += CRIU.passThrough(shellJob: options.shellJob, tcpEstablished: options.tcpEstablished)
        let environment = CRIUHookContract(marker: options.marker, imagesDir: images.path.string,
                                           criuVersion: await options.criu.version()).variables
        progress(CheckpointEvent(step: .restore, status: .started, detail: "criu " + arguments.joined(separator: " ")))
        let run = try await options.criu.run(arguments, environment: environment, timeout: options.criuTimeout)
        try CRIU.check(run, operation: .restore, log: log, timeout: options.criuTimeout, progress: progress)
        let root: Int32
        do {
            let text = try images.read("restore.pid", limit: 64)
            guard let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 0 else {
                throw CRIU.Error.failed(operation: "restore", log: log, errors: ["no PID in \(pidfile): \"\(text.prefix(20))\""])
            }
            root = pid
        } catch let error as CRIU.Error {
            throw error
        } catch {
            throw CRIU.Error.failed(operation: "restore", log: log, errors: ["no PID in \(pidfile): \(error.freezectlMessage)"])
        }
        progress(CheckpointEvent(step: .restore, status: .ok, detail: "restored tree under \(root)"))
        if let cgroup = options.cgroup {
            let (tree, strays, remaining) = try verifyTree(root: root, in: cgroup, repair: true)
            let left = remaining.isEmpty ? "" : "; still outside (they kept escaping): \(remaining.map(\.pid))"
            progress(CheckpointEvent(step: .place, status: remaining.isEmpty ? .ok : .failed, detail: (strays.isEmpty
                ? "\(tree.members.count) processes already in \(cgroup.cgroup.path)"
                : "moved \(strays.map(\.pid)) into \(cgroup.cgroup.path)") + left, moved: strays.isEmpty ? nil : strays.map(\.pid)))
            if options.paused {
                _ = try await freeze(cgroup, timeout: options.timeout)
                // Frozen first, then continued: the SIGCONT takes effect only at the next thaw.
                for member in tree.members { _ = kill(member.pid, SIGCONT) }
                progress(CheckpointEvent(step: .freeze, status: .ok, detail: "left frozen (--paused)"))
            } else {
                _ = try await thaw(cgroup, timeout: options.timeout)
                progress(CheckpointEvent(step: .thaw, status: .ok, detail: "\(cgroup.cgroup.path) thawed"))
            }
        }
        return root
    }
}
