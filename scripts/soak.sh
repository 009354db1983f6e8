#!/usr/bin/env bash
# The soak (scripts/soak.py): racing CLI and daemon clients on a v1 and a v2 tree of forking
# processes, then every promise checked (truthful results, one audit record per change, nothing
# left frozen).
#   bash scripts/soak.sh [--cycles N] [--clients K]     (defaults: 25 cycles of 4 + 4 clients)
#   bash scripts/soak.sh --cycles 10000 --clients 10 --report   the full run of docs/reliability.md
# Needs root; builds the release binaries first. Everything it makes is removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(bash scripts/build-release.sh)
exec python3 scripts/soak.py --freezectl "$bin/freezectl" --freezectld "$bin/freezectld" "$@"
