// An orchestrator's use of the library (docs/embedding.md walks through it):
//
//   embedding-example CGROUP [AUDIT_LOG]
//
// pauses the cgroup with a deadline, reads its status, shows that a cancelled pause leaves it as
// it was, unpauses it through the resolver (the route every freezectl command takes) with an
// audit record per change, and selects containers by label. CGROUP is any target form
// (`/sys/fs/cgroup/...`, `cgroup:/PATH`, `pid:N`). Exit 0 when every step held.
#if canImport(Glibc)
import Glibc
#endif
import CgroupFreezer
import ContainerEngines
import ContainerRuntimes
import FreezerOperations
import Logging
import SystemPackage

@main
struct EmbeddingExample {
    static func main() async {
        let arguments = CommandLine.arguments.dropFirst()
        guard let targetText = arguments.first else {
            print("usage: embedding-example CGROUP [AUDIT_LOG]")
            exit(2)
        }
        do {
            try await run(targetText, auditLog: arguments.dropFirst().first.map { FilePath($0) })
        } catch {
            print("failed: \(error)")
            exit(1)
        }
    }

    static func run(_ targetText: String, auditLog: FilePath?) async throws {
        // 1. The layout is read once from /proc/self/mountinfo; a freezer value is cheap to share.
        let freezer = try CgroupFreezer(logger: Logger(label: "embedding-example"))

        // 2. A kernel target (cgroup or PID) resolves to the one cgroup that will be frozen.
        let spec = try TargetSpec(parsing: targetText)
        let target = try freezer.target(for: spec)

        // 3. Pause with a deadline: it returns once the kernel confirms every task frozen, or
        //    throws .timeout with the cgroup put back as it was.
        let paused = try await freezer.freeze(target, timeout: .seconds(5))
        print("pause \(target.cgroup.path) via \(target.backend): \(paused.result.rawValue), \(paused.state.rawValue)")

        // 4. Status: our own request, the effective state, and the processes it stops.
        let status = try freezer.status(target)
        print("status: \(status.state.rawValue), self \(status.selfFrozen), \(status.processes.count) processes")

        // 5. Cancellation: a freeze cancelled before it completes is undone by the library
        //    (.cancelled); one that completed first stays. Either way nothing is half-frozen.
        _ = try await freezer.thaw(target)
        let pause = Task { try await freezer.freeze(target, timeout: .seconds(5)) }
        pause.cancel()
        do {
            _ = try await pause.value
            print("cancelled pause: it had completed; \(try freezer.status(target).state.rawValue)")
        } catch CgroupFreezer.Error.cancelled {
            print("cancelled pause: undone; \(try freezer.status(target).state.rawValue)")
        }

        // 6. The resolver: the route every freezectl command takes (containers through their
        //    engine, units through systemd, cgroups through the kernel), with an audit record
        //    per item as soon as it is done.
        var sinks: [any AuditSink] = []
        if let auditLog { sinks.append(JSONLinesSink(path: auditLog)) }
        let trail = AuditTrail(sinks: sinks) { failure in print("audit: \(failure.message)") }
        let resolver = Resolver(freezer: freezer, catalog: ContainerCatalog(environment: [:]))
        let results = await resolver.run(TargetSelection(targets: [spec]),
                                         options: BatchOptions(operation: .thaw, timeout: .seconds(5), audit: trail))
        for result in results {
            print("unpause \(result.reference) via \(result.backend?.rawValue ?? "-"): \(result.outcome.rawValue), \(result.state?.rawValue ?? "-")")
            if let error = result.error { throw error }
        }

        // 7. A selection by label: every container of the sources present whose label matches
        //    (none on a host without containers), with what each route would do.
        let selection = TargetSelection(targets: [], filter: try ContainerFilter(parsing: ["label=auto_resume=true"]))
        for item in await resolver.status(selection) {
            print("label auto_resume=true: \(item.reference) \(item.freezer?.state.rawValue ?? item.engineState ?? "-")")
        }
        print("done")
    }
}
