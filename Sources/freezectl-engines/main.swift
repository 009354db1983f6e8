// freezectl-engines: the freezectl command tree with everything the kernel-side `freezectl`
// does not link (the engines' clients, the health probes, CRIU, freezectld's client).
// freezectl execs it with its own arguments for a command that needs any of them (Handoff).
import FreezectlCLI

await Freezectl.start(engineSide: FullEngineSide())
