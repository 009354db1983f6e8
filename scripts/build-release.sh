#!/usr/bin/env bash
# Builds freezectl (and the benchmark harness) for release and prints the directory of the binaries.
#
# Start-up is most of a CLI run (docs/performance.md), so the Swift runtime and Foundation are
# linked into the binary (--static-swift-stdlib): no search and symbol binding across a dozen
# shared libraries at every exec. Extra arguments go to `swift build` (e.g. --product freezectl).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"
# The commit `--version` reports (Package.swift): HEAD, with -dirty when tracked files differ from
# it. Outside a git tree (a source tarball) it stays unset and the binaries say "unknown".
if commit=$(git rev-parse --verify --quiet HEAD 2>/dev/null); then
  [ -z "$(git status --porcelain --untracked-files=no 2>/dev/null)" ] || commit="$commit-dirty"
  export FREEZECTL_COMMIT="$commit"
fi
swift build -c release --static-swift-stdlib "$@" >&2
swift build -c release --static-swift-stdlib --show-bin-path
