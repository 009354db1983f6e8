#!/usr/bin/env bash
# Builds freezectl (and the benchmark harness) for release and prints the directory of the binaries.
#
# Start-up is most of a CLI run (docs/performance.md), so the Swift runtime and Foundation are
# linked into the binary (--static-swift-stdlib): no search and symbol binding across a dozen
# shared libraries at every exec. Extra arguments go to `swift build` (e.g. --product freezectl).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"
swift build -c release --static-swift-stdlib "$@" >&2
swift build -c release --static-swift-stdlib --show-bin-path
