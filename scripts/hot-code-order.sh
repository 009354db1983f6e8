#!/usr/bin/env bash
# Writes scripts/hot-code.order: the functions an everyday freezectl command runs, in the order
# they first run, one symbol name a line. build-release.sh compiles with one section per
# function and lld gets this file (freezectl's linker settings in Package.swift), which lays these
# functions out together: a start then touches fewer 64 KiB fault-around windows of freezectl's
# 8 MiB of code (peak RSS of a `pause runc:X` about 1 MiB lower; docs/performance.md, step 18).
# Run it again when the start-up path changes much; a stale list only costs locality, never
# correctness.
#   bash scripts/hot-code-order.sh        (root; needs valgrind, runc and busybox; makes and removes a
#                                          scratch cgroup and a runc container under /tmp)
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in valgrind runc busybox python3; do
  command -v "$tool" >/dev/null || { echo "hot-code-order.sh: needs $tool (Debian: apt-get install valgrind runc busybox-static python3)" >&2; exit 1; }
done
bin=$(bash scripts/build-release.sh --product freezectl)/freezectl
work=$(mktemp -d /tmp/fz-order.XXXXXX)
cgroup=/sys/fs/cgroup/unified/fz-order-$$
[ -d /sys/fs/cgroup/unified ] || cgroup=/sys/fs/cgroup/fz-order-$$
cleanup() {
  runc --root "$work/runc" delete -f order >/dev/null 2>&1 || true
  if [ -d "$cgroup" ]; then
    echo 0 > "$cgroup/cgroup.freeze" 2>/dev/null || true
    for pid in $(cat "$cgroup/cgroup.procs" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
    sleep 0.2; rmdir "$cgroup" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
# A copy without debug info: valgrind does not read this toolchain's DWARF 5.
cp "$bin" "$work/freezectl" && strip --strip-debug "$work/freezectl"
mkdir "$cgroup"
sh -c "echo \$\$ > $cgroup/cgroup.procs; exec sleep 600" &
mkdir -p "$work/bundle/rootfs/bin"
cp "$(command -v busybox)" "$work/bundle/rootfs/bin/" && ln -s busybox "$work/bundle/rootfs/bin/sleep"
(cd "$work/bundle" && runc spec)
python3 - "$work/bundle/config.json" <<'PY'
import json, sys
config = json.load(open(sys.argv[1]))
config["process"]["args"] = ["sleep", "600"]; config["process"]["terminal"] = False
json.dump(config, open(sys.argv[1], "w"))
PY
runc --root "$work/runc" run -d --bundle "$work/bundle" order </dev/null >/dev/null
n=0
while read -r line; do
  n=$((n + 1))
  # shellcheck disable=SC2086
  valgrind --tool=callgrind --demangle=no --callgrind-out-file="$work/profile.$n" "$work/freezectl" $line >/dev/null 2>&1 || true
done <<LINES
pause -q $cgroup
unpause -q $cgroup
status $cgroup
pause -q --runtime-root $work/runc runc:order
unpause -q --runtime-root $work/runc runc:order
status --runtime-root $work/runc runc:order
pause -q --runtime-root $work/runc --filter label=x=y
status -q
LINES
# Every function that ran, in the order it first ran, that the binary defines.
python3 - "$work" "$bin" scripts/hot-code.order <<'PY'
import glob, re, subprocess, sys
work, binary, output = sys.argv[1:]
defined = {line.split()[-1] for line in subprocess.run(["nm", binary], capture_output=True, text=True).stdout.splitlines()
           if len(line.split()) == 3 and line.split()[1] in "tTwW"}
names, seen = [], set()
for profile in sorted(glob.glob(work + "/profile.*"), key=lambda p: int(p.rsplit(".", 1)[1])):
    ids = {}
    for line in open(profile, errors="replace"):
        match = re.match(r"^(fn|cfn)=\((\d+)\)(?: (.*))?$", line.rstrip("\n"))
        if not match:
            continue
        if match.group(3):
            ids[match.group(2)] = match.group(3)
        name = ids.get(match.group(2))
        if match.group(1) == "fn" and name in defined and name not in seen:
            seen.add(name)
            names.append(name)
with open(output, "w") as file:
    file.writelines(name + "\n" for name in names)
print(f"{output}: {len(names)} functions")
PY
