import CgroupFreezer
import Testing

@Suite("Target syntax: every form, from the one table")
struct TargetSyntaxTests {
    @Test func parsesEveryForm() throws {
        #expect(try TargetSpec(parsing: "/sys/fs/cgroup/freezer/job") == .directory("/sys/fs/cgroup/freezer/job"))
        #expect(try TargetSpec(parsing: "cgroup:/batch//job/") == .cgroup("/batch/job"))
        #expect(try TargetSpec(parsing: "pid:1234") == .pid(1234))
        #expect(try TargetSpec(parsing: "unit:nginx.service") == .unit("nginx.service"))
        #expect(try TargetSpec(parsing: "unit:nginx") == .unit("nginx.service"))
        #expect(try TargetSpec(parsing: "runc:web-1") == .container(.runc, "web-1"))
        #expect(try TargetSpec(parsing: "crun:web") == .container(.crun, "web"))
        #expect(try TargetSpec(parsing: "docker:3f2a") == .container(.docker, "3f2a"))
        #expect(try TargetSpec(parsing: "podman:web1") == .container(.podman, "web1"))
        #expect(try TargetSpec(parsing: "containerd:k8s.io/3f2a") == .container(.containerd, "k8s.io/3f2a"))
        #expect(try TargetSpec(parsing: "containerd:3f2a") == .container(.containerd, "3f2a"))
        #expect(try TargetSpec(parsing: "web_2.prod") == .container(nil, "web_2.prod"))
    }

    @Test(arguments: ["/sys/fs/cgroup/freezer/job", "cgroup:/batch/job", "pid:1234", "unit:web.service", "runc:a", "crun:b", "docker:c", "podman:e", "containerd:k8s.io/f", "d"])
    func printsWhatItParsed(_ text: String) throws {
        let spec = try TargetSpec(parsing: text)
        #expect(spec.description == text)
        #expect(try TargetSpec(parsing: spec.description) == spec)
    }

    @Test func theTableHasEveryPrefixTheParserKnows() {
        let syntax = TargetSpec.forms.map(\.syntax)
        for prefix in ["cgroup:", "pid:", "unit:", "runc:", "crun:", "docker:", "podman:", "containerd:"] {
            #expect(syntax.contains { $0.hasPrefix(prefix) }, "\(prefix) is in TargetSpec.forms")
        }
        #expect(TargetSpec.formList.contains("unit:NAME"))
    }

    @Test(arguments: ["", "pid:0", "pid:abc", "pid:-3", "pid:", "cgroup:/../../etc", "cgroup:relative", "cgroup:/", "web!", "./x",
                      "unit:", "unit:a/b", "cri-o:x", "containerd:a/b/c", "containerd:/x", "docker:-x", "runc:.hidden"])
    func rejectsMalformedTargets(_ text: String) {
        do {
            _ = try TargetSpec(parsing: text)
            Issue.record("\"\(text)\" was accepted")
        } catch {
            #expect(error.isBadInput)
            #expect(error.code == "invalid-target")
            #expect(error.message.contains("\"\(text)\""), "the message names the input: \(error.message)")
        }
    }

    @Test func anUnknownPrefixListsEveryKnownOne() {
        do {
            _ = try TargetSpec(parsing: "crio:web")
            Issue.record("accepted")
        } catch {
            for prefix in ["cgroup:", "pid:", "unit:", "runc:", "crun:", "docker:", "podman:", "containerd:"] {
                #expect(error.message.contains(prefix), "\(prefix) in: \(error.message)")
            }
        }
    }
}
