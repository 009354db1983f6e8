#!/usr/bin/env bash
# Builds freezectl (and the benchmark harness) for release and prints the directory of the binaries.
#
# Start-up is most of a CLI run (docs/performance.md), so the release binary is linked for it:
#   --static-swift-stdlib            the Swift runtime and Foundation inside the binary: no search
#                                    and symbol binding across a dozen shared libraries at exec;
#   -use-ld=lld, -z pack-relative-relocs
#                                    relative relocations packed as DT_RELR (glibc 2.36+), which the
#                                    loader applies about four times faster than RELA.
# Extra arguments go to `swift build` (e.g. --product freezectl).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"
flags=(-c release --static-swift-stdlib -Xswiftc -use-ld=lld -Xlinker -z -Xlinker pack-relative-relocs)
swift build "${flags[@]}" "$@" >&2
swift build "${flags[@]}" --show-bin-path
