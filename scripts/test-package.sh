#!/usr/bin/env bash
# Tests the install as a user gets it (CI runs this after the release build):
#  1. scripts/install.sh into a scratch prefix: the installed freezectl reports this commit, its
#     man pages and completions are there, it pauses and unpauses a scratch cgroup (the process
#     really stops), and --uninstall leaves the prefix exactly as it was.
#  2. scripts/package-deb.sh: the .deb installs with dpkg -i, `freezectl --version` names this
#     commit, `man freezectl` and `man freezectl.pause` render, it pauses and unpauses a scratch
#     cgroup, and dpkg --purge removes every file it brought.
# Refuses to run when a freezectl package is already installed (it would be replaced and purged).
# Needs root; everything it creates (prefix, cgroup, process, package) is removed, also on failure.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"

if dpkg-query -W -f='${Status}' freezectl 2>/dev/null | grep -q installed; then
  echo "test-package.sh: a freezectl package is installed here; this test would replace and purge it. Remove it first (dpkg --purge freezectl)." >&2
  exit 1
fi
command -v man >/dev/null || apt-get install -y -q man-db >/dev/null

commit=$(git rev-parse HEAD)
[ -z "$(git status --porcelain --untracked-files=no)" ] || commit="$commit-dirty"
work=$(mktemp -d /tmp/freezectl-package-test.XXXXXXXX)
v2=$(awk '$9 == "cgroup2" {print $5; exit}' /proc/self/mountinfo)
v1=$(awk '$9 == "cgroup" && $NF ~ /(^|,)freezer(,|$)/ {print $5; exit}' /proc/self/mountinfo)
cgroup="${v2:-$v1}/freezectl-package-test-$$"
installed=0 worker=""

cleanup() {
  # Thawed before anything is killed or removed: nothing of this test stays frozen.
  [ -d "$cgroup" ] && { [ -f "$cgroup/cgroup.freeze" ] && echo 0 >"$cgroup/cgroup.freeze"; [ -f "$cgroup/freezer.state" ] && echo THAWED >"$cgroup/freezer.state"; } 2>/dev/null || true
  # Every process of the cgroup (the worker's sleep too), then rmdir once the kernel has let
  # them go (it refuses a cgroup with a process left).
  for _ in $(seq 50); do
    [ -d "$cgroup" ] || break
    pids=$(cat "$cgroup/cgroup.procs" 2>/dev/null || true)
    [ -z "$pids" ] && rmdir "$cgroup" 2>/dev/null && break
    kill -9 $pids 2>/dev/null || true
    sleep 0.1
  done
  [ ! -d "$cgroup" ] || echo "test-package.sh: could not remove $cgroup" >&2
  [ "$installed" = 1 ] && dpkg --purge freezectl >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "test-package.sh: FAIL: $*" >&2; exit 1; }

# The kernel's own answer for the scratch cgroup (the counter below shows the process stopped).
frozen() {
  if [ -f "$cgroup/cgroup.events" ]; then grep -qx 'frozen 1' "$cgroup/cgroup.events"; else [ "$(cat "$cgroup/freezer.state")" = FROZEN ]; fi
}
# A counter that moves while the process runs.
start_worker() {
  mkdir "$cgroup"
  sh -c "echo \$\$ > $cgroup/cgroup.procs; n=0; while :; do n=\$((n+1)); echo \$n > $work/counter; sleep 0.02; done" &
  worker=$!
  disown "$worker"   # killed by cleanup with the rest of the cgroup; no job report
  sleep 0.3
}
pause_unpause() { # pause_unpause FREEZECTL
  "$1" pause -q "$cgroup" || fail "$1 pause $cgroup failed"
  frozen || fail "$cgroup is not frozen after $1 pause"
  local a b
  a=$(cat "$work/counter"); sleep 0.3; b=$(cat "$work/counter")
  [ "$a" = "$b" ] || fail "the counter moved while paused ($a -> $b)"
  "$1" unpause -q "$cgroup" || fail "$1 unpause $cgroup failed"
  ! frozen || fail "$cgroup is still frozen after $1 unpause"
  a=$(cat "$work/counter"); sleep 0.3; b=$(cat "$work/counter")
  [ "$a" != "$b" ] || fail "the counter did not move after unpause"
}
# A command freezectl hands to freezectl-engines (a health check after the thaw): found in the
# prefix's libexec through /proc/self/exe, and run with the same arguments.
handoff() { # handoff FREEZECTL
  "$1" unpause -q "$cgroup" --health-cmd true || fail "$1 unpause --health-cmd (handed to freezectl-engines) failed"
}
start_worker

