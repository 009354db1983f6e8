import CgroupFreezer
import Foundation
import Testing

@Suite("Other layouts and users on the real kernel", .serialized, .hostUnchanged)
struct LayoutIntegrationTests {
    @Test("pure v2: the CLI in a private mount and cgroup namespace with cgroup2 on /sys/fs/cgroup")
    func pureV2Layout() throws {
        let namespaceRoot = try TestCgroup(.v2)
        defer { namespaceRoot.destroy() }
        let work = try namespaceRoot.child("work")
        // Inside the namespace, /sys/fs/cgroup is the cgroup2 mount and namespaceRoot is its root:
        // the layout must be discovered from mountinfo, not assumed.
        let script = """
        echo $$ > \(namespaceRoot.file("cgroup.procs")) || exit 90
        exec unshare --mount --propagation private --cgroup /bin/sh -c '
          umount -R /sys/fs/cgroup && mount -t cgroup2 none /sys/fs/cgroup || exit 91
          /bin/sh -c "echo \\$\\$ > /sys/fs/cgroup/work/cgroup.procs && exec sleep 1000" &
          while ! grep -q . /sys/fs/cgroup/work/cgroup.procs; do sleep 0.01; done
          \(freezectlBinary) pause cgroup:/work --format json
          \(freezectlBinary) status --format json
          grep frozen /sys/fs/cgroup/work/cgroup.events
          \(freezectlBinary) unpause /sys/fs/cgroup/work --format json
          kill $!
        '
        """
        let result = try run("/bin/sh", ["-c", script])
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.jsonLines
        try #require(lines.count == 3, "\(result.stdout)\n\(result.stderr)")
        #expect(lines[0]["result"] as? String == "ok")
        #expect(lines[0]["backend"] as? String == "v2")
        #expect(lines[0]["cgroup"] as? String == "/sys/fs/cgroup/work")
        #expect(lines[1]["cgroup"] as? String == "/sys/fs/cgroup/work", "status lists the frozen cgroup")
        #expect(lines[1]["state"] as? String == "frozen")
        #expect(result.stdout.contains("frozen 1"), "the kernel confirmed the freeze inside the namespace")
        #expect(lines[2]["result"] as? String == "ok")
        #expect(lines[2]["state"] as? String == "thawed")
        #expect(!work.kernelFrozen)
    }

    @Test("rootless: an unprivileged user freezes a subtree delegated to it, and only that", arguments: [Hierarchy.Version.v1, .v2])
    func rootlessDelegatedSubtree(_ version: Hierarchy.Version) throws {
        let nobody = (uid: 65534, gid: 65534)
        // A copy nobody can execute wherever the checkout lives (it may be under a private /root).
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        chmod(scratch.path, 0o755)
        let binary = scratch.path + "/freezectl"
        try FileManager.default.copyItem(atPath: freezectlBinary, toPath: binary)
        chmod(binary, 0o755)
        let delegated = try TestCgroup(version)
        defer { delegated.destroy() }
        let other = try TestCgroup(version)
        defer { other.destroy() }
        try delegated.start("sleep 1000")
        try other.start("sleep 1000")
        let files = version == .v1 ? ["", "/freezer.state"] : ["", "/cgroup.freeze", "/cgroup.procs"]
        for suffix in files {
            #expect(chown(delegated.path + suffix, uid_t(nobody.uid), gid_t(nobody.gid)) == 0)
        }

        let pause = try run(binary, ["pause", delegated.path, "--format", "json"], user: nobody)
        #expect(pause.status == 0, "\(pause.stderr)")
        #expect(delegated.kernelFrozen)
        let unpause = try run(binary, ["unpause", delegated.path], user: nobody)
        #expect(unpause.status == 0, "\(unpause.stderr)")
        #expect(!delegated.kernelFrozen)

        let denied = try run(binary, ["pause", other.path, "--format", "json"], user: nobody)
        #expect(denied.status == 1)
        #expect((denied.jsonLines.first?["error"] as? [String: Any])?["code"] as? String == "permission-denied")
        #expect(denied.stderr.contains("delegate the subtree"))
        #expect(!other.selfFrozen && !other.kernelFrozen)
    }
}
