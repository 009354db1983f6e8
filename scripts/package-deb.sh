#!/usr/bin/env bash
# Builds a Debian package of freezectl with dpkg-deb: the files scripts/install.sh installs, under
# /usr (binaries, a man page per command, bash/zsh/fish completions, the systemd units).
#
#   bash scripts/package-deb.sh [--output DIR]     writes DIR/freezectl_VERSION_ARCH.deb (DIR: .,
#                                                  created with its parents when missing, as mkdir -p)
#
# The version is the binaries' own (`freezectl --version`) with the commit's date and short hash
# (0.1.0+git20261204.0fbead8), so every commit's package is newer than the one before. Depends
# comes from dpkg-shlibdeps on the binaries (the Swift runtime and, where its archive is
# installed, libstdc++ are linked in: glibc, libgcc, zlib remain); libsystemd0 is only dlopen'ed
# (journald audit, systemd units): Recommends.
# scripts/test-package.sh installs it with dpkg -i, uses it and purges it.
set -euo pipefail
# A relative --output is the caller's, not the repository's.
caller=$PWD
cd "$(dirname "$0")/.."

output=$PWD
while [ $# -gt 0 ]; do
  case "$1" in
    --output) [ $# -ge 2 ] || { echo "package-deb.sh: --output takes a directory" >&2; exit 2; }
      case "$2" in /*) output="$2" ;; *) output="$caller/$2" ;; esac; shift ;;
    *) echo "package-deb.sh: unknown argument $1 (usage: bash scripts/package-deb.sh [--output DIR])" >&2; exit 2 ;;
  esac
  shift
done
# Made when missing, parents too (mkdir -p, as packagers expect); something else by that name is refused.
mkdir -p -- "$output" 2>/dev/null || [ -d "$output" ] || { echo "package-deb.sh: $output cannot be made a directory (a file is in the way, or no permission); give another --output" >&2; exit 2; }
for tool in dpkg-deb dpkg-shlibdeps; do
  command -v "$tool" >/dev/null || { echo "package-deb.sh: $tool is missing: apt-get install dpkg-dev" >&2; exit 1; }
done

stage=$(mktemp -d /tmp/freezectl-deb.XXXXXXXX)
trap 'rm -rf "$stage"' EXIT
root="$stage/root"
bash scripts/install.sh --prefix /usr --destdir "$root" >&2
# install.sh's list of what it installed is for its --uninstall; dpkg keeps its own.
rm -f "$root/usr/share/freezectl/installed-files"
rmdir "$root/usr/share/freezectl"
# Debian policy: man pages compressed, a copyright file and the docs under /usr/share/doc.
gzip -9n "$root"/usr/share/man/man1/*.1
mkdir -p "$root/usr/share/doc/freezectl"
gzip -9nc README.md >"$root/usr/share/doc/freezectl/README.md.gz"
cat >"$root/usr/share/doc/freezectl/copyright" <<'EOF'
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: freezectl
Comment: Built from the freezectl source tree by scripts/package-deb.sh. The binaries link the
 Swift runtime and the Swift packages named in Package.swift (Apache-2.0 with the Runtime Library
 Exception, or MIT: swift-system, swift-log, SwiftNIO, async-http-client,
 grpc-swift, swift-protobuf, Hummingbird, swift-service-lifecycle, swift-metrics,
 swift-prometheus, swift-subprocess, TOMLKit with toml++).
EOF

# The version: `freezectl --version` prints "0.1.0 (commit <hex>[-dirty])".
read -r release _ commit_text < <("$root/usr/bin/freezectl" --version)
commit=${commit_text%)}
version=$release
if [ "$commit" != unknown ]; then
  version="$release+git$(git log -1 --format=%cd --date=format:%Y%m%d 2>/dev/null).${commit:0:7}"
  case "$commit" in *-dirty) version="$version.dirty" ;; esac
fi
arch=$(dpkg --print-architecture)

# dpkg-shlibdeps reads debian/control from the directory it runs in.
mkdir -p "$stage/debian"
printf 'Source: freezectl\n\nPackage: freezectl\nArchitecture: any\n' >"$stage/debian/control"
depends=$(cd "$stage" && dpkg-shlibdeps -O -e root/usr/bin/freezectl -e root/usr/libexec/freezectl/freezectl-engines -e root/usr/bin/freezectld 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
[ -n "$depends" ] || { echo "package-deb.sh: dpkg-shlibdeps found no dependencies of the binaries" >&2; exit 1; }
# freezectl is a static PIE with glibc linked in (Package.swift); it still loads libsystemd (the
# journal) and NSS modules with dlopen, which a static glibc does by loading the system's libc
# beside itself, and that must be the glibc release it was linked with. dpkg-shlibdeps sees no
# libraries in a static binary, so the release is pinned here.
glibc=$(dpkg-query -W -f='${Version}' libc6 | sed 's/-.*//')
depends="$depends, libc6 (>= $glibc), libc6 (<< ${glibc%%.*}.$(( ${glibc#*.} + 1 )))"

mkdir -p "$root/DEBIAN"
cat >"$root/DEBIAN/control" <<EOF
Package: freezectl
Version: $version
Architecture: $arch
Maintainer: freezectl developers <freezectl@localhost>
Installed-Size: $(du -sk --exclude=DEBIAN "$root" | cut -f1)
Depends: $depends
Recommends: libsystemd0
Suggests: runc | crun, criu
Section: admin
Priority: optional
Description: pause and thaw Linux process trees with the cgroup freezer
 freezectl pauses and thaws containers, services and raw cgroups with the
 kernel's cgroup freezer (v1 freezer.state, v2 cgroup.freeze), waits for the
 kernel's completion signal, never leaves a tree half-frozen, and reports per
 target what it did. Containers of runc, crun, Docker, containerd and podman,
 and systemd units, are paused through their owner so its view stays right.
 freezectld offers the same over a unix-socket HTTP API (not enabled by the
 package: systemctl enable --now freezectld.socket).
EOF
# systemd reads the new units (nothing is enabled or started); a running daemon is stopped
# before its files go, which thaws everything it holds.
cat >"$root/DEBIAN/postinst" <<'EOF'
#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then systemctl daemon-reload || true; fi
EOF
cat >"$root/DEBIAN/prerm" <<'EOF'
#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then systemctl stop freezectld.socket freezectld.service 2>/dev/null || true; fi
EOF
cat >"$root/DEBIAN/postrm" <<'EOF'
#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then systemctl daemon-reload || true; fi
EOF
chmod 0755 "$root/DEBIAN/postinst" "$root/DEBIAN/prerm" "$root/DEBIAN/postrm"

deb="$output/freezectl_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >&2
echo "$deb"
