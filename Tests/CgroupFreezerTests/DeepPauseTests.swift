import Foundation
import Testing

/// `pause --reclaim` and `unpause --prefetch` as a user runs them (issue 33): the kernel's own
/// figures (VmRSS of /proc/PID/status) say the memory went, the workload says every byte came
/// back, runc says the container is paused.
@Suite("Deep pause: pause --reclaim, unpause --prefetch", .serialized, .hostUnchanged)
struct DeepPauseTests {
    /// The `memory` object of the first JSON line.
    private static func memory(_ result: CLIResult) -> [String: Any] {
        result.jsonLines.first?["memory"] as? [String: Any] ?? [:]
    }

    private static func bytes(_ object: [String: Any], _ key: String) -> UInt64 {
        (object[key] as? NSNumber)?.uint64Value ?? 0
    }

    /// SwapCached of /proc/meminfo in bytes: pages read back from swap that no process has
    /// touched yet (where MADV_WILLNEED puts them).
    static func swapCached() -> UInt64 {
        let meminfo = (try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8)) ?? ""
        let line = meminfo.split(separator: "\n").first { $0.hasPrefix("SwapCached:") } ?? ""
        return (line.split(separator: " ").dropFirst().first.flatMap { UInt64($0) } ?? 0) * 1024
    }

    /// A workload of `megabytes` in `cgroup`, once it filled its memory: its PID, its directory,
    /// and its memory then.
    private static func start(_ megabytes: Int, in cgroup: TestCgroup, _ scratch: ScratchDirectory, _ workload: String, name: String = "w") throws
        -> (pid: Int32, directory: String, running: KernelMemory) {
        let directory = try MemoryTests.workloadDirectory(scratch, name)
        let pid = try cgroup.start("exec \(workload) \(megabytes) \(directory)")
        try #require(eventually(seconds: 30) { MemoryWorkload.isReady(directory) }, "the workload filled its memory")
        return (pid, directory, try #require(KernelMemory.of(pid)))
    }

    @Test("a 256 MiB workload in a cgroup: pause --reclaim leaves it frozen with a fraction resident (the kernel's figure), status shows it swapped, unpause --prefetch gives back every byte")
    func cgroupWorkload() async throws {
        try await MemoryTests.withSwap { scratch, workload in
            let cgroup = try TestCgroup(.v1)
            defer { cgroup.destroy() }
            let (pid, directory, running) = try Self.start(256, in: cgroup, scratch, workload)

            let misplaced = try freezectl("pause", "--prefetch", cgroup.path)
            #expect(misplaced.status == 2 && misplaced.stderr.contains("unpause --prefetch") && !cgroup.selfFrozen, "\(misplaced.stderr)")
            let pause = try freezectl("pause", "--reclaim", "--format", "json", cgroup.path)
            #expect(pause.status == 0, "\(pause.stderr)")
            #expect(cgroup.kernelFrozen, "frozen as asked")
            let paused = try #require(KernelMemory.of(pid))
            #expect(paused.resident < running.resident / 10, "resident \(running) -> \(paused)")
            #expect(paused.swapped > 200 << 20, "in swap: \(paused)")
            let memory = Self.memory(pause)
            #expect(memory["complete"] as? Bool == true && memory["processes"] as? Int == 1, "\(pause.stdout)")
            #expect(Self.bytes(memory, "resident_before") > 250 << 20 && Self.bytes(memory, "resident_after") < 25 << 20, "\(pause.stdout)")
            #expect(memory["warning"] == nil, "swap is configured")

            let status = try freezectl("status", "--format", "json", cgroup.path)
            let shown = try #require(status.jsonLines.first)
            #expect(Self.bytes(shown, "swapped") > 200 << 20 && Self.bytes(shown, "resident") < 25 << 20, "\(status.stdout)")
            let table = try freezectl("status", cgroup.path)
            #expect(table.stdout.contains("RESIDENT") && table.stdout.contains("SWAPPED") && table.stdout.contains("MiB"), "\(table.stdout)")

            let swapCached = Self.swapCached()
            let unpause = try freezectl("unpause", "--prefetch", "--format", "json", cgroup.path)
            #expect(unpause.status == 0 && !cgroup.kernelFrozen, "\(unpause.stderr)")
            #expect(Self.swapCached() > swapCached + (200 << 20), "read back from swap ahead of use: SwapCached \(swapCached >> 20) -> \(Self.swapCached() >> 20) MiB")
            #expect(Self.memory(unpause)["complete"] as? Bool == true, "\(unpause.stdout)")
            #expect(try MemoryWorkload.verify(directory), "every byte came back")
            #expect((KernelMemory.of(pid)?.resident ?? 0) > 250 << 20, "resident again after it read everything")
        }
    }

    @Test("a runc container: pause --reclaim runc:ID (runc list says paused, its memory is out), unpause --prefetch: running, every byte there")
    func runcContainer() async throws {
        try await MemoryTests.withSwap { scratch, workload in
            let runc = try RuncContainers()
            defer { runc.destroy() }
            let directory = try MemoryTests.workloadDirectory(scratch, "w")
            try runc.run("deep", script: "exec /bin/memory-workload 256 /work", binds: [(workload, "/bin/memory-workload"), (directory, "/work")])
            try #require(eventually(seconds: 30) { MemoryWorkload.isReady(directory) }, "the container's workload filled its memory")
            let pid = try #require(runc.pids("deep").last)
            let running = try #require(KernelMemory.of(pid))

            let pause = try freezectl("pause", "--runtime-root", runc.root, "--reclaim", "--format", "json", "runc:deep")
            #expect(pause.status == 0, "\(pause.stderr)")
            #expect(try runc.list() == ["deep": "paused"])
            let paused = try #require(KernelMemory.of(pid))
            #expect(paused.resident < running.resident / 10, "resident \(running) -> \(paused)")
            #expect(Self.memory(pause)["complete"] as? Bool == true, "\(pause.stdout)")

            let unpause = try freezectl("unpause", "--runtime-root", runc.root, "--prefetch", "runc:deep")
            #expect(unpause.status == 0, "\(unpause.stderr)")
            #expect(try runc.list() == ["deep": "running"])
            #expect(try MemoryWorkload.verify(directory), "every byte came back")
        }
    }

    @Test("someone else froze it: pause --reclaim says already, and reclaims all the same; it stays frozen")
    func frozenBySomeoneElse() async throws {
        try await MemoryTests.withSwap { scratch, workload in
            let cgroup = try TestCgroup(.v2)
            defer { cgroup.destroy() }
            let (pid, directory, running) = try Self.start(64, in: cgroup, scratch, workload)
            try cgroup.write("1", "cgroup.freeze")
            try #require(eventually { cgroup.kernelFrozen })

            let pause = try freezectl("pause", "--reclaim", "--format", "json", cgroup.path)
            #expect(pause.status == 0 && pause.jsonLines.first?["result"] as? String == "already", "\(pause.stdout) \(pause.stderr)")
            // A v2 cgroup without the v2 memory controller (hybrid: memory is v1) has no
            // memory.reclaim: process_madvise did it all.
            #expect(Self.memory(pause)["cgroup_reclaim"] == nil && Self.memory(pause)["complete"] as? Bool == true, "\(pause.stdout)")
            #expect((KernelMemory.of(pid)?.resident ?? .max) < running.resident / 10, "reclaimed")
            #expect(cgroup.kernelFrozen && cgroup.selfFrozen, "still frozen, by its own request")
            #expect(try freezectl("unpause", "--prefetch", cgroup.path).status == 0)
            #expect(try MemoryWorkload.verify(directory))
        }
    }

    @Test("SIGINT in the middle of a reclaim: exit 130, the target stays frozen (the freeze succeeded), the result says how far the reclaim got")
    func signalMidReclaim() async throws {
        try await MemoryTests.withSwap { scratch, workload in
            let cgroup = try TestCgroup(.v1)
            defer { cgroup.destroy() }
            var directories: [String] = []
            for index in 0..<32 {
                directories.append(try MemoryTests.workloadDirectory(scratch, "w\(index)"))
                try cgroup.start("exec \(workload) 16 \(directories.last!)")
            }
            try #require(eventually(seconds: 30) { directories.allSatisfy(MemoryWorkload.isReady) })
            let pids = cgroup.pids
            let pause = try BackgroundProcess(freezectlBinary, ["pause", "--reclaim", "--format", "json", cgroup.path])
            // Pieces are taken in the order of the processes, and one taken is finished and
            // counted even when a cancellation comes: once two workloads' memory is in swap
            // (the kernel's figure), every piece of the first of them was taken, so at least one
            // process is done when the SIGINT lands.
            try #require(eventually(seconds: 30) { pids.filter { (KernelMemory.of($0)?.swapped ?? 0) > 8 << 20 }.count >= 2 }, "the reclaim started")
            pause.signal(SIGINT)
            let result = pause.wait(seconds: 30)
            #expect(result.exited && result.status == 130, "\(result.status) \(result.stderr)")
            #expect(cgroup.kernelFrozen, "the freeze had succeeded: it stays")
            let line = try #require(result.stdout.split(separator: "\n").first.flatMap { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] })
            let memory = line["memory"] as? [String: Any] ?? [:]
            #expect(line["result"] as? String == "ok" && line["state"] as? String == "frozen", "\(result.stdout)")
            let done = memory["processes"] as? Int ?? -1, total = memory["total_processes"] as? Int ?? -1
            #expect(memory["complete"] as? Bool == false && done >= 1 && done < total && total == 32, "\(result.stdout)")
            #expect(result.stderr.contains("the reclaim stopped after \(done) of 32 processes: interrupted"), "\(result.stderr)")
            // Thawed, every workload is whole: paged out or not.
            #expect(try freezectl("unpause", cgroup.path).status == 0)
            for directory in directories { #expect(try MemoryWorkload.verify(directory), "\(directory)") }
        }
    }

    @Test("without swap: pause --reclaim says plainly that only file pages can go (exit 0, a warning), the anonymous memory stays resident")
    func withoutSwap() throws {
        let swaps = (try? String(contentsOfFile: "/proc/swaps", encoding: .utf8)) ?? ""
        guard swaps.split(separator: "\n").count <= 1 else {
            print("skipped: the machine has swap of its own, which a test must not turn off")
            return
        }
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let workload = try MemoryWorkload.build(into: scratch)
        let cgroup = try TestCgroup(.v1)
        defer { cgroup.destroy() }
        let (pid, directory, running) = try Self.start(64, in: cgroup, scratch, workload)

        let pause = try freezectl("pause", "--reclaim", "--format", "json", cgroup.path)
        #expect(pause.status == 0 && cgroup.kernelFrozen, "\(pause.stderr)")
        #expect(pause.stderr.contains("warning: ") && pause.stderr.contains("no swap is configured: only file pages could go"), "\(pause.stderr)")
        #expect((Self.memory(pause)["warning"] as? String)?.contains("docs/deep-pause.md") == true, "\(pause.stdout)")
        let paused = try #require(KernelMemory.of(pid))
        #expect(paused.resident > running.resident * 8 / 10 && paused.swapped == 0, "anonymous memory stays: \(running) -> \(paused)")
        #expect(try freezectl("unpause", cgroup.path).status == 0)
        #expect(try MemoryWorkload.verify(directory))
    }

    @Test("through freezectld: reclaim and prefetch need a grant of their own (403 naming reclaim, nothing paused); granted, the memory goes and comes back; a lease that ends with a prefetch reads it back at expiry")
    func throughTheDaemon() async throws {
        try await MemoryTests.withSwap { scratch, workload in
            let denied = try TestCgroup(.v2), granted = try TestCgroup(.v2)
            defer { denied.destroy(); granted.destroy() }
            let (deniedPID, deniedDirectory, deniedRunning) = try Self.start(64, in: denied, scratch, workload, name: "denied")
            let (grantedPID, grantedDirectory, grantedRunning) = try Self.start(64, in: granted, scratch, workload, name: "granted")
            let policy = scratch.path + "/policy.toml"
            try """
                [[rule]]
                users = ["nobody"]
                actions = ["pause", "unpause", "status", "lease"]
                cgroups = ["\(denied.relativePath)", "\(granted.relativePath)"]

                [[rule]]
                users = ["nobody"]
                actions = ["reclaim", "prefetch"]
                cgroups = ["\(granted.relativePath)"]
                """.write(toFile: policy, atomically: true, encoding: .utf8)
            let daemon = TestDaemon(in: scratch)
            daemon.options = ["--policy", policy, "--socket-group", "65534"]
            defer { daemon.cleanUp() }
            try daemon.start()
            let api = DaemonTests(), nobody = (uid: 65534, gid: 65534)
            func pause(_ cgroup: TestCgroup, _ extra: String = "", user: (uid: Int, gid: Int)? = nil) throws -> (status: Int, body: String) {
                try api.request(daemon.socket, "POST", "/v1/pause", body: #"{"targets": ["cgroup:\#(cgroup.relativePath)"], "reclaim": true\#(extra)}"#, user: user)
            }

            let refused = try pause(denied, user: nobody)
            #expect(refused.status == 403 && refused.body.contains(#"actions = [\"reclaim\"]"#), "\(refused.body)")
            #expect(!denied.selfFrozen && (KernelMemory.of(deniedPID)?.swapped ?? 1) == 0, "nothing paused, nothing reclaimed")

            let reclaimed = try pause(granted, user: nobody)
            #expect(reclaimed.status == 200 && granted.kernelFrozen, "\(reclaimed.body)")
            let memory = ((api.object(reclaimed.body)["results"] as? [[String: Any]])?.first?["memory"] as? [String: Any]) ?? [:]
            #expect(memory["complete"] as? Bool == true && (memory["resident_before"] as? Int ?? 0) > 60 << 20, "\(reclaimed.body)")
            #expect((KernelMemory.of(grantedPID)?.resident ?? .max) < grantedRunning.resident / 10)
            let unpaused = try api.request(daemon.socket, "POST", "/v1/unpause", body: #"{"targets": ["cgroup:\#(granted.relativePath)"], "prefetch": true}"#, user: nobody)
            #expect(unpaused.status == 200 && !granted.kernelFrozen, "\(unpaused.body)")
            #expect(try MemoryWorkload.verify(grantedDirectory))

            // The CLI as the daemon's client: --reclaim goes in the request, memory comes back.
            let client = try freezectl("--host", "unix://" + daemon.socket, "pause", "--reclaim", "--format", "json", "cgroup:" + granted.relativePath)
            #expect(client.status == 0 && Self.memory(client)["complete"] as? Bool == true, "\(client.stdout) \(client.stderr)")
            #expect((KernelMemory.of(grantedPID)?.resident ?? .max) < grantedRunning.resident / 2, "reclaimed again")
            #expect(try freezectl("--host", "unix://" + daemon.socket, "unpause", "--prefetch", "cgroup:" + granted.relativePath).status == 0)

            // Root needs no rule: a lease of 1 s that reclaims now and prefetches at its end.
            let leased = try pause(denied, #", "for": "1s", "prefetch": true"#)
            #expect(leased.status == 200 && denied.kernelFrozen, "\(leased.body)")
            #expect((KernelMemory.of(deniedPID)?.resident ?? .max) < deniedRunning.resident / 10)
            let swapCached = Self.swapCached()
            #expect(eventually(seconds: 5) { !denied.kernelFrozen }, "thawed at expiry")
            #expect(Self.swapCached() > swapCached + (40 << 20), "read back before the thaw: SwapCached \(swapCached >> 20) -> \(Self.swapCached() >> 20) MiB")
            #expect(try MemoryWorkload.verify(deniedDirectory))
            let prefetchOnly = try api.request(daemon.socket, "POST", "/v1/pause", body: #"{"targets": ["cgroup:\#(denied.relativePath)"], "prefetch": true}"#)
            #expect(prefetchOnly.status == 400 && !denied.selfFrozen, "prefetch on a pause is for the thaw that ends a lease: \(prefetchOnly.body)")
            try api.answers.check()
        }
    }
}
