#!/usr/bin/env bash
# Installs freezectl as a packager would ship it, or removes exactly what an install put there.
#
#   bash scripts/install.sh [--prefix DIR]              build, then install under DIR (/usr/local)
#   bash scripts/install.sh --uninstall [--prefix DIR]  remove what the install under DIR put there
#   bash scripts/install.sh --prefix /usr --destdir STAGE   install into a staging tree (.deb)
#
# What goes where (PREFIX=/usr/local unless --prefix):
#   PREFIX/bin/freezectl, PREFIX/bin/freezectld         release build, stripped
#   PREFIX/libexec/freezectl/freezectl-engines          what freezectl hands engine, probe, CRIU
#                                                       and daemon-client commands to (stripped)
#   PREFIX/share/man/man1/freezectl.1, freezectl.pause.1, ...   a page per command (generated
#                                                       by the binaries from the specs they parse
#                                                       with, --generate-manual: they cannot drift)
#   PREFIX/share/bash-completion/completions/freezectl  bash, zsh and fish completions
#   PREFIX/share/zsh/site-functions/_freezectl           (the binaries' own
#   PREFIX/share/fish/vendor_completions.d/freezectl.fish  --generate-completion-script)
#   PREFIX/lib/systemd/system/freezectld.{service,socket}  contrib/systemd, ExecStart under PREFIX
#   PREFIX/share/freezectl/installed-files              what was installed, for --uninstall
# It enables nothing: `systemctl enable --now freezectld.socket` is the administrator's choice.
# Needs root for a system prefix; a build takes a few minutes the first time.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"

prefix=/usr/local destdir="" uninstall=0
usage() { echo "usage: bash scripts/install.sh [--prefix DIR] [--destdir DIR] [--uninstall]" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) [ $# -ge 2 ] || usage; prefix="$2"; shift ;;
    --destdir) [ $# -ge 2 ] || usage; destdir="$2"; shift ;;
    --uninstall) uninstall=1 ;;
    -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install.sh: unknown argument $1" >&2; usage ;;
  esac
  shift
done
# An absolute, plain directory: the manifest's paths are checked against it on uninstall.
for dir in "$prefix" ${destdir:+"$destdir"}; do
  case "$dir" in
    /*) ;;
    *) echo "install.sh: '$dir' is not an absolute directory; give e.g. --prefix /usr/local" >&2; exit 2 ;;
  esac
  case "/$dir/" in
    */../*|*/./*) echo "install.sh: '$dir' has . or .. in it; give the directory plainly" >&2; exit 2 ;;
  esac
done
prefix="${prefix%/}"
[ -n "$prefix" ] || { echo "install.sh: --prefix / is not a prefix; give e.g. --prefix /usr" >&2; exit 2; }
destdir="${destdir%/}"
manifest_path="$prefix/share/freezectl/installed-files"
manifest="$destdir$manifest_path"

if [ "$uninstall" = 1 ]; then
  if [ ! -f "$manifest" ]; then
    echo "install.sh: nothing to uninstall under $prefix ($manifest does not exist)" >&2
    exit 1
  fi
  # Files first, then the directories the install made, deepest first, each only when empty (a
  # directory another package also uses stays). A line that is not under the prefix is refused.
  mapfile -t paths <"$manifest"
  dirs=()
  for path in "${paths[@]}"; do
    case "$path" in
      "$prefix"/*/ | "$prefix"/) dirs=("$path" "${dirs[@]}") ;;
      */) echo "install.sh: $manifest names $path, outside $prefix; left alone" >&2 ;;
      "$prefix"/*) rm -f -- "$destdir$path" ;;
      *) echo "install.sh: $manifest names $path, outside $prefix; left alone" >&2 ;;
    esac
  done
  rm -f -- "$manifest"
  for path in "${dirs[@]}"; do rmdir -- "$destdir$path" 2>/dev/null || true; done
  if [ -z "$destdir" ] && [ -d /run/systemd/system ]; then systemctl daemon-reload 2>/dev/null || true; fi
  echo "freezectl removed from $prefix"
  exit 0
fi

# The binaries: release build (the Swift runtime linked in), then stripped of their symbol
# tables (190 MB to 90 MB; the Swift metadata the runtime needs is in sections strip keeps).
bin=$(bash scripts/build-release.sh --product freezectl)
bash scripts/build-release.sh --product freezectl-engines >/dev/null
bash scripts/build-release.sh --product freezectld >/dev/null

# The man pages come from the binaries' own description of their commands (the specs their
# parser reads, Sources/CommandSyntax): `--generate-manual PAGE DATE` prints one page.
# Dated by the commit, so two installs of one commit are equal.
date=$(git log -1 --format=%cs 2>/dev/null || date -u +%Y-%m-%d)

stage=$(mktemp -d /tmp/freezectl-install.XXXXXXXX)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/man1" "$stage/systemd"
for tool in freezectl freezectld; do
  strip --strip-all -o "$stage/$tool" "$bin/$tool"
  # The tool's page, then one per command its help lists.
  for page in "$tool" $("$stage/$tool" --help | sed -n "/^SUBCOMMANDS:/,/^\$/s/^  \\([a-z][a-z-]*\\) .*/$tool.\\1/p"); do
    "$stage/$tool" --generate-manual "$page" "$date" >"$stage/man1/$page.1"
  done
  "$stage/$tool" --generate-completion-script bash >"$stage/$tool.bash"
  "$stage/$tool" --generate-completion-script zsh >"$stage/_$tool"
  "$stage/$tool" --generate-completion-script fish >"$stage/$tool.fish"
