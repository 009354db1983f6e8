import CgroupFreezer
import ContainerEngines
import ContainerRuntimes
@testable import FreezectlDaemon
import Testing

@Suite("The daemon's policy file")
struct PolicyTests {
    static let mission = """
        [[rule]]
        groups = ["unpausers"]
        actions = ["unpause", "status"]
        filters = ["label=auto_resume=true"]
        """

    func caller(uid: UInt32, user: String?, groups: [(UInt32, String?)]) -> Caller {
        Caller(credentials: PeerCredentials(pid: 4242, uid: uid, gid: groups.first?.0 ?? uid), userName: user,
               groups: groups.map { (gid: $0.0, name: $0.1) })
    }

    func container(labels: [String: String], source: ContainerSource = .docker) -> Policy.Subject {
        let container = Container(source: source, id: "0123456789abcdef", name: "web", labels: labels, pid: nil,
                                  engineState: .paused, owner: nil, cgroup: nil)
        return Policy.Subject(container: container, cgroupPath: nil, unit: nil,
                              matches: { $1.matches($0, paused: true, memoryPercent: nil) })
    }

    @Test("the mission's example: group unpausers may unpause containers labelled auto_resume=true, and nothing else")
    func missionExample() throws {
        let policy = try Policy(parsing: Self.mission, file: "policy.toml")
        let member = caller(uid: 1001, user: "carol", groups: [(1001, "carol"), (2000, "unpausers")])
        let outsider = caller(uid: 1002, user: "dave", groups: [(1002, "dave")])
        let labelled = container(labels: ["auto_resume": "true"])
        let other = container(labels: ["auto_resume": "false"])

        #expect(policy.decide(member, .unpause, labelled) == .rule(1))
        #expect(policy.decide(member, .status, labelled) == .rule(1))
        #expect(policy.decide(member, .pause, labelled) == .refused)
        #expect(policy.decide(member, .unpause, other) == .refused)
        #expect(policy.decide(outsider, .unpause, labelled) == .refused)
        #expect(policy.mayEver(member, .unpause) && !policy.mayEver(member, .pause) && !policy.mayEver(outsider, .status))
        // A unit or a plain cgroup is no container: a filter rule never covers it.
        #expect(policy.decide(member, .unpause, Policy.Subject(container: nil, cgroupPath: nil, unit: "web.service", matches: { _, _ in true })) == .refused)
    }

    @Test("a table header with a character outside ASCII is an error naming the file and line, not an abort in the TOML parser")
    func nonASCIITableHeader() throws {
        for text in ["[é]\n", "[[rule]]\nusers = [\"*\"]\nactions = [\"status\"]\n\n  [[é]]  # comment\n"] {
            #expect(throws: Policy.Error.self) { try Policy(parsing: text, file: "odd.toml") }
            do {
                _ = try Policy(parsing: text, file: "odd.toml")
            } catch {
                #expect("\(error)".contains("odd.toml") && "\(error)".contains("line"), "\(error)")
            }
        }
        // CRLF line ends are TOML; a carriage return alone is a control character.
        #expect(try Policy(parsing: "[[rule]]\r\nusers = [\"*\"]\r\nactions = [\"status\"]\r\n", file: "crlf.toml").rules.count == 1)
        #expect(throws: Policy.Error.self) { try Policy(parsing: "[\r\r[rule]]\n", file: "cr.toml") }
        // Outside a header, non-ASCII is the TOML parser's to judge: a user name in a string is fine.
        #expect(try Policy(parsing: "[[rule]]\nusers = [\"é\"]\nactions = [\"status\"]\n", file: "ok.toml").rules.count == 1)
    }

    @Test("root needs no rule; an empty policy refuses everyone else")
    func rootAndDenyByDefault() throws {
        let root = caller(uid: 0, user: "root", groups: [(0, "root")])
        let user = caller(uid: 1000, user: "alice", groups: [(1000, "alice")])
        #expect(Policy.rootOnly.decide(root, .pause, container(labels: [:])) == .root)
        #expect(Policy.rootOnly.decide(user, .status, container(labels: [:])) == .refused)
        #expect(try Policy(parsing: "", file: "empty.toml").rules.isEmpty)
    }

