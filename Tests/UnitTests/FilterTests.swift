import CgroupFreezer
import ContainerEngines
import ContainerRuntimes
import Testing

@Suite("Container filters")
struct FilterTests {
    let web = Container(source: .docker, id: "3f2a9c", name: "web", labels: ["auto_resume": "true", "tier": "front"], pid: 10,
                        engineState: .running, owner: nil, cgroup: nil)

    @Test func labelsMustAllMatchOtherKeysAnyOf() throws {
        #expect(try ContainerFilter(parsing: ["label=auto_resume=true", "label=tier"]).matches(web, paused: false, memoryPercent: nil))
        #expect(try !ContainerFilter(parsing: ["label=auto_resume=true", "label=tier=back"]).matches(web, paused: false, memoryPercent: nil))
        #expect(try ContainerFilter(parsing: ["name=db", "name=web"]).matches(web, paused: false, memoryPercent: nil))
        #expect(try ContainerFilter(parsing: ["id=3f2", "runtime=docker"]).matches(web, paused: false, memoryPercent: nil))
        #expect(try !ContainerFilter(parsing: ["runtime=runc"]).matches(web, paused: false, memoryPercent: nil))
    }

    @Test func stateAndMemoryAreReadOnlyWhenAsked() throws {
        let plain = try ContainerFilter(parsing: ["label=tier"])
        #expect(!plain.needsState && !plain.needsMemory)
        let memory = try ContainerFilter(parsing: ["memory-below=80%"])
        #expect(memory.needsMemory && !memory.needsState)
        #expect(memory.matches(web, paused: false, memoryPercent: 79.9))
        #expect(!memory.matches(web, paused: false, memoryPercent: 80))
        #expect(!memory.matches(web, paused: false, memoryPercent: nil), "unknown usage never matches")
        let paused = try ContainerFilter(parsing: ["status=paused"])
        #expect(paused.needsState && paused.matches(web, paused: true, memoryPercent: nil))
    }

    @Test(arguments: ["label", "label=", "label==x", "status=stopped", "runtime=rkt", "memory-below=101", "memory-above=-1", "memory-below=x%", "colour=red"])
    func malformedFiltersNameTheInput(_ text: String) {
        do {
            _ = try ContainerFilter(parsing: [text])
            Issue.record("\"\(text)\" was accepted")
        } catch {
            #expect(error.code == "invalid-filter" && error.isBadInput)
            #expect(error.message.contains(text))
        }
    }
}
