import CLinuxSupport
import CgroupFreezer
import Testing

@Suite("Process memory: /proc/PID/status and maps as the advice reads them")
struct ProcessMemoryTests {
    @Test("Pss and SwapPss in bytes (not Rss, nor Pss_Anon); a kernel thread (empty rollup) has none; an absurd figure does not trap")
    func usage() {
        let rollup = """
        55d0c0000000-7ffd1000 ---p 00000000 00:00 0                          [rollup]
        Rss:              270336 kB
        Pss:              135168 kB
        Pss_Anon:         130000 kB
        Swap:                256 kB
        SwapPss:             128 kB
        """
        #expect(ProcessMemory.usage(smapsRollup: rollup) == ProcessMemory.Usage(resident: 135_168 * 1024, swapped: 128 * 1024))
        #expect(ProcessMemory.usage(smapsRollup: "") == nil)
        #expect(ProcessMemory.usage(smapsRollup: "Pss:  99999999999999999999 kB\n") == nil)
        #expect(ProcessMemory.usage(smapsRollup: "Pss:  18446744073709551615 kB\nSwapPss:  1 kB\n") == nil)
    }

    @Test("every mapping's range, the kernel's special ones left out, malformed lines skipped")
    func mappings() {
        let maps = """
        55d0c0000000-55d0c0021000 r--p 00000000 fe:01 131 /usr/bin/python3.11
        7f0000000000-7f0004000000 rw-p 00000000 00:00 0
        7ffd1000-7ffd2000 rw-p 00000000 00:00 0                          [stack]
        7ffd3000-7ffd5000 r--p 00000000 00:00 0                          [vvar]
        7ffd5000-7ffd7000 r-xp 00000000 00:00 0                          [vdso]
        ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]
        zzzz-1000 rw-p 0 0 0
        2000-1000 rw-p 0 0 0
        """
        let ranges = ProcessMemory.mappings(mapsText: maps)
        #expect(ranges.map(\.start) == [0x55d0c0000000, 0x7f0000000000, 0x7ffd1000])
        #expect(ranges.map(\.length) == [0x21000, 0x4000000, 0x1000])
    }

    @Test("mappings cut into pieces the CPUs share: a large one split at 8 MiB, small ones grouped, at most 1024 ranges a piece, every byte once")
    func pieces() {
        let mib: UInt = 1 << 20
        let large = clinux_range(start: 0x7f00_0000_0000, length: 20 * mib)
        let small = (0..<3000).map { clinux_range(start: 0x1000_0000 + UInt($0) * 0x2000, length: 0x1000) }
        let pieces = ProcessMemory.pieces(of: [large] + small)
        #expect(pieces.allSatisfy { $0.count <= 1024 && $0.reduce(0) { $0 + $1.length } <= 8 * mib })
        #expect(pieces.flatMap { $0 }.reduce(0) { $0 + $1.length } == 20 * mib + 3000 * 0x1000, "every byte once")
        #expect(pieces[0].map(\.length) == [8 * mib] && pieces[1].map(\.length) == [8 * mib])
        #expect(pieces[2].first?.length == 4 * mib && pieces[2].first?.start == large.start + 16 * mib, "the rest of the large one, then small ones")
        #expect(ProcessMemory.pieces(of: []).isEmpty)
    }
}