    @Test("users by name or uid, \"*\" for everyone; sources and units narrow; the first matching rule is named")
    func usersSourcesUnits() throws {
        let policy = try Policy(parsing: """
            [[rule]]
            users = ["alice"]
            actions = ["pause", "unpause"]
            sources = ["runc"]

            [[rule]]
            users = ["1005"]
            actions = ["lease"]

            [[rule]]
            users = ["*"]
            actions = ["status"]
            units = ["web.service"]
            """, file: "policy.toml")
        let alice = caller(uid: 1000, user: "alice", groups: [(1000, "alice")])
        let numeric = caller(uid: 1005, user: nil, groups: [(1005, nil)])
        #expect(policy.decide(alice, .pause, container(labels: [:], source: .runc)) == .rule(1))
        #expect(policy.decide(alice, .pause, container(labels: [:], source: .docker)) == .refused)
        #expect(policy.decide(numeric, .lease, container(labels: [:])) == .rule(2))
        let unit = Policy.Subject(container: nil, cgroupPath: nil, unit: "web.service", matches: { _, _ in false })
        #expect(policy.decide(numeric, .status, unit) == .rule(3))
        #expect(policy.decide(numeric, .status, Policy.Subject(container: nil, cgroupPath: nil, unit: "db.service", matches: { _, _ in false })) == .refused)
    }

    @Test("a malformed policy is an invalid-policy error naming the file and what is wrong", arguments: [
        ("[[rule]]\nactions = [\"pause\"]", "names no one"),
        ("[[rule]]\nusers = [\"a\"]\nactions = [\"freeze\"]", "unknown action \"freeze\""),
        ("[[rule]]\nuser = [\"a\"]\nactions = [\"pause\"]", "unknown key user"),
        ("[[rule]]\nusers = [\"a\"]\nactions = [\"pause\"]\nfilters = [\"colour=red\"]", "colour"),
        ("[[rule]]\nusers = [\"a\"]\nactions = [\"pause\"]\ncgroups = [\"batch\"]", "absolute"),
        ("[[rule]]\nusers = [\"a\"]\nactions = [\"pause\"]\ncgroups = [\"/a/../b\"]", "absolute"),
        ("[[rule]]\nusers = [\"a\"]\nactions = [\"pause\"]\nsources = [\"rkt\"]", "unknown source"),
        ("[[rule]\nusers = 1", "line 1"),
        ("[[rule]]\nusers = \"a\"\nactions = [\"pause\"]", "policy.toml"),
    ])
    func malformed(_ text: String, _ expected: String) {
        expectRefused(text, code: "invalid-policy", prefix: "policy policy.toml: ", expected) { () throws(DaemonFile.Error) in
            _ = try Policy(parsing: text, file: "policy.toml")
        }
    }
}

extension PolicyTests {
    @Test("cgroups match whole components of the cgroup path, in any hierarchy")
    func cgroupPrefixes() throws {
        let policy = try Policy(parsing: "[[rule]]\nusers = [\"alice\"]\nactions = [\"pause\"]\ncgroups = [\"/batch/\"]\n", file: "p.toml")
        let alice = caller(uid: 1000, user: "alice", groups: [(1000, "alice")])
        func subject(_ path: String?) -> Policy.Subject { Policy.Subject(container: nil, cgroupPath: path, unit: nil, matches: { _, _ in false }) }
        #expect(policy.decide(alice, .pause, subject("/batch")) == .rule(1))
        #expect(policy.decide(alice, .pause, subject("/batch/job/inner")) == .rule(1))
        #expect(policy.decide(alice, .pause, subject("/batchy")) == .refused)
        #expect(policy.decide(alice, .pause, subject("/")) == .refused)
        #expect(policy.decide(alice, .pause, subject(nil)) == .refused)
    }
}