echo "== install.sh into a scratch prefix"
prefix="$work/prefix"
mkdir -p "$prefix/share/man"   # an existing directory: must survive the uninstall
(cd "$work" && find prefix | sort) >"$work/before"
bash scripts/install.sh --prefix "$prefix" >"$work/install.log" 2>&1 || { cat "$work/install.log" >&2; fail "install.sh failed"; }
"$prefix/bin/freezectl" --version | grep -qF "(commit $commit)" || fail "installed freezectl --version does not name $commit: $("$prefix/bin/freezectl" --version)"
"$prefix/bin/freezectld" --version | grep -qF "(commit $commit)" || fail "installed freezectld --version does not name $commit"
for page in freezectl freezectl.pause freezectl.unpause freezectl.status freezectl.checkpoint freezectl.restore freezectl.verify freezectld; do
  [ -s "$prefix/share/man/man1/$page.1" ] || fail "no man page $page.1"
done
MANPATH="$prefix/share/man" man -P cat freezectl.pause 2>/dev/null | grep -q -- '--timeout' || fail "man freezectl.pause does not show --timeout"
grep -q -- '-F _freezectl freezectl$' "$prefix/share/bash-completion/completions/freezectl" || fail "no bash completion"
[ -s "$prefix/share/zsh/site-functions/_freezectl" ] && [ -s "$prefix/share/fish/vendor_completions.d/freezectl.fish" ] || fail "no zsh or fish completion"
grep -qx "ExecStart=$prefix/bin/freezectld .*" "$prefix/lib/systemd/system/freezectld.service" || fail "the unit's ExecStart is not under $prefix"
for tool in bin/freezectl libexec/freezectl/freezectl-engines; do
  ! readelf -S "$prefix/$tool" | grep -q '\.symtab' || fail "the installed $tool is not stripped"
done
pause_unpause "$prefix/bin/freezectl"
handoff "$prefix/bin/freezectl"
# The release freezectl is a static PIE (Package.swift): its journal records go through
# libsystemd loaded with dlopen, and the audit's user name through NSS, both of which a static
# glibc loads beside itself. A journald of its own in a private mount namespace takes them (the
# host's journal is not touched); the JSON-lines log names the user.
audited() { # audited FREEZECTL
  unshare --mount --propagation private /bin/sh -c "
    set -e
    mount -t tmpfs tmpfs /run/systemd; mount -t tmpfs tmpfs /run/log
    [ -d /var/log/journal ] && mount -t tmpfs tmpfs /var/log/journal
    /lib/systemd/systemd-journald </dev/null >/dev/null 2>&1 &
    J=\$!; trap 'kill \$J; wait \$J' EXIT
    for i in \$(seq 100); do [ -S /run/systemd/journal/socket ] && break; sleep 0.05; done
    '$1' pause -q --audit-log '$work/audit.jsonl' '$cgroup'
    '$1' unpause -q --audit-log '$work/audit.jsonl' '$cgroup'
    journalctl --sync 2>/dev/null
    journalctl -o json --no-pager SYSLOG_IDENTIFIER=freezectl" >"$work/journal.json" 2>"$work/journal.err" || fail "$1 pause/unpause with a journal failed: $(cat "$work/journal.err")"
  ! grep -q "journal" "$work/journal.err" || fail "$1 could not write to the journal: $(cat "$work/journal.err")"
  [ "$(grep -c '"FREEZECTL_ACTION":"pause"' "$work/journal.json")" = 1 ] && grep -q '"FREEZECTL_ACTION":"unpause"' "$work/journal.json" \
    || fail "the journal did not get $1's pause and unpause: $(cat "$work/journal.json" "$work/journal.err")"
  [ "$(grep -c '"user":"root"' "$work/audit.jsonl")" = 2 ] || fail "the audit log does not name the user root: $(cat "$work/audit.jsonl")"
  rm -f "$work/audit.jsonl"
}
[ -x /lib/systemd/systemd-journald ] && audited "$prefix/bin/freezectl"
bash scripts/install.sh --uninstall --prefix "$prefix" >/dev/null || fail "install.sh --uninstall failed"
(cd "$work" && find prefix | sort) >"$work/after"
diff "$work/before" "$work/after" || fail "--uninstall left the prefix different from before the install"
echo "ok: installed, used, removed exactly"

