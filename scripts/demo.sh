#!/usr/bin/env bash
# Installs what freezectl needs, builds it, and pauses and thaws a real process tree:
# a scratch cgroup with a counting workload is frozen (the counter stops), shown, thawed (the
# counter moves again) and removed. Run as root on a Linux host with cgroups.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"

# libsystemd-dev: its headers, for the journal and sd-bus calls (libsystemd is loaded at run time).
if ! command -v unshare >/dev/null || ! command -v pkill >/dev/null || ! [ -f /usr/include/systemd/sd-bus.h ]; then
  apt-get update -q && apt-get install -y -q util-linux procps libsystemd-dev
fi
# freezectl alone: the kernel-side CLI (no engine clients, no full Foundation), the shorter build.
# Its handover to freezectl-engines (Docker, podman, containerd, probes, CRIU) is not needed here.
freezectl=$(bash scripts/build-release.sh --product freezectl)/freezectl

# The scratch cgroup goes where this host mounts cgroup v2 (or the v1 freezer); both are found
# in mountinfo, as freezectl does.
v2=$(awk '$9 == "cgroup2" {print $5; exit}' /proc/self/mountinfo)
v1=$(awk '$9 == "cgroup" && $NF ~ /(^|,)freezer(,|$)/ {print $5; exit}' /proc/self/mountinfo)
base=${v2:-$v1}
cgroup="$base/freezectl-demo-$$"
counter=$(mktemp)

cleanup() {
  "$freezectl" unpause "$cgroup" -q 2>/dev/null || true
  for pid in $(cat "$cgroup/cgroup.procs" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
  sleep 0.2
  rmdir "$cgroup" 2>/dev/null || true
  rm -f "$counter"
}
trap cleanup EXIT

mkdir "$cgroup"
sh -c "echo \$\$ > $cgroup/cgroup.procs; n=0; while :; do sleep 0.05 & wait; n=\$((n+1)); echo \$n > $counter; done" &
disown
sleep 0.5

echo "== a workload counting in $cgroup: $(cat "$counter")"
"$freezectl" pause "$cgroup"
a=$(cat "$counter"); sleep 1; b=$(cat "$counter")
echo "== paused: counter $a, one second later $b"
"$freezectl" status
"$freezectl" unpause "$cgroup"
sleep 1
echo "== unpaused: counter $(cat "$counter")"
"$freezectl" status "$cgroup"
