import CgroupFreezer
import ContainerEngines
import ContainerRuntimes
import CRIUCheckpoint
import FreezectlCLI
import FreezectlReports
import FreezerOperations
import Foundation
import HealthProbes
import SystemPackage

/// What freezectl-engines adds to the command tree: the routes that need the engines' clients,
/// the probes, CRIU or the daemon's client (Handoff).
struct FullEngineSide: EngineSide {
    func catalog(runtimeRoots: [FilePath], environment: [String: String]) -> ContainerCatalog {
        ContainerCatalog(runtimeRoots: runtimeRoots, environment: environment)
    }

    /// The health flags as the library validates them (usage errors), before anything is done.
    private func validate(_ health: HealthOptions) throws {
        _ = try health.check()
    }

    func run(_ command: BatchCommand) async throws -> Int32 {
        if let health = command.health { try validate(health) }
        let client = try command.daemon()
        if command.lease.hold { return try await command.runHeld(through: client) }
        if let client { return try await command.run(through: client, health: command.health?.request()) }
        let health = try command.health?.check()
        let selection = try command.targets.selection()
        let resolver = try command.targets.sources.resolverOrExit(command.common, side: self, listingAhead: selection.selectsFromSources)
        let common = command.common
        let display = LiveHealthDisplay(enabled: health != nil && common.format == .table && !common.quiet && isatty(STDERR_FILENO) == 1)
        return try await command.runLocally(unhealthy: { health?.fails($0.health) == true }) { options in
            await resolver.run(selection, options: options, health: health, progress: display.progress)
        }
    }

    func run(_ command: Status) async throws {
        let targets = command.targets
        let reports: [StatusReport]
        if let client = try command.daemon() {
            do {
                reports = try await client.status(targets: targets.targets.map(\.description), all: targets.all, filters: targets.filters,
                                                   namespaces: targets.namespaces)
            } catch {
                throw Output.daemonFailure("status", error)
            }
        } else {
            let selection = command.listsFrozen ? nil : try targets.selection()
            let resolver = try targets.sources.resolverOrExit(command.common, side: self, listingAhead: selection?.selectsFromSources == true)
            if let selection {
                reports = await resolver.status(selection).map(StatusReport.init)
            } else {
                reports = resolver.frozenCgroups().map { StatusReport($0.shown(idle: IdleFreeze.read())) }
            }
        }
        try command.show(reports)
    }

    func run(_ command: Checkpoint) async throws {
        let criu = command.criu
        var options = CheckpointOptions(imagesDir: FilePath(criu.imagesDir), criu: CRIU(executable: "criu"))
        options.leaveRunning = command.leaveRunning && !command.kill
        options.repairTree = command.repairTree
        options.rootPID = command.pid
        options.direct = criu.direct
        criu.configure(&options, timeout: command.operation.timeout, health: try command.health.check(), audit: try command.audit.trail())
        let (target, sources, common, printer) = (command.target, command.sources, command.common, stepPrinter(command.common))
        try await runStoppable("checkpoint", target.description, audit: command.audit, health: options.health) { [options] in
            var options = options
            options.criu = try criu.locate()
            return try await sources.resolver(common, side: self).checkpoint(target, options: options, interrupted: { StopSignals.shared.received != nil },
                                                          progress: printer).health
        }
    }

    func run(_ command: Restore) async throws {
        let criu = command.criu
        var options = RestoreOptions(imagesDir: FilePath(criu.imagesDir), criu: CRIU(executable: "criu"))
        options.paused = command.paused
        options.marker = command.marker.map { FilePath($0) }
        // CRIU execs this path without arguments; freezectl-engines then acts as the criu-hook.
        options.actionScript = Self.ownExecutable
        criu.configure(&options, timeout: command.operation.timeout, health: try command.health.check(), audit: try command.audit.trail())
        let (cgroup, direct, sources, common, printer) = (command.cgroup, criu.direct, command.sources, command.common, stepPrinter(command.common))
        try await runStoppable("restore", criu.imagesDir, audit: command.audit, health: options.health) { [options] in
            var options = options
            options.criu = try criu.locate()
            return try await sources.resolver(common, side: self).restore(into: cgroup, direct: direct, options: options, progress: printer).health
        }
    }

    /// This executable: /proc/self/exe, else argv[0] (procfs not mounted; CRIU then fails to
    /// exec it and says so in its log).
    static var ownExecutable: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }

    func run(_ command: Verify) async throws {
        let trail = command.repair ? try command.audit.trail() : nil
        let (target, pid, repair, sources, common) = (command.target, command.pid, command.repair, command.sources, command.common)
        // --repair writes cgroup.procs: a stop signal ends it between moves, with exit 128 + N.
        try await runStoppable("verify", target.description, audit: repair ? command.audit : nil) {
            let check = try await sources.resolver(common, side: self).verifyTree(target, root: pid, repair: repair, audit: trail)
            Output.tree(check, common: common)
            if !check.remaining.isEmpty { throw ExitCode(ExitStatus.failure) }
            return nil
        }
    }

    func run(_ command: CriuHook) throws {
        guard let contract = CRIUHookContract(scriptEnvironment: ProcessInfo.processInfo.environment) else { return }
        do {
            try contract.writeMarker()
        } catch {
            Output.error("criu-hook: cannot write the restore marker \(contract.marker?.string ?? ""): \(error)\n  next step: check that its directory exists and is writable")
            throw ExitCode(ExitStatus.failure)
        }
    }
}