echo "== the .deb"
# An --output that does not exist yet is made, parents too (mkdir -p); a relative one is the caller's.
repo=$PWD
deb=$(cd "$work" && bash "$repo/scripts/package-deb.sh" --output debs/new 2>"$work/deb.log") || { cat "$work/deb.log" >&2; fail "package-deb.sh failed"; }
[ "$(dirname "$deb")" = "$work/debs/new" ] && [ -f "$deb" ] || fail "package-deb.sh --output debs/new (missing, relative) wrote $deb, not into $work/debs/new"
: >"$work/not-a-directory"
! bash scripts/package-deb.sh --output "$work/not-a-directory" 2>"$work/deb-refused.log" && grep -q "not-a-directory cannot be made a directory" "$work/deb-refused.log" \
  || fail "package-deb.sh --output FILE was not refused clearly: $(cat "$work/deb-refused.log")"
dpkg-deb --field "$deb" Depends | grep -q 'libc6' || fail "the package does not depend on libc6"
dpkg-deb --field "$deb" Depends | grep -q 'libc6 (<< ' || fail "the package does not pin the glibc release the static freezectl was linked with"
dpkg-deb --field "$deb" Recommends | grep -q 'libsystemd0' || fail "libsystemd0 is not recommended"
dpkg-deb --contents "$deb" | awk '{print $6}' | sed 's|^\./|/|' | grep -v '/$' | sort >"$work/files"
installed=1
dpkg -i "$deb" >/dev/null || fail "dpkg -i $deb failed"
[ "$(command -v freezectl)" = /usr/bin/freezectl ] || fail "freezectl is not /usr/bin/freezectl after dpkg -i"
/usr/bin/freezectl --version | grep -qF "(commit $commit)" || fail "freezectl --version does not name $commit: $(/usr/bin/freezectl --version)"
man -P cat freezectl 2>/dev/null | grep -q 'freezectl.*Pause and thaw' || fail "man freezectl does not render"
man -P cat freezectl.pause 2>/dev/null | grep -q -- '--atomic' || fail "man freezectl.pause does not render"
systemctl cat freezectld.service 2>/dev/null | grep -q 'ExecStart=/usr/bin/freezectld' || [ ! -d /run/systemd/system ] || fail "systemd does not see freezectld.service"
pause_unpause /usr/bin/freezectl
handoff /usr/bin/freezectl
[ -x /lib/systemd/systemd-journald ] && audited /usr/bin/freezectl
dpkg --purge freezectl >/dev/null || fail "dpkg --purge failed"
installed=0
! dpkg-query -W freezectl >/dev/null 2>&1 || fail "dpkg still lists freezectl after --purge"
while IFS= read -r file; do
  [ ! -e "$file" ] || fail "$file is still there after dpkg --purge"
done <"$work/files"
echo "ok: $(basename "$deb") installed, used, purged ($(wc -l <"$work/files") files, none left)"
