import CgroupFreezer
import Foundation
import SystemPackage
import Testing

private func fixture(_ name: String) throws -> CgroupLayout {
    let url = try #require(Bundle.module.url(forResource: "Fixtures/\(name)", withExtension: "mountinfo"))
    return try CgroupLayout(mountinfo: String(contentsOf: url, encoding: .utf8))
}

@Suite("Layout discovery from mountinfo")
struct LayoutTests {
    @Test func hybridHostHasV1FreezerAndUnifiedV2() throws {
        let layout = try fixture("hybrid")
        #expect(layout.mode == .hybrid)
        #expect(layout.freezer?.mountPoint == "/sys/fs/cgroup/freezer")
        #expect(layout.unified?.mountPoint == "/sys/fs/cgroup/unified")
        #expect(layout.hierarchies.contains { $0.controllers == ["cpu", "cpuacct"] })
        #expect(layout.hierarchies.contains { $0.controllers == ["name=systemd"] }, "xattr is a mount flag, not a controller")
        #expect(layout.hierarchy(containing: "/sys/fs/cgroup/freezer/a/b")?.isV1Freezer == true)
        #expect(layout.hierarchy(containing: "/sys/fs/cgroup") == nil, "the tmpfs holding the mounts is not a hierarchy")
    }

    @Test func pureV2HasOnlyTheUnifiedHierarchy() throws {
        let layout = try fixture("unified")
        #expect(layout.mode == .unified)
        #expect(layout.freezer == nil)
        #expect(layout.unified?.mountPoint == "/sys/fs/cgroup")
        #expect(layout.unified?.directory(forCgroupPath: "/system.slice/web.service") == "/sys/fs/cgroup/system.slice/web.service")
    }

    @Test func pureV1HasNoUnifiedHierarchy() throws {
        let layout = try fixture("legacy")
        #expect(layout.mode == .legacy)
        #expect(layout.unified == nil)
        #expect(layout.freezer?.mountPoint == "/sys/fs/cgroup/freezer")
        #expect(layout.hierarchies.contains { $0.controllers == ["name=systemd"] }, "release_agent= is a mount option")
    }

    @Test func escapedSpacesAndTabsInMountPointsAreDecoded() throws {
        let layout = try fixture("escaped-spaces")
        #expect(layout.unified?.mountPoint == "/mnt/my cgroups")
        #expect(layout.freezer?.mountPoint == "/mnt/v1 freezer\ttab")
    }

    @Test func severalCgroup2MountsOfOneHierarchyPreferTheWholeTree() throws {
        let layout = try fixture("several-cgroup2")
        #expect(layout.hierarchies.count == 1)
        #expect(layout.unified?.mountPoint == "/sys/fs/cgroup")
        #expect(layout.unified?.mountRoot == "/")
    }

    @Test func mountsHiddenUnderALaterCgroup2MountAreIgnored() throws {
        // After `mount -t cgroup2 none /sys/fs/cgroup` over a hybrid tree without `umount -R`,
        // mountinfo still lists the v1 mounts, but they cannot be reached: the layout is pure v2.
        let layout = try fixture("v2-over-hybrid")
        #expect(layout.mode == .unified)
        #expect(layout.unified?.mountPoint == "/sys/fs/cgroup")
        #expect(layout.freezer == nil)
    }

    @Test func onlyPlainNamesBelowAMountPointTakeTheShortWay() {
        // CgroupDirectory(validating:) skips realpath only for these; a `.`, `..` or empty
        // component, or a path beside the mount point, goes the long way.
        let freezer: FilePath = "/sys/fs/cgroup/freezer"
        #expect(CgroupDirectory.plainComponents(of: "/sys/fs/cgroup/freezer", below: freezer) == "")
        #expect(CgroupDirectory.plainComponents(of: "/sys/fs/cgroup/freezer/docker/0a1b", below: freezer) == "docker/0a1b")
        #expect(CgroupDirectory.plainComponents(of: "/sys/fs/cgroup/freezer/a/../b", below: freezer) == nil)
        #expect(CgroupDirectory.plainComponents(of: "/sys/fs/cgroup/freezer/./a", below: freezer) == nil)
        #expect(CgroupDirectory.plainComponents(of: "/sys/fs/cgroup/freezer/..", below: freezer) == nil)
        #expect(CgroupDirectory.plainComponents(of: "/sys/fs/cgroup/freezerx/a", below: freezer) == nil)
        #expect(CgroupDirectory.plainComponents(of: "/sys/fs/cgroup", below: freezer) == nil)
        #expect(CgroupDirectory.plainComponents(of: "/a/b", below: "/") == "a/b")
        #expect(CgroupDirectory.plainComponents(of: "/", below: "/") == "")
        #expect(CgroupDirectory.plainComponents(of: "/a/../b", below: "/") == nil)
    }

