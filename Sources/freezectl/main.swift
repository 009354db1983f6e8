// freezectl: the command tree over the kernel's freezer, linking no network client and no full
// Foundation; a command that needs an engine, a probe, CRIU or the daemon is handed to
// freezectl-engines (FreezectlCLI's Handoff.server, the one rule).
import FreezectlCLI

await Freezectl.start(engineSide: nil)
