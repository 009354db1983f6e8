import CRIUCheckpoint
import CgroupFreezer
import ContainerEngines
import ContainerRuntimes
import Foundation
import FreezectlReports
import SystemPackage
import Testing

@Suite("Error codes: one error type per area, stable strings for JSON, bad input told apart")
struct ErrorCodeTests {
    // docs/json-output.md "Error codes": a script depends on each of these strings.
    static let cases: [(any FreezectlError, code: String, badInput: Bool)] = [
        (CgroupLayout.Error.invalidTarget("x", reason: "r"), "invalid-target", true),
        (CgroupLayout.Error.notFound(path: "/x"), "not-found", true),
        (CgroupLayout.Error.notOnCgroupfs(path: "/etc"), "not-cgroupfs", true),
        (CgroupLayout.Error.noFreezer(path: "/sys/fs/cgroup/unified", reason: "root"), "no-freezer", true),
        (CgroupLayout.Error.noSuchCgroup("cgroup:/x", checked: ["/a"]), "not-found", true),
        (CgroupLayout.Error.noSuchProcess(pid: 9), "no-such-process", true),
        (CgroupLayout.Error.processInRootCgroup(pid: 1), "root-cgroup", true),
        (CgroupLayout.Error.noCgroupMount, "no-cgroup-mount", false),
        (CgroupLayout.Error.permissionDenied(path: "/x", errno: .permissionDenied), "permission-denied", false),
        (CgroupLayout.Error.unsafeFile(path: "/x", reason: "r"), "unsafe-file", false),
        (CgroupLayout.Error.io(path: "/x", operation: "read", errno: .ioError), "io", false),
        (CgroupFreezer.Error.selfFreeze(path: "/x"), "self-freeze", false),
        (CgroupFreezer.Error.timeout(path: "/x", deadline: .seconds(1), notFrozen: 1, processes: 2), "timeout", false),
        (CgroupFreezer.Error.thawTimeout(path: "/x", deadline: .seconds(1)), "timeout", false),
        (CgroupFreezer.Error.frozenByParent(path: "/x/y", ancestor: "/x"), "frozen-by-parent", false),
        (CgroupFreezer.Error.busy(path: "/x", deadline: .seconds(1)), "busy", false),
        (CgroupFreezer.Error.leftFrozen(path: "/x", state: "frozen", cause: "c"), "left-frozen", false),
        (CgroupFreezer.Error.removed(path: "/x"), "cgroup-removed", false),
        (CgroupFreezer.Error.cancelled, "cancelled", false),
        (CgroupFreezer.Error.interrupted("r"), "interrupted", false),
        (CgroupFreezer.Error.replaced(path: "/x", reason: "r"), "target-replaced", false),
        (ContainerCatalog.Error.noSuchContainer("web", searched: []), "no-such-container", true),
        (ContainerCatalog.Error.ambiguousContainer("w", matches: ["a", "b"]), "ambiguous-container", true),
        (ContainerCatalog.Error.containerNotRunning("web"), "container-not-running", false),
        (ContainerCatalog.Error.ownedByEngine("runc:x", engine: "podman"), "owned-by-engine", true),
        (ContainerCatalog.Error.sourceUnavailable(source: "docker", path: "/s", reason: "r"), "source-unavailable", true),
        (ContainerCatalog.Error.sourceFailed(source: "docker", path: "/s", reason: "r"), "source-failed", false),
        (ContainerCatalog.Error.engineError("docker:x", status: 500, message: "m"), "engine-error", false),
        (ContainerCatalog.Error.engineLost("docker:x", path: "/s", reason: "r"), "engine-lost", false),
        (ContainerCatalog.Error.invalidFilter("k", reason: "r"), "invalid-filter", true),
        (ContainerCatalog.Error.untrustedState("runc:x", path: "/r/x/state.json", reason: "r"), "untrusted-state", true),
        (SystemdManager.Error(unit: "x.service", name: "org.freedesktop.systemd1.NoSuchUnit", text: "m"), "systemd-error", true),
        (SystemdManager.Error(unit: "x.service", name: "org.freedesktop.systemd1.UnitBusy", text: "m"), "systemd-error", false),
        (AuditTrail.Error.sinkFailed(sink: "journal", reason: "r"), "audit-failed", false),
        (AuditTrail.Error.unavailable("r"), "audit-unavailable", false),
        (CRIU.Error.unavailable(path: "criu", reason: "r"), "criu-unavailable", false),
        (CRIU.Error.checkFailed(path: "criu", output: "o", explanation: nil), "criu-check-failed", false),
        (CRIU.Error.failed(operation: "dump", log: "/l", errors: ["e"]), "criu-failed", false),
        (CRIU.Error.abandoned(operation: "dump", after: .seconds(1), reason: "r", log: "/l"), "criu-abandoned", false),
        (CRIU.Error.strayProcesses(cgroup: "/c", strays: ["1 sh"]), "stray-processes", false),
        (UnexpectedError(Foreign()), "internal-error", false),
        (CRIU.Error.unsafeImages(path: "/img", reason: "r"), "unsafe-file", false),
        (CRIU.Error.imagesNotUsable(path: "/img", operation: "mkdir", errno: .readOnlyFileSystem), "io", false),
        (CRIU.Error.invalidOption("--paused", reason: "r"), "invalid-option", true),
        (ContainerCatalog.Error.stateUnreadable(path: "/run/runc/x/state.json", errno: .ioError, reason: "r"), "io", false),
    ]