    @Test func onlyALaterLineThatParsesHidesAMount() throws {
        // The layout reads only where non-cgroup lines are mounted, yet a line counts as a mount
        // only when it parses whole (as MountinfoEntry.parse says): a torn line over
        // /sys/fs/cgroup/unified hides nothing, an overlay mounted over the freezer hides it.
        let text = """
            30 25 0:26 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
            31 30 0:27 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate
            40 30 0:35 / /sys/fs/cgroup/freezer rw,nosuid,nodev,noexec,relatime shared:19 - cgroup cgroup rw,freezer
            41 30 0:36 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:20 - cgroup cgroup rw,memory
            x 30 0:50 / /sys/fs/cgroup/unified rw - tmpfs tmpfs rw
            51 30 0:51 / /sys/fs/cgroup/unified rw shared:30 - tmpfs tmpfs
            52 40 0:52 / /sys/fs/cgroup/freezer rw,relatime - overlay overlay rw,lowerdir=/a:/b,upperdir=/c,workdir=/d
            """
        #expect(MountinfoEntry.parse(text).map(\.mountID) == [30, 31, 40, 41, 52])
        let layout = try CgroupLayout(mountinfo: text)
        #expect(layout.unified?.mountPoint == "/sys/fs/cgroup/unified")
        #expect(layout.freezer == nil)
        #expect(layout.hierarchies.map(\.mountPoint) == ["/sys/fs/cgroup/unified", "/sys/fs/cgroup/memory"])
    }

    @Test func aMountOfASubtreeMapsCgroupPathsBelowItsRoot() throws {
        let layout = try fixture("container")
        let unified = try #require(layout.unified)
        #expect(unified.mountRoot == "/docker/0123abcd")
        #expect(unified.directory(forCgroupPath: "/docker/0123abcd/app") == "/sys/fs/cgroup/app")
        #expect(unified.directory(forCgroupPath: "/docker/other") == nil, "a cgroup outside the mounted subtree has no directory")
        #expect(unified.cgroupPath(forDirectory: "/sys/fs/cgroup/app") == "/docker/0123abcd/app")
    }

    @Test func noCgroupMountIsAnError() {
        #expect(throws: CgroupLayout.Error.noCgroupMount) {
            try CgroupLayout(mountinfo: "23 1 0:22 / /sys rw - sysfs sysfs rw\n")
        }
    }

    @Test func processPathsAreResolvedPerHierarchy() throws {
        // On a hybrid host one process can be at the root of the freezer hierarchy and deep in the
        // memory hierarchy: each hierarchy's line of /proc/PID/cgroup is used for that hierarchy only.
        let layout = try fixture("hybrid")
        let cgroups = ProcessCgroups(pid: 42, text: """
        9:name=systemd:/
        6:freezer:/
        4:memory:/process_api/c544
        3:cpu,cpuacct:/batch
        0::/user.slice/job
        """)
        let memory = try #require(layout.hierarchies.first { $0.controllers == ["memory"] })
        let cpu = try #require(layout.hierarchies.first { $0.controllers == ["cpu", "cpuacct"] })
        #expect(cgroups.directory(in: memory, layout: layout) == "/sys/fs/cgroup/memory/process_api/c544")
        #expect(cgroups.directory(in: cpu, layout: layout) == "/sys/fs/cgroup/cpu,cpuacct/batch")
        #expect(cgroups.directory(in: try #require(layout.freezer), layout: layout) == "/sys/fs/cgroup/freezer")
        #expect(cgroups.directory(in: try #require(layout.unified), layout: layout) == "/sys/fs/cgroup/unified/user.slice/job")
    }

    @Test func thisHostLayoutIsReadFromMountinfo() throws {
        let layout = try CgroupLayout.current()
        let text = try String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)
        for hierarchy in layout.hierarchies {
            #expect(text.contains(" \(hierarchy.mountPoint) "), "\(hierarchy) is listed in mountinfo")
        }
    }
}
