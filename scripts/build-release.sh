#!/usr/bin/env bash
# Builds freezectl (and the benchmark harness) for release and prints the directory of the binaries.
#
# Start-up is most of a CLI run (docs/performance.md), so the Swift runtime and Foundation are
# linked into the binary (--static-swift-stdlib): no search and symbol binding across a dozen
# shared libraries at every exec. Nothing of ours is a shared library, so the binaries carry no
# $ORIGIN run path (--disable-local-rpath): the loader does not search the binary's directory
# for libc, libm and libgcc_s first. freezectl itself goes further: its linker settings in
# Package.swift make it a static PIE, with glibc linked in too and no dynamic loader at all.
# Extra arguments go to `swift build` (e.g. --product freezectl). FREEZECTL_RELEASE_SCRATCH names
# the build directory (default .build): CI builds there while the tests hold .build's lock.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"
# The commit `--version` reports (Package.swift): HEAD, with -dirty when tracked files differ from
# it. Outside a git tree (a source tarball) it stays unset and the binaries say "unknown".
if commit=$(git rev-parse --verify --quiet HEAD 2>/dev/null); then
  [ -z "$(git status --porcelain --untracked-files=no 2>/dev/null)" ] || commit="$commit-dirty"
  export FREEZECTL_COMMIT="$commit"
fi
# libstdc++ (the Swift runtime's C++ library) linked in as well: the loader then binds none of its
# 1,500 symbols at every start, and a pause's peak RSS is 1.3 MiB lower (docs/performance.md). The
# toolchain's autolink file names it as -lstdc++, which finds libstdc++.so; a linker script of that
# name in a directory searched first (GNU ld reads a script where it expects a library) names the
# archive instead. Where the archive is missing, the binaries link it dynamically as before.
# Concrete generic types (`OptionGroup<CommonOptions>`, NIO's and async-http-client's channel
# types) are reached through their metadata accessors, not by demangling their names at run time:
# a name's generic requirements are checked by a linear scan of every protocol conformance in the
# binary (11,700 in freezectl-engines), one per type at its first use, which was half of an engine
# command's instructions; the accessor is handed the conformances by the compiler.
flags=(--disable-local-rpath -Xswiftc -Xfrontend -Xswiftc -disable-concrete-type-metadata-mangled-name-accessors)
# One section per function, so that the linker can lay the functions an everyday command runs
# together in the order scripts/hot-code-order.sh recorded (freezectl's linker settings in
# Package.swift, where it is also linked as a static PIE): a start touches fewer 64 KiB
# fault-around windows of code, about 1 MiB less peak RSS (docs/performance.md).
flags+=(-Xswiftc -Xfrontend -Xswiftc -function-sections)
scratch=${FREEZECTL_RELEASE_SCRATCH:-.build}
flags+=(--scratch-path "$scratch")
archive=$(gcc -print-file-name=libstdc++.a 2>/dev/null || true)
if [ -f "$archive" ]; then
  cxx=$scratch/static-libstdc++
  mkdir -p "$cxx"
  printf 'INPUT(%s)\n' "$archive" > "$cxx/libstdc++.so"
  flags+=(-Xswiftc -L -Xswiftc "$(cd "$cxx" && pwd)")
else
  echo "build-release.sh: no libstdc++.a (Debian: libstdc++-12-dev); libstdc++ stays a shared library" >&2
fi
swift build -c release --static-swift-stdlib "${flags[@]}" "$@" >&2
swift build -c release --static-swift-stdlib "${flags[@]}" --show-bin-path
