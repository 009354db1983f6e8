#!/usr/bin/env bash
# Runs the benchmark suite and writes docs/benchmarks.md and docs/benchmarks.json.
#   bash scripts/bench.sh                 the full suite (about 10 minutes here)
#   bash scripts/bench.sh --quick --output DIR
#                                         the same code paths at small sizes (what CI runs)
# Needs root. Installs what it measures against (runc, busybox, docker.io) when missing; the
# harness starts and removes its own containers and dockerd. Other options: freezectl-bench --help.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
if ! command -v runc >/dev/null || ! command -v busybox >/dev/null || ! command -v dockerd >/dev/null \
   || ! [ -x /usr/bin/time ] || ! [ -f /usr/include/systemd/sd-bus.h ]; then
  apt-get update -q && apt-get install -y -q libsystemd-dev runc busybox-static docker.io time
fi
bin=$(bash scripts/build-release.sh)  # freezectl and freezectl-bench
# The kernel floor as a process of its own, in plain C beside the harness (Benchmarks/kernel-floor.c).
cc -O2 -o "$bin/bench-kernel-floor" Benchmarks/kernel-floor.c Sources/CKernelFloor/KernelFloor.c -I Sources/CKernelFloor/include
# The deep pause's workload (Benchmarks/memory-workload.c), the same program the tests run.
cc -O2 -static -o "$bin/bench-memory-workload" Benchmarks/memory-workload.c
# The idle benchmark's client (Benchmarks/idle-client.py), run in the containers' network namespaces.
install -m 0755 Benchmarks/idle-client.py "$bin/bench-idle-client.py"
exec "$bin/freezectl-bench" --freezectl "$bin/freezectl" "$@"
