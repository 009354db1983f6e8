import CommandSyntax

/// The deep pause (docs/deep-pause.md): `pause --reclaim` gives a frozen target's memory back,
/// `--prefetch` brings it in again before the thaw (`unpause`, or the end of `pause --for/--hold`).
package struct MemoryOptions: Sendable {
    static let reclaimOption = OptionSpec.flag("reclaim", "After the freeze is confirmed, push the target's memory out to swap (process_madvise MADV_PAGEOUT over its processes; memory.reclaim too where its memory controller is cgroup v2), within a --timeout of its own. The target stays frozen whatever happens; without swap only file pages can go, and a warning says so.")
    static let prefetchOption = OptionSpec.flag("prefetch", "Before the thaw, bring the target's swapped memory back (process_madvise MADV_WILLNEED), within a --timeout of its own, so that it does not wake page by page.")

    /// pause's: --reclaim, and --prefetch for the thaw that ends --for or --hold.
    package static let pauseSpec = OptionGroupSpec(title: "Memory", [
        reclaimOption,
        .flag("prefetch", "With --for or --hold: bring the target's swapped memory back before the thaw that ends the pause (see unpause --prefetch)."),
    ])
    /// unpause's: --prefetch.
    package static let unpauseSpec = OptionGroupSpec(title: "Memory", [prefetchOption])

    package var reclaim = false
    package var prefetch = false

    package init(reclaim: Bool = false, prefetch: Bool = false) {
        self.reclaim = reclaim
        self.prefetch = prefetch
    }

    /// The flags of `line` (a command without one of them reads it as not given).
    package init(_ line: ParsedLine) {
        self.init(reclaim: line.flag("reclaim"), prefetch: line.flag("prefetch"))
    }
}
