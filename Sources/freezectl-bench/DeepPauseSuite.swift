#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import CgroupFreezer
import Foundation

/// The deep pause (issue 33, docs/deep-pause.md): workloads of Benchmarks/memory-workload.c in a
/// v1 freezer cgroup, with swap (zram0 made swap for the run when the machine has none, put back
/// after). The footprint and the wake go through the CLI as a user runs it; the cost against
/// size and process count through the library, whose reclaim and prefetch the CLI calls.
struct DeepPauseSuite {
    let plan: Plan
    let layout: CgroupLayout
    let freezectl: String
    /// The workload binary (bench.sh builds it beside the harness).
    let workload: String
    let spawner: Spawner
    let scratch: String

    func run(into report: inout Report) async throws {
        guard let freezerHierarchy = layout.freezer else {
            report.skipped.append("deep pause: no v1 freezer hierarchy (the workloads' cgroup is made there)")
            return
        }
        let swap: BenchSwap
        switch BenchSwap.setUp(spawner: spawner) {
        case .success(let made): swap = made
        case .failure(let why):
            report.skipped.append("deep pause: \(why)")
            return
        }
        defer { swap.remove(spawner: spawner) }
        let parent = freezerHierarchy.mountPoint.appending("fzbench-\(getpid())-deep").string
        let context = Context(suite: self, parent: parent)
        try footprintAndWake(context, into: &report)
        try await costGrowth(context, into: &report)
    }

    /// What every measurement here needs: where its cgroup goes, and the freezer.
    struct Context {
        let suite: DeepPauseSuite
        let parent: String
        var megabytes: Int { suite.plan.quick ? 16 : 256 }
    }

    /// The footprint of a deep-paused workload (the kernel's VmRSS, running and deep-paused), and
    /// the wake from `unpause` to the workload having touched all its memory: never reclaimed,
    /// reclaimed, reclaimed and prefetched, round by round in turn.
    private func footprintAndWake(_ context: Context, into report: inout Report) throws {
        let size = context.megabytes
        let workloads = try MemoryWorkloads(binary: workload, cgroup: context.parent, processes: 1, megabytes: size, spawner: spawner, scratch: scratch)
        defer { workloads.destroy() }
        func series(_ name: String, _ mode: String, unit: String = "s") -> Series {
            Series(group: "deeppause", name: name, unit: unit, parameters: ["megabytes": "\(size)", "mode": mode])
        }
        var running = series("resident while running, \(size) MiB", "running", unit: "KiB")
        var paused = series("resident while deep-paused, \(size) MiB", "deep-paused", unit: "KiB")
        var reclaim = series("pause --reclaim, \(size) MiB", "pause --reclaim")
        var wakes = ["plain", "reclaimed", "prefetched"].map { series("wake, \(size) MiB, \($0)", "wake \($0)") }
        let rounds = plan.quick ? 1 : 20
        for round in 0..<rounds {
            try Cleanup.shared.checkInterrupted()
            for offset in 0..<wakes.count {
                let mode = (round + offset) % wakes.count
                // Its memory used while it ran: a reclaim writes it out anew every round.
                try workloads.dirty()
                running.samples.append(Double(workloads.residentKiB()))
                let pause = try spawner.must(freezectl, ["pause", "-q"] + (mode == 0 ? [] : ["--reclaim"]) + [workloads.cgroup])
                if mode != 0 {
                    reclaim.samples.append(pause.seconds)
                    paused.samples.append(Double(workloads.residentKiB()))
                }
                wakes[mode].samples.append(try workloads.wake(freezectl: freezectl, prefetch: mode == 2))
            }
        }
        [running, paused, reclaim].forEach { report.add($0) }
        wakes.forEach { report.add($0) }
        progress("deep pause \(size) MiB: resident \(Int(running.median / 1024)) MiB -> \(Int(paused.median / 1024)) MiB; wake \(wakes.map { formatDuration($0.quantile(0.95)) }.joined(separator: " / ")) (p95: plain / reclaimed / prefetched)")
    }

    /// Reclaim and prefetch through the library against memory size (one process) and process
    /// count (the same total over more processes).
    private func costGrowth(_ context: Context, into report: inout Report) async throws {
        let freezer = try CgroupFreezer(layout: layout)
        let sizes = plan.quick ? [16] : [64, 256, 1024]
        let counts = plan.quick ? [1, 4] : [1, 10, 100]
        let shapes = sizes.map { (processes: 1, megabytes: $0) } + counts.filter { $0 > 1 }.map { (processes: $0, megabytes: context.megabytes) }
        for shape in shapes {
            try Cleanup.shared.checkInterrupted()
            let each = max(1, shape.megabytes / shape.processes)
            let workloads = try MemoryWorkloads(binary: workload, cgroup: context.parent, processes: shape.processes, megabytes: each,
                                                spawner: spawner, scratch: scratch)
            defer { workloads.destroy() }
            let target = try freezer.target(for: try TargetSpec(parsing: workloads.cgroup, sources: []))
            let parameters = ["processes": "\(shape.processes)", "megabytes": "\(each * shape.processes)"]
            var reclaim = Series(group: "deeppause-cost", name: "reclaim, \(shape.processes) × \(each) MiB", parameters: parameters.merging(["operation": "reclaim"]) { $1 })
            var prefetch = Series(group: "deeppause-cost", name: "prefetch, \(shape.processes) × \(each) MiB", parameters: parameters.merging(["operation": "prefetch"]) { $1 })
            for _ in 0..<(plan.quick ? 1 : 3) {
                _ = try await freezer.freeze(target)
                let reclaimed = await freezer.reclaim(target, deadline: .now + .seconds(120))
                let prefetched = await freezer.prefetch(target, deadline: .now + .seconds(120))
                _ = try await freezer.thaw(target)
                guard reclaimed.complete, prefetched.complete, reclaimed.processes == shape.processes else {
                    throw BenchError("deep pause of \(shape.processes) × \(each) MiB did not complete: \(reclaimed.processes) of \(reclaimed.total) processes")
                }
                reclaim.samples.append(seconds(reclaimed.duration))
                prefetch.samples.append(seconds(prefetched.duration))
                // Back to all resident and dirty before the next round, as a running workload would be.
                try workloads.dirty()
            }
            report.add(reclaim)
            report.add(prefetch)
            progress("deep pause cost \(shape.processes) × \(each) MiB: reclaim \(formatDuration(reclaim.median)), prefetch \(formatDuration(prefetch.median))")
        }
    }
}
