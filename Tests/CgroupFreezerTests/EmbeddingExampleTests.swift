import CgroupFreezer
import Foundation
import Testing

/// docs/embedding.md's program, built by `swift test` beside freezectl, run on a scratch cgroup.
@Suite("The embedding example runs against a real cgroup", .serialized, .hostUnchanged)
struct EmbeddingExampleTests {
    @Test("embedding-example pauses, reads, cancels, unpauses through the resolver with an audit record, and selects by label",
          arguments: [Hierarchy.Version.v1, .v2])
    func exampleRuns(_ version: Hierarchy.Version) throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let cgroup = try TestCgroup(version)
        defer { cgroup.destroy() }
        try cgroup.start("sleep 1000")
        let example = URL(fileURLWithPath: freezectlBinary).deletingLastPathComponent().appendingPathComponent("embedding-example").path
        let log = scratch.path + "/audit.jsonl"
        let processes = cgroup.pids.count
        let result = try run(example, [cgroup.path, log])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first == "pause \(cgroup.path) via \(version.rawValue): ok, frozen")
        #expect(lines.contains("status: frozen, self true, \(processes) processes"))
        #expect(lines.contains { $0.hasPrefix("cancelled pause: ") })
        #expect(lines.contains { $0.hasPrefix("unpause \(cgroup.path) via \(version.rawValue): ") && $0.hasSuffix(", thawed") })
        #expect(lines.last == "done")
        // The library's audit record of the unpause, as a JSON line.
        let records = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n")
        #expect(records.count == 1 && records[0].contains(#""action":"unpause""#) && records[0].contains(cgroup.path))
        // Nothing is left frozen: the sleeper runs.
        #expect(!cgroup.kernelFrozen && !cgroup.selfFrozen)
    }
}
