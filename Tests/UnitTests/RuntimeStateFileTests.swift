import ContainerRuntimes
import Foundation
import Testing

/// A runtime's state directory is root's, but its files are read the way every file outside
/// cgroupfs is: a symlink at the state file is not followed, and a file past the cap is refused.
@Suite("Runtime state files: no symlink followed, size capped")
struct RuntimeStateFileTests {
    private func withRoot(_ body: (URL) throws -> Void) throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("fz-state-\(UInt64.random(in: 0...UInt64.max))")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(at: root) }
        try body(root)
    }

    /// A state file of this test process: its init is alive.
    private func state(id: String) -> String {
        #"{"id":"\#(id)","init_process_pid":\#(getpid()),"cgroup_paths":{"":"/sys/fs/cgroup/unified/x"},"config":{"labels":["a=b"]}}"#
    }

    @Test func aRegularStateFileIsRead() throws {
        try withRoot { root in
            try FileManager.default.createDirectory(at: root.appendingPathComponent("web"), withIntermediateDirectories: false)
            try state(id: "web").write(to: root.appendingPathComponent("web/state.json"), atomically: false, encoding: .utf8)
            let container = try #require(try OCIRuntimeSource(runtime: .runc, root: .init(root.path)).container(id: "web"))
            #expect(container.pid == getpid())
            #expect(container.labels["a"] == "b")
        }
    }

    @Test func aSymlinkedStateFileIsNotFollowed() throws {
        try withRoot { root in
            try FileManager.default.createDirectory(at: root.appendingPathComponent("web"), withIntermediateDirectories: false)
            try state(id: "web").write(to: root.appendingPathComponent("elsewhere.json"), atomically: false, encoding: .utf8)
            try FileManager.default.createSymbolicLink(atPath: root.appendingPathComponent("web/state.json").path,
                                                       withDestinationPath: root.appendingPathComponent("elsewhere.json").path)
            #expect(throws: (any Error).self) { try OCIRuntimeSource(runtime: .runc, root: .init(root.path)).container(id: "web") }
            #expect(OCIRuntimeSource(runtime: .runc, root: .init(root.path)).containers().isEmpty)
        }
    }

    @Test func aStateFilePastTheCapIsRefused() throws {
        try withRoot { root in
            try FileManager.default.createDirectory(at: root.appendingPathComponent("web"), withIntermediateDirectories: false)
            var text = state(id: "web")
            text.removeLast()
            text += #","padding":""# + String(repeating: " ", count: 4 << 20) + #""}"#
            try text.write(to: root.appendingPathComponent("web/state.json"), atomically: false, encoding: .utf8)
            #expect(throws: (any Error).self) { try OCIRuntimeSource(runtime: .runc, root: .init(root.path)).container(id: "web") }
        }
    }
}
