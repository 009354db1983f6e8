import ArgumentParser
import CRIUCheckpoint
import CgroupFreezer
import Foundation
import SystemPackage

struct Restore: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Restore a checkpointed tree with CRIU, into a cgroup, and write the restore marker.",
        discussion: """
        Runs criu restore --restore-detached with freezectl itself as CRIU's action script \
        (it writes --marker on post-restore), then moves every process of the restored tree into \
        --cgroup (so a second checkpoint works), thaws it unless --paused, runs the health check, \
        and prints the new root PID. With --paused (which needs --cgroup) CRIU leaves the tree \
        stopped (--leave-stopped); it is moved into the cgroup and frozen before it is continued, \
        so it never runs. CRIU is bounded by --criu-timeout.
        """
    )

    @OptionGroup var criu: CRIUOptions

    @Option(name: .long, help: ArgumentHelp("The cgroup the restored tree must end up in (a target: \(TargetSpec.formList)).", valueName: "target"), transform: parseTarget)
    var cgroup: TargetSpec?

    @Flag(name: .long, help: "Leave the restored tree frozen.")
    var paused = false

    @Option(name: .long, help: ArgumentHelp("Write the restore marker here (docs/checkpoint.md).", valueName: "path"))
    var marker: String?

    @OptionGroup var sources: SourceOptions
    @OptionGroup var operation: OperationOptions
    @OptionGroup(title: "Health check after the thaw") var health: HealthOptions
    @OptionGroup(title: "Audit") var audit: AuditOptions
    @OptionGroup var common: CommonOptions

    func validate() throws {
        if paused && cgroup == nil {
            throw ValidationError("--paused needs --cgroup: a restored tree can be kept frozen only in a cgroup")
        }
    }

    func run() async throws {
        var options = RestoreOptions(imagesDir: FilePath(criu.imagesDir), criu: CRIU(executable: "criu"))
        options.paused = paused
        options.marker = marker.map { FilePath($0) }
        // CRIU execs this path without arguments; freezectl then acts as the criu-hook.
        options.actionScript = Self.ownExecutable
        criu.configure(&options, timeout: operation.timeout, health: try health.check(), audit: try audit.trail())
        let (cgroup, direct, sources, common, printer) = (self.cgroup, criu.direct, self.sources, self.common, stepPrinter(common))
        try await runStoppable("restore", criu.imagesDir, audit: audit, health: options.health) { [options, criu] in
            var options = options
            options.criu = try criu.locate()
            return try await sources.resolver(common).restore(into: cgroup, direct: direct, options: options, progress: printer).health
        }
    }

    /// This executable: /proc/self/exe, else argv[0] (procfs not mounted; CRIU then fails to
    /// exec it and says so in its log).
    static var ownExecutable: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]  // see above
    }
}
