import CgroupFreezer
import SystemPackage
import Testing

@Suite("Error codes: stable strings for JSON, bad input told apart")
struct ErrorCodeTests {
    // docs/json-output.md "Error codes": a script depends on each of these strings.
    static let cases: [(FreezerError, code: String, badInput: Bool)] = [
        (.invalidTarget("x", reason: "r"), "invalid-target", true),
        (.notFound(path: "/x"), "not-found", true),
        (.notOnCgroupfs(path: "/etc"), "not-cgroupfs", true),
        (.noFreezer(path: "/sys/fs/cgroup/unified", reason: "root"), "no-freezer", true),
        (.noSuchCgroup("cgroup:/x", checked: ["/a"]), "not-found", true),
        (.noSuchProcess(pid: 9), "no-such-process", true),
        (.processInRootCgroup(pid: 1), "root-cgroup", true),
        (.noCgroupMount, "no-cgroup-mount", false),
        (.noSuchContainer("web", searched: []), "no-such-container", true),
        (.ambiguousContainer("w", matches: ["a", "b"]), "ambiguous-container", true),
        (.containerNotRunning("web"), "container-not-running", false),
        (.ownedByEngine("runc:x", engine: "podman"), "owned-by-engine", true),
        (.sourceUnavailable(source: "docker", path: "/s", reason: "r"), "source-unavailable", true),
        (.engineError("docker:x", status: 500, message: "m"), "engine-error", false),
        (.invalidFilter("k", reason: "r"), "invalid-filter", true),
        (.cancelled, "cancelled", false),
        (.interrupted("r"), "interrupted", false),
        (.sourceFailed(source: "docker", path: "/s", reason: "r"), "source-failed", false),
        (.systemdError(unit: "x.service", name: "org.freedesktop.systemd1.NoSuchUnit", message: "m"), "systemd-error", true),
        (.systemdError(unit: "x.service", name: "org.freedesktop.systemd1.UnitBusy", message: "m"), "systemd-error", false),
        (.auditSinkFailed(sink: "journal", reason: "r"), "audit-failed", false),
        (.auditUnavailable("r"), "audit-unavailable", false),
        (.selfFreeze(path: "/x"), "self-freeze", false),
        (.permissionDenied(path: "/x", errno: .permissionDenied), "permission-denied", false),
        (.timeout(path: "/x", deadline: .seconds(1), notFrozen: 1, processes: 2), "timeout", false),
        (.thawTimeout(path: "/x", deadline: .seconds(1)), "timeout", false),
        (.frozenByParent(path: "/x/y", ancestor: "/x"), "frozen-by-parent", false),
        (.busy(path: "/x", deadline: .seconds(1)), "busy", false),
        (.leftFrozen(path: "/x", state: "frozen", cause: "c"), "left-frozen", false),
        (.unsafeFile(path: "/x", reason: "r"), "unsafe-file", false),
        (.criuUnavailable(path: "criu", reason: "r"), "criu-unavailable", false),
        (.criuAbandoned(operation: "dump", after: .seconds(1), reason: "r", log: "/l"), "criu-abandoned", false),
        (.io(path: "/x", operation: "read", errno: .ioError), "io", false),
    ]

    @Test func everyCaseHasItsDocumentedCode() {
        for (error, code, badInput) in Self.cases {
            #expect(error.code == code, "\(error.message)")
            #expect(error.isBadInput == badInput, "\(error.code): \(error.message)")
            #expect(!error.message.isEmpty)
        }
    }

    @Test func errorsCarryTheirPathAndErrno() {
        let denied = FreezerError.permissionDenied(path: "/sys/fs/cgroup/x/cgroup.freeze", errno: .notPermitted)
        #expect(denied.path == "/sys/fs/cgroup/x/cgroup.freeze")
        #expect(denied.errno == .notPermitted)
        #expect(denied.message.contains("/sys/fs/cgroup/x/cgroup.freeze"))
        #expect(FreezerError.noSuchProcess(pid: 42).message.contains("pid:42"))
    }
}