    /// An error of a type freezectl does not know (a dependency's).
    struct Foreign: Error, CustomStringConvertible {
        var text = "a dependency's error"
        var description: String { text }
    }

    /// A value whose encoding fails, as an encoder's error would.
    struct Unencodable: Encodable {
        var error = Foreign()
        func encode(to encoder: any Encoder) throws { throw error }
    }

    @Test("an engine that owns a container but is no source of freezectl's (CRI-O) gets no target form suggested, only --direct")
    func ownersWithoutASourceAreNotSuggestedAsTargets() {
        let crio = ContainerCatalog.Error.ownedByEngine("runc:web", engine: "cri-o")
        #expect(!crio.nextStep.contains("cri-o:") && crio.nextStep.contains("--direct"), "\(crio.nextStep)")
        let podman = ContainerCatalog.Error.ownedByEngine("runc:web", engine: "podman")
        #expect(podman.nextStep.contains("podman:ID"), "\(podman.nextStep)")
    }

    @Test("an error of no freezectl type is reported as itself: never as a cancellation or an engine's answer")
    func foreignErrorsAreReportedAsThemselves() {
        let reported = UnexpectedError.reported(Foreign())
        #expect(reported.code == "internal-error" && reported.message.contains("a dependency's error"), "\(reported.message)")
        #expect(!(reported is CgroupFreezer.Error) && !(reported is ContainerCatalog.Error))
        #expect(UnexpectedError.reported(CancellationError()).code == "cancelled")
        #expect(UnexpectedError.reported(CgroupFreezer.Error.removed(path: "/x")).code == "cgroup-removed")
    }

    @Test("a report that cannot be encoded is an error, never an empty body; a line of it says the error as JSON")
    func unencodableReports() throws {
        #expect(throws: UnexpectedError.self) { try JSONLine.encode(Unencodable()) }
        let line = JSONLine.string(Unencodable(error: Foreign(text: "quote \" backslash \\ newline \n bell \u{7} done")))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String], "\(line)")
        #expect(object["error"] == "internal-error", "\(line)")
        #expect(object["message"]?.hasSuffix("quote \" backslash \\ newline \n bell \u{7} done") == true, "\(line)")
        // Numbers that JSON has no form for are written as strings, not failed on.
        #expect(JSONLine.string(["x": Double.nan]) == #"{"x":"nan"}"#)
    }

    @Test func everyCaseHasItsDocumentedCode() {
        for (error, code, badInput) in Self.cases {
            #expect(error.code == code, "\(error.message)")
            #expect(error.isBadInput == badInput, "\(error.code): \(error.message)")
            #expect(!error.message.isEmpty && error.description == error.message)
        }
    }

    @Test func errorsCarryTheirPathAndErrno() {
        let denied = CgroupLayout.Error.permissionDenied(path: "/sys/fs/cgroup/x/cgroup.freeze", errno: .notPermitted)
        #expect(denied.path == "/sys/fs/cgroup/x/cgroup.freeze")
        #expect(denied.errno == .notPermitted)
        #expect(denied.message.contains("/sys/fs/cgroup/x/cgroup.freeze"))
        #expect(CgroupFreezer.Error.busy(path: "/c", deadline: .seconds(1)).path == "/c")
        #expect(CRIU.Error.failed(operation: "dump", log: "/img/dump.log", errors: []).path == "/img/dump.log")
        #expect(CgroupLayout.Error.noSuchProcess(pid: 42).message.contains("pid:42"))
        let systemd = SystemdManager.Error(unit: "web.service", name: "org.freedesktop.DBus.Error.NotSupported", text: "Unit does not support freezing")
        #expect(systemd.isNotSupported && !systemd.isTimeout && systemd.message.contains("unit:web.service"))
    }
}
