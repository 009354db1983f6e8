#!/usr/bin/env bash
# Writes a hot-code order: the functions a program runs, in the order they first run, one symbol
# name a line. build-release.sh compiles with one section per function and lld gets the file
# (the program's linker settings in Package.swift), which lays these functions out together: the
# kernel maps a binary's code in whole page-cache folios (64 KiB fault-around windows and more),
# so code run together costs fewer of them.
#   freezectl (default): scripts/hot-code.order, the functions of eight everyday commands (peak RSS
#     of a `pause runc:X` about 1 MiB lower; docs/performance.md, step 18).
#   freezectld: scripts/freezectld-hot-code.order, the daemon's start, status, pause, unpause,
#     leases, events, metrics and a few listings of its state watcher, then SIGTERM
#     (docs/performance.md, "freezectld at the kernel's pace").
# Run it again when the program's paths change much; a stale list only costs locality, never
# correctness.
#   bash scripts/hot-code-order.sh [freezectl|freezectld]
#       (root; needs valgrind, runc and busybox; makes and removes a scratch cgroup and a runc
#        container under /tmp)
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in valgrind runc busybox python3; do
  command -v "$tool" >/dev/null || { echo "hot-code-order.sh: needs $tool (Debian: apt-get install valgrind runc busybox-static python3)" >&2; exit 1; }
done
program=${1:-freezectl}
case "$program" in
  freezectl) output=scripts/hot-code.order ;;
  freezectld) output=scripts/freezectld-hot-code.order ;;
  *) echo "hot-code-order.sh: $program: give freezectl or freezectld" >&2; exit 2 ;;
esac
bin=$(bash scripts/build-release.sh --product "$program")/$program
work=$(mktemp -d /tmp/fz-order.XXXXXX)
cgroup=/sys/fs/cgroup/unified/fz-order-$$
[ -d /sys/fs/cgroup/unified ] || cgroup=/sys/fs/cgroup/fz-order-$$
cleanup() {
  [ -z "${daemon:-}" ] || kill -9 "$daemon" 2>/dev/null || true
  runc --root "$work/runc" resume order >/dev/null 2>&1 || true
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
cp "$bin" "$work/$program" && strip --strip-debug "$work/$program"
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
if [ "$program" = freezectl ]; then
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
else
  # One run of the daemon: what a node agent asks of it, as the benchmark does (section 6).
  valgrind --tool=callgrind --demangle=no --callgrind-out-file="$work/profile.1" "$work/freezectld" --socket "$work/d.sock" \
    --state-dir "$work/state" --runtime-root "$work/runc" >/dev/null 2>&1 &
  daemon=$!
  python3 - "$work/d.sock" "$cgroup" <<'PY'
import json, socket, sys, time
path, cgroup = sys.argv[1:]
for _ in range(600):
    try:
        connection = socket.socket(socket.AF_UNIX); connection.connect(path); break
    except OSError:
        time.sleep(0.1)
else:
    sys.exit("freezectld did not listen on " + path)
answers = connection.makefile("rb")
def request(method, target, body=None):
    data = json.dumps(body).encode() if body is not None else b""
    head = f"{method} {target} HTTP/1.1\r\nHost: localhost\r\nContent-Length: {len(data)}\r\n"
    connection.sendall((head + ("Content-Type: application/json\r\n" if body is not None else "") + "\r\n").encode() + data)
    answers.readline(); length = 0
    while (line := answers.readline()) not in (b"\r\n", b""):
        if line.lower().startswith(b"content-length:"): length = int(line.split(b":")[1])
    answers.read(length)
for _ in range(3):
    for target in ("runc:order", cgroup):
        request("GET", "/v1/status?target=" + target)
        request("POST", "/v1/pause", {"targets": [target]})
        request("POST", "/v1/unpause", {"targets": [target]})
    request("GET", "/v1/status")
    request("POST", "/v1/pause", {"all": True, "filters": ["label=x=y"]})
    request("POST", "/v1/pause", {"targets": ["runc:order"], "duration": "1s"})
    request("GET", "/v1/leases")
    request("GET", "/metrics")
    time.sleep(6)  # the lease's end, and a listing of the state watcher
PY
  kill -TERM "$daemon"; wait "$daemon" || true; daemon=
fi
# Every function that ran, in the order it first ran, that the binary defines.
python3 - "$work" "$bin" "$output" <<'PY'
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
