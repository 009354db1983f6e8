import CgroupFreezer
import Foundation
import SystemPackage
import Testing

@Suite("Freezing real process trees with the library", .serialized, .hostUnchanged)
struct FreezeTests {
    @Test("1000 CgroupFreezer values, some of them waiting on the kernel, leave threads and descriptors as they were once idle")
    func freezersLeaveNothingBehind() async throws {
        let cgroup = try TestCgroup(.v2)
        defer { cgroup.destroy() }
        try cgroup.start("sleep 1000")
        func counts() -> (descriptors: Int, threads: Int) {
            (((try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []).count,
             ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []).count)
        }
        // Settle: earlier tests' waiter loops end after EventsWaiter.lingering.
        let warm = try CgroupFreezer()
        _ = try await warm.freeze(try warm.target(for: .directory(FilePath(cgroup.path))))
        _ = try await warm.thaw(try warm.target(for: .directory(FilePath(cgroup.path))))
        try await Task.sleep(for: .milliseconds(1500))
        let before = counts()

        // The layout is given: reading mountinfo 1000 times is not what this is about.
        let freezers = try (0..<1000).map { _ in try CgroupFreezer(layout: TestCgroup.layout) }
        for freezer in freezers.prefix(20) {
            let target = try freezer.target(for: .directory(FilePath(cgroup.path)))
            _ = try await freezer.freeze(target)
            _ = try await freezer.thaw(target)
        }
        // Waits that must go to the loop thread (nothing satisfies them before their deadline).
        let events = try FileDescriptor.open(FilePath(cgroup.path + "/cgroup.events"), .readOnly)
        for _ in 0..<20 {
            let waiter = EventsWaiter()
            let satisfied = try await waiter.wait(on: events, deadline: .now + .milliseconds(5)) { false }
            #expect(!satisfied)
        }
        try events.close()
        try await Task.sleep(for: .milliseconds(1500))
        let after = counts()
        #expect(after.descriptors == before.descriptors, "descriptors \(before.descriptors) → \(after.descriptors)")
        #expect(after.threads <= before.threads, "threads \(before.threads) → \(after.threads)")
        withExtendedLifetime(freezers) {}
    }

    @Test("freeze stops a forking, counting tree of 50+ processes; thaw resumes it", arguments: [Hierarchy.Version.v1, .v2])
    func freezeStopsAForkingTreeAndThawResumesIt(_ version: Hierarchy.Version) async throws {
        // Declared first so it is removed last, after destroy() has stopped the writers.
        let counters = try ScratchDirectory()
        defer { counters.remove() }
        let cgroup = try TestCgroup(version)
        defer { cgroup.destroy() }
        let workers = 30
        try cgroup.startCountingTree(workers: workers, counters: counters)
        cgroup.waitForProcesses(atLeast: 55)
        try #require(cgroup.pids.count >= 50)

        let freezer = try CgroupFreezer()
        let target = try freezer.target(for: .cgroup(cgroup.relativePath))
        #expect(target.backend == version)
        let outcome = try await freezer.freeze(target)
        #expect(outcome.result == .ok)
        #expect(outcome.state == .frozen)

        #expect(cgroup.kernelFrozen)
        // The shells (the root and one per worker) never exit; how many of their `sleep 0.02`
        // children are alive at the freeze varies with the load (49 of 50+ seen on a busy
        // machine), so only the shells are counted.
        let pids = cgroup.pids
        #expect(pids.count >= workers + 1)
        let notFrozen = pids.filter { procShowsFrozen($0, version) == false }
        #expect(notFrozen.isEmpty, "/proc shows these running while frozen: \(notFrozen.map(procDescription))")
        let frozenCount = counters.counterSum
        try await Task.sleep(for: .milliseconds(300))
        #expect(counters.counterSum == frozenCount, "the counters must not move while frozen")

        let again = try await freezer.freeze(target)
        #expect(again.result == .already)

        let thawed = try await freezer.thaw(target)
        #expect(thawed.result == .ok)
        #expect(thawed.state == .thawed)
        #expect(!cgroup.kernelFrozen)
        try await Task.sleep(for: .milliseconds(300))
        #expect(counters.counterSum > frozenCount, "the counters move again after thaw")

        let status = try freezer.status(target)
        #expect(status.state == .thawed)
        #expect(!status.selfFrozen)
        #expect(status.processes.count >= 50)
        let thawAgain = try await freezer.thaw(target)
        #expect(thawAgain.result == .already)
    }