done
# freezectl's commands are freezectl-engines' too (one command tree): it gets no pages or
# completions of its own, and freezectl finds it in libexec through /proc/self/exe.
strip --strip-all -o "$stage/freezectl-engines" "$bin/freezectl-engines"
for unit in freezectld.service freezectld.socket; do
  sed "s|/usr/local/bin/|$prefix/bin/|g" "contrib/systemd/$unit" >"$stage/systemd/$unit"
done

# Every file and every directory the install creates goes into the manifest (directories with a
# trailing /), which --uninstall reads. Over an earlier install, its files go first (a page or
# completion this version no longer has must not stay behind) and its directories stay listed.
entries=()
[ -z "$destdir" ] || mkdir -p -- "$destdir"
if [ -f "$manifest" ]; then
  while IFS= read -r path; do
    case "$path" in
      "$prefix"/*/ | "$prefix"/) entries+=("$path") ;;
      */) ;;
      "$prefix"/*) rm -f -- "$destdir$path" ;;
    esac
  done <"$manifest"
fi
make_dirs() {
  local dir=$1 missing=()
  while [ -n "$dir" ] && [ ! -d "$destdir$dir" ]; do missing=("$dir" "${missing[@]}"); dir=${dir%/*}; done
  # The prefix and what is under it are listed; a directory above the prefix (/opt for
  # --prefix /opt/freezectl, or the staging tree's /usr) is made but not the install's to remove.
  for dir in "${missing[@]}"; do
    mkdir -m 0755 -- "$destdir$dir"
    case "$dir/" in "$prefix"/*) entries+=("$dir/") ;; esac
  done
}
put() { # put MODE SOURCE DESTINATION
  make_dirs "${3%/*}"
  install -m "$1" -- "$2" "$destdir$3"
  entries+=("$3")
}
for tool in freezectl freezectld; do
  put 0755 "$stage/$tool" "$prefix/bin/$tool"
  put 0644 "$stage/$tool.bash" "$prefix/share/bash-completion/completions/$tool"
  put 0644 "$stage/_$tool" "$prefix/share/zsh/site-functions/_$tool"
  put 0644 "$stage/$tool.fish" "$prefix/share/fish/vendor_completions.d/$tool.fish"
done
put 0755 "$stage/freezectl-engines" "$prefix/libexec/freezectl/freezectl-engines"
for page in "$stage"/man1/*.1; do
  put 0644 "$page" "$prefix/share/man/man1/${page##*/}"
done
for unit in freezectld.service freezectld.socket; do
  put 0644 "$stage/systemd/$unit" "$prefix/lib/systemd/system/$unit"
done
make_dirs "${manifest_path%/*}"
printf '%s\n' "${entries[@]}" >"$manifest"
chmod 0644 "$manifest"

if [ -z "$destdir" ] && [ -d /run/systemd/system ]; then systemctl daemon-reload 2>/dev/null || true; fi
echo "freezectl $("$destdir$prefix/bin/freezectl" --version) installed under $prefix ($(grep -vc '/$' "$manifest") files)"
echo "  try: freezectl --help, man freezectl; the daemon: systemctl enable --now freezectld.socket"
