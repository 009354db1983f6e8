import CgroupFreezer
import ContainerRuntimes
@testable import FreezectlDaemon
import Testing

@Suite("The daemon's configuration file: idle rules and label opt-in")
struct IdleConfigurationTests {
    static let preview = """
        # Preview apps: frozen after ten quiet minutes, their memory to swap.
        [[idle]]
        filters = ["label=preview=true"]
        sources = ["docker"]
        after = "10m"
        cpu-below = "2%"
        reclaim = true

        [[idle]]
        units = ["devbox.service"]
        after = "30m"
        wake = "api"

        [labels]
        filters = ["label=team=web"]
        cpu-below = "0.5%"
        """

    func subject(labels: [String: String], source: ContainerSource = .docker, unit: String? = nil) -> Policy.Subject {
        let container = unit == nil ? Container(source: source, id: "0123456789abcdef", name: "web", labels: labels, pid: nil,
                                                engineState: .running, owner: nil, cgroup: nil) : nil
        return Policy.Subject(container: container, cgroupPath: "/system.slice/x", unit: unit,
                              matches: { $1.matches($0, paused: false, memoryPercent: nil) })
    }

    @Test("rules first, in file order; then the labels of a container [labels] lets opt in; nothing for the rest")
    func plans() throws {
        let configuration = try IdleConfiguration(parsing: Self.preview, file: "freezectld.toml")
        let rule = try configuration.plan(for: subject(labels: ["preview": "true", "io.freezectl.idle-after": "1h"]))
        #expect(rule == .init(after: .seconds(600), cpuBelow: 2, wake: .traffic, reclaim: true, origin: "idle rule 1"))
        #expect(try configuration.plan(for: subject(labels: [:], unit: "devbox.service"))
                == .init(after: .seconds(1800), cpuBelow: 1, wake: .api, reclaim: false, origin: "idle rule 2"))
        let labelled = try configuration.plan(for: subject(labels: ["team": "web", "io.freezectl.idle-after": "15m", "io.freezectl.wake": "api",
                                                                   "io.freezectl.reclaim": "true"]))
        #expect(labelled == .init(after: .seconds(900), cpuBelow: 0.5, wake: .api, reclaim: true, origin: "labels"))
        // [labels] narrows who may opt in.
        #expect(try configuration.plan(for: subject(labels: ["team": "db", "io.freezectl.idle-after": "15m"])) == nil)
        #expect(try configuration.plan(for: subject(labels: ["preview": "false"])) == nil)
        // No file: every container may opt in by its labels.
        #expect(try IdleConfiguration.labelsOnly.plan(for: subject(labels: ["io.freezectl.idle-after": "5s"]))?.after == .seconds(5))
        let off = try IdleConfiguration(parsing: "[labels]\nenabled = false\n", file: "f.toml")
        #expect(try off.plan(for: subject(labels: ["io.freezectl.idle-after": "5s"])) == nil)
    }

    @Test("a label that does not hold is refused naming the label and the valid forms", arguments: [
        (["io.freezectl.idle-after": "1s"], "shorter than 5s"),
        (["io.freezectl.idle-after": "soon"], "is not a duration"),
        (["io.freezectl.idle-after": "2d"], "io.freezectl.idle-after"),
        (["io.freezectl.idle-after": "10m", "io.freezectl.wake": "packet"], "io.freezectl.wake \"packet\" is neither traffic nor api"),
        (["io.freezectl.idle-after": "10m", "io.freezectl.reclaim": "yes"], "io.freezectl.reclaim \"yes\" is neither true nor false"),
    ])
    func badLabels(_ labels: [String: String], _ expected: String) {
        do {
            _ = try IdleConfiguration.labelsOnly.plan(for: subject(labels: labels))
            Issue.record("accepted \(labels)")
        } catch {
            #expect(error.message.contains(expected), "\(error.message)")
        }
    }

    @Test("a configuration that does not hold is an invalid-configuration error naming the file, the rule or line, and what is wrong", arguments: [
        ("[[idle]]\nfilters = [\"label=a=b\"]", "idle rule 1 gives no after"),
        ("[[idle]]\nafter = \"4s\"", "idle rule 1: after \"4s\" is shorter than 5s"),
        ("[[idle]]\nafter = \"10m\"\nwake = \"sometimes\"", "wake \"sometimes\" is neither"),
        ("[[idle]]\nafter = \"10m\"\ncpu-below = \"2\"", "cpu-below \"2\" is not a percentage"),
        ("[[idle]]\nafter = \"10m\"\ncpu-below = \"0%\"", "cpu-below \"0%\""),
        ("[[idle]]\nafter = \"10m\"\nsources = [\"rkt\"]", "unknown source"),
        ("[[idle]]\nafter = \"10m\"\nidle-after = \"5m\"", "unknown key idle-after in idle"),
        ("[labels]\nunits = [\"a.service\"]", "unknown key units in labels"),
        ("[[rule]]\nusers = [\"*\"]", "line 1: table header [[rule]]"),
        ("[[idle]\nafter = 1", "line 1"),
    ])
    func malformed(_ text: String, _ expected: String) {
        expectRefused(text, code: "invalid-configuration", prefix: "configuration freezectld.toml: ", expected) { () throws(DaemonFile.Error) in
            _ = try IdleConfiguration(parsing: text, file: "freezectld.toml")
        }
    }
}

/// A daemon file's text refused with `code`, a message starting with `prefix` (the kind and the
/// file) and saying `expected`.
func expectRefused(_ text: String, code: String, prefix: String, _ expected: String, _ parse: () throws(DaemonFile.Error) -> Void) {
    do throws(DaemonFile.Error) {
        try parse()
        Issue.record("accepted: \(text)")
    } catch {
        #expect(error.code == code)
        #expect(error.message.hasPrefix(prefix) && error.message.contains(expected), "\(error.message)")
    }
}
