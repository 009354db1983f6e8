import CKernelFloor
import CgroupFreezer
import Foundation

/// Item 1 and the process half of item 5: freeze and thaw one cgroup of N sleeping processes with
/// the library and with the kernel floor, alternating which goes first, on v1 and v2; at the
/// largest N also through the CLI (`freezectl pause` and `unpause`, a process start each).
struct LibrarySuite {
    let plan: Plan
    let layout: CgroupLayout
    let freezectl: String
    /// bench-kernel-floor, spawned like freezectl: what a process start adds to the floor.
    let floorProcess: String?
    let spawner: Spawner

    func run(into report: inout Report) async throws {
        let freezer = try CgroupFreezer(layout: layout)
        for processes in plan.processCounts {
            let cgroups = try SleeperCgroups(layout: layout, name: "fzbench-\(getpid())-lib", processes: processes)
            defer { cgroups.destroy() }
            if processes == plan.processCounts[0], let directory = cgroups.v2 ?? cgroups.v1 {
                report.add(try timeSetup(target: directory))
            }
            for (backend, directory) in [("v1", cgroups.v1), ("v2", cgroups.v2)] {
                guard let directory else { continue }
                let iterations = processes >= 1000 ? plan.iterationsLarge : plan.iterations
                let series = try await measure(backend: backend, directory: directory, processes: processes,
                                               iterations: iterations, freezer: freezer,
                                               throughCLI: processes == plan.processCounts.last)
                series.forEach { report.add($0) }
                progress("library \(backend) \(processes) processes: library freeze \(formatDuration(series[0].median)), floor \(formatDuration(series[2].median))")
            }
        }
    }

    /// What an embedder pays once: discovering the layout from mountinfo and resolving a target.
    private func timeSetup(target: String) throws -> Series {
        var setup = Series(group: "library", name: "CgroupFreezer() (reads mountinfo) + resolve", parameters: ["step": "setup"])
        for _ in 0..<plan.iterations {
            let start = ContinuousClock.now
            let freezer = try CgroupFreezer()
            _ = try freezer.target(for: try TargetSpec(parsing: target, sources: []))
            setup.samples.append(seconds(ContinuousClock.now - start))
        }
        return setup
    }

    private func measure(backend: String, directory: String, processes: Int, iterations: Int,
                         freezer: CgroupFreezer, throughCLI: Bool) async throws -> [Series] {
        func series(_ tool: String, _ operation: String) -> Series {
            Series(group: "library", name: "\(operation) \(backend), \(processes) processes, \(tool)",
                   parameters: ["backend": backend, "processes": "\(processes)", "tool": tool, "operation": operation])
        }
        var libraryFreeze = series("library", "freeze"), libraryThaw = series("library", "thaw")
        var floorFreeze = series("floor", "freeze"), floorThaw = series("floor", "thaw")
        var cliFreeze = series("cli", "freeze"), cliThaw = series("cli", "thaw")
        var processFreeze = series("floor-process", "freeze"), processThaw = series("floor-process", "thaw")
        let target = try freezer.target(for: try TargetSpec(parsing: directory, sources: []))
        let clock = ContinuousClock()

        func library() async throws {
            var start = clock.now
            let frozen = try await freezer.freeze(target)
            libraryFreeze.samples.append(seconds(clock.now - start))
            start = clock.now
            let thawed = try await freezer.thaw(target)
            libraryThaw.samples.append(seconds(clock.now - start))
            // A measurement of "already" would time nothing: every round must really freeze and thaw.
            guard frozen.result == .ok, frozen.state == .frozen, thawed.result == .ok, thawed.state == .thawed else {
                throw BenchError("library round on \(directory): \(frozen.result)/\(frozen.state), \(thawed.result)/\(thawed.state)")
            }
        }
        func floor() throws {
            let round = try floorRound(backend: backend, directory: directory, target: target, freezer: freezer)
            floorFreeze.samples.append(round.freeze)
            floorThaw.samples.append(round.thaw)
        }
        func cli() throws {
            let round = try spawnedRound(freezectl, "CLI", directory: directory, target: target, freezer: freezer)
            cliFreeze.samples.append(round.pause)
            cliThaw.samples.append(round.unpause)
            guard let floorProcess else { return }
            let floorRound = try spawnedRound(floorProcess, "floor process", directory: directory, target: target, freezer: freezer)
            processFreeze.samples.append(floorRound.pause)
            processThaw.samples.append(floorRound.unpause)
        }

        // One untimed round of each warms the dentry cache and the code paths.
        try await library(); try floor()
        if throughCLI { try cli() }
        libraryFreeze.samples = []; libraryThaw.samples = []; floorFreeze.samples = []; floorThaw.samples = []
        cliFreeze.samples = []; cliThaw.samples = []; processFreeze.samples = []; processThaw.samples = []
        for round in 0..<iterations {
            try Cleanup.shared.checkInterrupted()
            if round % 2 == 0 { try await library(); try floor() } else { try floor(); try await library() }
            if throughCLI { try cli() }
        }
        return [libraryFreeze, libraryThaw, floorFreeze, floorThaw] + (throughCLI ? [cliFreeze, cliThaw] : [])
            + (throughCLI && floorProcess != nil ? [processFreeze, processThaw] : [])
    }

    /// One round of the kernel floor in this process (CKernelFloor): the freeze's and the thaw's
    /// time; the state in between checked through the library, outside the timed spans.
    private func floorRound(backend: String, directory: String, target: FreezerTarget, freezer: CgroupFreezer) throws -> (freeze: Double, thaw: Double) {
        let clock = ContinuousClock()
        var start = clock.now
        let frozen = backend == "v1" ? kf_v1_freeze(directory + "/freezer.state")
            : kf_v2_set(directory + "/cgroup.freeze", directory + "/cgroup.events", 1)
        let freeze = seconds(clock.now - start)
        let state = try freezer.status(target).state
        start = clock.now
        let thawed = backend == "v1" ? kf_v1_thaw(directory + "/freezer.state")
            : kf_v2_set(directory + "/cgroup.freeze", directory + "/cgroup.events", 0)
        let thaw = seconds(clock.now - start)
        guard frozen == 0, thawed == 0, state == .frozen else {
            throw BenchError("floor round on \(directory): \(frozen), \(thawed), state \(state)")
        }
        return (freeze, thaw)
    }

    /// The CLI as a script runs it: a process start, the layout, the target, the freeze and its
    /// wait, the report; its result checked through the library outside the timed span. The
    /// floor as a process of its own (bench-kernel-floor) is spawned and checked the same way.
    private func spawnedRound(_ program: String, _ what: String, directory: String, target: FreezerTarget,
                              freezer: CgroupFreezer) throws -> (pause: Double, unpause: Double) {
        let paused = try spawner.must(program, ["pause", "-q", directory])
        let state = try freezer.status(target).state
        let unpaused = try spawner.must(program, ["unpause", "-q", directory])
        guard state == .frozen, try freezer.status(target).state == .thawed else {
            throw BenchError("\(what) round on \(directory): \(state) after pause")
        }
        return (paused.seconds, unpaused.seconds)
    }
}

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

func progress(_ line: String) {
    FileHandle.standardError.write(Data(("freezectl-bench: " + line + "\n").utf8))
}