    @Test("thaw under a frozen parent reports frozen-by-parent, not success", arguments: [Hierarchy.Version.v1, .v2])
    func thawUnderAFrozenParentReportsFrozenByParent(_ version: Hierarchy.Version) async throws {
        let parent = try TestCgroup(version)
        defer { parent.destroy() }
        let child = try parent.child("child")
        let sibling = try parent.child("sibling")
        try child.start("sleep 1000")
        try sibling.start("sleep 1000")
        let freezer = try CgroupFreezer()
        let childTarget = try freezer.target(for: .directory(FilePath(child.path)))
        let siblingTarget = try freezer.target(for: .directory(FilePath(sibling.path)))
        let parentTarget = try freezer.target(for: .directory(FilePath(parent.path)))

        _ = try await freezer.freeze(childTarget)
        _ = try await freezer.freeze(parentTarget)
        #expect(try freezer.status(siblingTarget).state == .frozenByParent)

        // The child asked to be frozen itself: its request is cleared, but it stays frozen.
        await #expect(throws: CgroupFreezer.Error.frozenByParent(path: childTarget.cgroup.path, ancestor: parentTarget.cgroup.path)) {
            try await freezer.thaw(childTarget)
        }
        #expect(!child.selfFrozen)
        #expect(child.kernelFrozen)
        #expect(try freezer.status(childTarget).state == .frozenByParent)
        // The sibling never asked: unpausing it is not "already", it is still frozen.
        await #expect(throws: CgroupFreezer.Error.frozenByParent(path: siblingTarget.cgroup.path, ancestor: parentTarget.cgroup.path)) {
            try await freezer.thaw(siblingTarget)
        }

        let parentThawed = try await freezer.thaw(parentTarget)
        #expect(parentThawed.state == .thawed)
        #expect(try freezer.status(childTarget).state == .thawed)
        #expect(!child.kernelFrozen && !sibling.kernelFrozen)
    }

    /// Waits with a fresh `EventsWaiter` for `frozen 1` in the cgroup's cgroup.events.
    private func waitUntilFrozen(_ cgroup: TestCgroup, deadline: ContinuousClock.Instant) async throws -> Bool {
        let path = cgroup.file("cgroup.events")
        let events = try FileDescriptor.open(path, .readOnly)
        defer { try? events.close() }
        return try await EventsWaiter().wait(on: events, deadline: deadline) {
            ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").contains("frozen 1")
        }
    }

    @Test("the completion waiter wakes on the kernel's cgroup.events notification")
    func waiterWakesOnTheKernelNotification() async throws {
        let cgroup = try TestCgroup(.v2)
        defer { cgroup.destroy() }
        try cgroup.start("sleep 1000")
        let writer = Task {
            try await Task.sleep(for: .milliseconds(200))
            try cgroup.write("1", "cgroup.freeze")
        }
        let clock = ContinuousClock()
        let start = clock.now
        let frozen = try await waitUntilFrozen(cgroup, deadline: start.advanced(by: .seconds(5)))
        try await writer.value
        #expect(frozen)
        #expect(start.duration(to: clock.now) < .seconds(2), "woken by the event, not by the deadline")
    }

    @Test("a cancelled wait ends at once, before its deadline")
    func cancellationEndsTheWait() async throws {
        let cgroup = try TestCgroup(.v2)
        defer { cgroup.destroy() }
        try cgroup.start("sleep 1000")
        let clock = ContinuousClock()
        let start = clock.now
        let waiting = Task { try await waitUntilFrozen(cgroup, deadline: start.advanced(by: .seconds(30))) }
        try await Task.sleep(for: .milliseconds(100))
        waiting.cancel()
        await #expect(throws: CancellationError.self) { try await waiting.value }
        #expect(start.duration(to: clock.now) < .seconds(5))
        #expect(!cgroup.kernelFrozen)
    }
}
