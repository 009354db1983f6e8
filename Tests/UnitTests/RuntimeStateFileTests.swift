import ContainerRuntimes
import Foundation
import Testing

/// A runtime's state directory is root's, but its files are read the way every file outside
/// cgroupfs is: a symlink at the state file is not followed, and a file past the cap is refused;
/// and who could have written them is known from what was opened (StateWriters).
@Suite("Runtime state files: no symlink followed, size capped, writers known")
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
            #expect(try OCIRuntimeSource(runtime: .runc, root: .init(root.path)).containers().isEmpty)
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

    /// Who the test's own files say wrote them: root's when the test runs as root.
    private var ownWriters: StateWriters {
        geteuid() == 0 ? .root : .user(geteuid(), path: "")
    }

    private func sameWriters(_ found: StateWriters?, _ expected: StateWriters) -> Bool {
        switch (found, expected) {
        case (.root?, .root): return true
        case (.user(let a, _)?, .user(let b, _)): return a == b
        default: return false
        }
    }

    @Test func theWritersOfAStateAreItsOwnersWithTheRootsAndTheDirectorys() throws {
        try withRoot { root in
            try FileManager.default.createDirectory(at: root.appendingPathComponent("web"), withIntermediateDirectories: false)
            try state(id: "web").write(to: root.appendingPathComponent("web/state.json"), atomically: false, encoding: .utf8)
            chmod(root.path, 0o711)
            chmod(root.appendingPathComponent("web/state.json").path, 0o600)
            let container = try #require(try OCIRuntimeSource(runtime: .runc, root: .init(root.path)).container(id: "web"))
            #expect(container.state?.path == .init(root.path + "/web/state.json"))
            #expect(sameWriters(container.state?.writers, ownWriters), "\(String(describing: container.state))")
            // A state file anyone may write is anyone's: it names nothing.
            chmod(root.appendingPathComponent("web/state.json").path, 0o622)
            let open = try #require(try OCIRuntimeSource(runtime: .runc, root: .init(root.path)).container(id: "web"))
            guard case .anyone(let reason)? = open.state?.writers else { Issue.record("\(String(describing: open.state))"); return }
            #expect(reason.contains("web/state.json is writable by its group or by anyone (mode 622)"), "\(reason)")
        }
    }

    @Test func aRuntimeRootOthersMayWriteIsRefusedWhole() throws {
        try withRoot { root in
            try FileManager.default.createDirectory(at: root.appendingPathComponent("web"), withIntermediateDirectories: false)
            try state(id: "web").write(to: root.appendingPathComponent("web/state.json"), atomically: false, encoding: .utf8)
            for mode: mode_t in [0o1777, 0o775] {
                chmod(root.path, mode)
                let source = OCIRuntimeSource(runtime: .runc, root: .init(root.path))
                #expect {
                    try source.containers()
                } throws: { error in
                    guard case ContainerCatalog.Error.untrustedState(let reference, let path, let reason) = error else { return false }
                    return reference == "runc" && path == .init(root.path) && reason.contains("mode \(String(mode, radix: 8))")
                        && reason.contains("writable by its owner alone")
                }
                #expect(throws: ContainerCatalog.Error.self) { try source.container(id: "web") }
            }
        }
    }

    @Test func aSymlinkedContainerDirectoryIsNotFollowed() throws {
        try withRoot { root in
            try FileManager.default.createDirectory(at: root.appendingPathComponent("real"), withIntermediateDirectories: false)
            try state(id: "web").write(to: root.appendingPathComponent("real/state.json"), atomically: false, encoding: .utf8)
            try FileManager.default.createSymbolicLink(atPath: root.appendingPathComponent("web").path, withDestinationPath: root.appendingPathComponent("real").path)
            #expect(throws: (any Error).self) { try OCIRuntimeSource(runtime: .runc, root: .init(root.path)).container(id: "web") }
        }
    }
}
