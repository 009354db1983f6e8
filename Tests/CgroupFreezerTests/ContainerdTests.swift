import CgroupFreezer
import Foundation
import Testing

@Suite("containerd tasks through its gRPC API (a private containerd)", .serialized, .hostUnchanged)
struct ContainerdTests {
    @Test("pause and unpause a pod by its Kubernetes labels: ctr says PAUSED then RUNNING, the processes are frozen then run; the sandbox and other pods are left alone")
    func pauseAndUnpauseByPodLabel() throws {
        let daemon = try ContainerdDaemon()
        defer { daemon.stop() }
        let pod = ["io.kubernetes.pod.name": "web-0", "io.kubernetes.pod.namespace": "batch"]
        try daemon.run("web-0-sandbox", labels: pod.merging(["io.cri-containerd.kind": "sandbox"]) { $1 })
        try daemon.run("web-0-app", labels: pod.merging(["io.kubernetes.container.name": "app", "io.cri-containerd.kind": "container"]) { $1 })
        try daemon.run("web-0-sidecar", labels: pod.merging(["io.kubernetes.container.name": "sidecar"]) { $1 })
        try daemon.run("db-0-app", labels: ["io.kubernetes.pod.name": "db-0", "io.kubernetes.pod.namespace": "prod"])
        let env = daemon.environment

        let pause = try freezectl("pause", "--filter", "label=io.kubernetes.pod.name=web-0", "--format", "json", environment: env)
        #expect(pause.status == 0, "\(pause.stderr)")
        #expect(Set(pause.jsonLines.compactMap { $0["target"] as? String }) == ["containerd:k8s.io/web-0-app", "containerd:k8s.io/web-0-sidecar"])
        #expect(pause.jsonLines.allSatisfy { $0["backend"] as? String == "containerd" && $0["state"] as? String == "frozen" })
        let paused = try daemon.tasks()
        #expect(paused == ["web-0-sandbox": "RUNNING", "web-0-app": "PAUSED", "web-0-sidecar": "PAUSED", "db-0-app": "RUNNING"])
        for pid in try daemon.pids("web-0-app") { #expect(procShowsFrozen(pid, .v1) == true, "\(procDescription(pid))") }
        for pid in try daemon.pids("db-0-app") { #expect(procShowsFrozen(pid, .v1) == false, "\(procDescription(pid))") }

        let status = try freezectl("status", "--filter", "label=io.kubernetes.pod.namespace=batch", "--format", "json", environment: env)
        #expect(status.jsonLines.count == 2)
        #expect(status.jsonLines.allSatisfy { $0["engine_state"] as? String == "paused" && $0["drift"] as? Bool == false })

        let unpause = try freezectl("unpause", "--all", "--filter", "label=io.kubernetes.pod.namespace=batch", "--format", "json", environment: env)
        #expect(unpause.status == 0, "\(unpause.stderr)")
        #expect(unpause.jsonLines.count == 2)
        #expect(try daemon.tasks().values.allSatisfy { $0 == "RUNNING" })
        for pid in try daemon.pids("web-0-app") { #expect(procShowsFrozen(pid, .v1) == false) }

        // The sandbox is acted on when named.
        let sandbox = try freezectl("pause", "containerd:k8s.io/web-0-sandbox", environment: env)
        #expect(sandbox.status == 0, "\(sandbox.stderr)")
        #expect(try daemon.tasks()["web-0-sandbox"] == "PAUSED")
        #expect(try freezectl("unpause", "containerd:web-0-sandbox", environment: env).status == 0)
        #expect(try daemon.tasks()["web-0-sandbox"] == "RUNNING")
    }

    @Test("--direct freezes the cgroup behind containerd's back: status shows the drift, an unpause through containerd is refused, --direct undoes it")
    func directWriteShowsDrift() throws {
        let daemon = try ContainerdDaemon()
        defer { daemon.stop() }
        try daemon.run("drift")
        let env = daemon.environment
        let direct = try freezectl("pause", "--direct", "containerd:drift", environment: env)
        #expect(direct.status == 0, "\(direct.stderr)")
        #expect(direct.stderr.contains("containerd's view is now stale"))
        #expect(try daemon.tasks()["drift"] == "RUNNING")
        let status = try #require(try freezectl("status", "containerd:drift", "--format", "json", environment: env).jsonLines.first)
        #expect(status["state"] as? String == "frozen")
        #expect(status["engine_state"] as? String == "running")
        #expect(status["drift"] as? Bool == true)
        let table = try freezectl("status", "containerd:drift", environment: env)
        #expect(table.stdout.contains("running (drift)"))
        let refused = try freezectl("unpause", "containerd:drift", environment: env)
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("behind containerd's back"), "\(refused.stderr)")
        #expect(try freezectl("unpause", "--direct", "containerd:drift", environment: env).status == 0)
        for pid in try daemon.pids("drift") { #expect(procShowsFrozen(pid, .v1) == false) }
    }

    @Test("--namespace narrows: a second namespace is left alone; without it every namespace is searched")
    func namespaceNarrows() throws {
        let daemon = try ContainerdDaemon()
        defer { daemon.stop() }
        try daemon.run("k8s-job", labels: ["tier": "batch"])
        try daemon.run("other-job", namespace: "other", labels: ["tier": "batch"])
        let env = daemon.environment

        let narrowed = try freezectl("pause", "--filter", "label=tier=batch", "--namespace", "k8s.io", "--format", "json", environment: env)
        #expect(narrowed.status == 0, "\(narrowed.stderr)")
        #expect(narrowed.jsonLines.compactMap { $0["target"] as? String } == ["containerd:k8s.io/k8s-job"])
        #expect(try daemon.tasks(namespace: "other")["other-job"] == "RUNNING")
        #expect(try daemon.tasks()["k8s-job"] == "PAUSED")

        let everywhere = try freezectl("unpause", "--filter", "label=tier=batch", "--format", "json", environment: env)
        #expect(everywhere.status == 0)
        #expect(Set(everywhere.jsonLines.compactMap { $0["result"] as? String }) == ["ok", "already"])
        #expect(try daemon.tasks()["k8s-job"] == "RUNNING")

        let bad = try freezectl("status", "--all", "--namespace", "a/b", environment: env)
        #expect(bad.status == 2)
        #expect(bad.stderr.contains("--namespace a/b"))
        // A name in the wrong namespace is not found there.
        let wrong = try freezectl("pause", "containerd:other/k8s-job", environment: env)
        #expect(wrong.status == 2)
        #expect(wrong.stderr.contains("no such container"))
    }

    @Test("an unreachable containerd socket is a clear error naming it; absent, --all skips it")
    func unreachableSocket() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let env = ["CONTAINERD_ADDRESS": scratch.path + "/missing.sock"]
        let named = try freezectl("pause", "containerd:web", environment: env)
        #expect(named.status == 2)
        #expect(named.stderr.contains("containerd is not available at \(scratch.path)/missing.sock"))
        #expect(named.stderr.contains("CONTAINERD_ADDRESS"))
        // A socket file nobody listens on: --all reports the failure rather than skipping it.
        let listener = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let path = scratch.path + "/dead.sock"
        withUnsafeMutableBytes(of: &address.sun_path) { raw in for (i, b) in path.utf8.enumerated() { raw[i] = b } }
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
        close(listener)
        let all = try freezectl("status", "--all", "--format", "json", environment: ["CONTAINERD_ADDRESS": path])
        #expect(all.status == 1, "\(all.stdout) \(all.stderr)")
        #expect(all.stdout.contains("source-failed") || all.stderr.contains("containerd"), "\(all.stdout) \(all.stderr)")
    }
}
