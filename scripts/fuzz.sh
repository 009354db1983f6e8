#!/usr/bin/env bash
# Fuzzes every parser of outside input with libFuzzer and the address sanitizer
# (Sources/FuzzHarnesses: one harness per parser, with the property it must keep).
#   bash scripts/fuzz.sh [SECONDS]            each harness for SECONDS (default 60), two at a time
#   bash scripts/fuzz.sh SECONDS --report     the same, then writes the figures into docs/reliability.md
#   bash scripts/fuzz.sh SECONDS --only NAME  one harness (repeatable); --skip NAME leaves one out
#   bash scripts/fuzz.sh --runs N --report     each harness until N executions instead (the full
#                                              run of docs/reliability.md: --runs 10000000)
#   bash scripts/fuzz.sh SECONDS --debug       a debug build in the test build's directory (.build):
#                                              only our modules are compiled again (CI's short run)
# Seeds come from Fuzz/Corpus/<harness>/ (read only); what the fuzzer finds goes to a scratch
# corpus that is removed at the end. A crash fails the run (exit 1) and leaves its input in
# .build-fuzz/crashes/ (FREEZECTL_FUZZ_SCRATCH names another build directory): fix the parser,
# then add the input to Fuzz/Corpus/<harness>/ (the unit tests replay that corpus on every run).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"
# No Swift backtracer, in the runs and in the replays: after an abort it reads the crashed
# process's memory, which the address sanitizer reports as a heap-buffer-overflow in
# CrashHandlerLinux.cpp (libFuzzer's fork mode printed that line for every contained abort).
export SWIFT_BACKTRACE=enable=no

seconds=60
runs=0
debug=0
report=0
only=()
skip=()
while [ $# -gt 0 ]; do
  case "$1" in
    --report) report=1 ;;
    --debug) debug=1 ;;
    --runs) runs="$2"; shift ;;
    --only) only+=("$2"); shift ;;
    --skip) skip+=("$2"); shift ;;
    [0-9]*) seconds="$1" ;;
    *) echo "fuzz.sh: unknown argument $1 (give SECONDS or --runs N, --report, --debug, --only NAME, --skip NAME)" >&2; exit 2 ;;
  esac
  shift
done
case "$runs" in
  ''|*[!0-9]*) echo "fuzz.sh: --runs takes a number of executions, e.g. --runs 10000000 (got '$runs')" >&2; exit 2 ;;
esac

# One instrumented build of its own (.build-fuzz, or FREEZECTL_FUZZ_SCRATCH: two runs of
# different code at once need a build each): libFuzzer's coverage and the address sanitizer in
# our modules and FUZZING in freezectl-fuzz (FREEZECTL_FUZZ_BUILD, Package.swift), the sanitizer
# in every dependency too (-Xswiftc). --debug instead builds in the test build's directory with
# the dependencies as they are there: only our modules are compiled again (about a fifth of the
# time of a build of everything), and `swift test` compiles them back afterwards.
export FREEZECTL_FUZZ_BUILD=1
if [ "$debug" = 1 ]; then
  export build=${FREEZECTL_FUZZ_SCRATCH:-.build}
  build_flags=(-c debug --scratch-path "$build")
else
  export build=${FREEZECTL_FUZZ_SCRATCH:-.build-fuzz}
  build_flags=(-c release --scratch-path "$build" -Xswiftc -sanitize=address)
fi
swift build "${build_flags[@]}" --product freezectl-fuzz >&2
bin="$(swift build "${build_flags[@]}" --show-bin-path)/freezectl-fuzz"

harnesses=$(ls Fuzz/Corpus)
[ ${#only[@]} -gt 0 ] && harnesses="${only[*]}"
for name in "${skip[@]}"; do harnesses=$(printf '%s\n' $harnesses | grep -vx "$name" || true); done

scratch=$(mktemp -d /tmp/freezectl-fuzz.XXXXXXXX)
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$build/crashes"

# Aborts that are known and contained, per harness: toml++ (under TOMLKit) fails an assertion on
# some malformed TOML and aborts; freezectld parses every policy in a child first
# (PolicyParseCheck), so such an abort ends only that child. These harnesses run in libFuzzer's
# fork mode, which goes on after a crash; each crash input is then replayed, and only one whose
# report matches the pattern counts as contained: any other is a failure like everywhere else.
declare -A contained=([policy]='toml\.hpp:[0-9]+: .*Assertion')
export contained_policy="${contained[policy]}"

# The largest input per harness (libFuzzer's -max_len), 64 KiB unless named here: mountinfo's
# inputs grow to kilobytes of short lines, each parsed three times with the address sanitizer's
# allocator in every string, and its rate fell to 645 executions a second; 4 KiB still holds a
# hundred lines, enough for every way one mount hides another.
declare -A max_len=([mountinfo]=4096)
export max_len_mountinfo="${max_len[mountinfo]}"

run_one() {
  local harness=$1 seconds=$2 bin=$3 scratch=$4 runs=$5
  # (Harness names have hyphens, which a variable name may not.)
  local pattern_name="contained_${harness//-/_}" artifacts="$scratch/$harness-artifacts/"
  local pattern="${!pattern_name:-}" mode=() verdict=ok count=0 seeds=("Fuzz/Corpus/$harness")
  local max_len_name="max_len_${harness//-/_}"
  local max_len="${!max_len_name:-65536}"
  mkdir -p "$scratch/$harness" "$artifacts"
  # Fuzz/Contained/<harness> holds inputs known to end in a contained abort: seeds too, so each
  # run shows the replay still tells them apart.
  [ -n "$pattern" ] && mode=(-fork=1 -ignore_crashes=1) && [ -d "Fuzz/Contained/$harness" ] && seeds+=("Fuzz/Contained/$harness")
  # -max_len: a runc state file or an engine's answer runs to tens of KiB; -timeout: one input may
  # not take ten seconds. Leaks are not what these harnesses look for (LeakSanitizer's report at
  # exit flagged TOMLKit's parse errors, which are never freed: docs/reliability.md).
  # malloc_context_size=0: no stack recorded per allocation (perf: 12 % of every execution in
  # the sanitizer's unwinder and stack depot); a crash's input is kept, and replaying it
  # (FREEZECTL_FUZZ=<harness> <binary> <input>) gives the full report.
  # --runs: a number of executions and no time limit (also in fork mode, which stops after the job
  # that passes it).
  local budget=(-max_total_time="$seconds")
  [ "$runs" -gt 0 ] && budget=(-runs="$runs")
  local status=0
  ASAN_OPTIONS=detect_leaks=0:malloc_context_size=0 FREEZECTL_FUZZ="$harness" "$bin" "${mode[@]}" "${budget[@]}" -max_len="$max_len" \
    -timeout=10 -rss_limit_mb=4096 -detect_leaks=0 -print_final_stats=1 -artifact_prefix="$artifacts" \
    "$scratch/$harness" "${seeds[@]}" >"$scratch/$harness.log" 2>&1 || status=$?
  # Fork mode exits with the status of the last job it ran, so a contained abort in that job
  # ends the run with 1 (the full run of 2026-12-04 did); there a run that reached its end
  # ("INFO: exiting") is judged by the replay of its crash inputs below. Any other failure stands.
  if [ "$status" -ne 0 ] && ! { [ -n "$pattern" ] && grep -aq '^INFO: exiting: ' "$scratch/$harness.log"; }; then
    verdict=failed
  fi
  if [ -n "$pattern" ]; then
    for input in "$artifacts"*; do
      [ -e "$input" ] || continue
      if ASAN_OPTIONS=detect_leaks=0 FREEZECTL_FUZZ="$harness" "$bin" -runs=1 "$input" 2>&1 | grep -Eq "$pattern"; then
        count=$((count + 1))
      else
        verdict=failed
        echo "== not a contained abort: $input" >>"$scratch/$harness.log"
      fi
    done
  fi
  cp "$artifacts"* "$build/crashes/" 2>/dev/null || true
  echo "$verdict $count" >"$scratch/$harness.verdict"
  if [ "$verdict" = ok ]; then
    echo "$harness ok${pattern:+ ($count contained aborts)}"
  else
    echo "$harness FAILED (log: $build/crashes/$harness.log)"
    cp "$scratch/$harness.log" "$build/crashes/$harness.log"
  fi
}
export -f run_one

started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
printf '%s\n' $harnesses | xargs -P 2 -I{} bash -c 'run_one "$@"' _ {} "$seconds" "$bin" "$scratch" "$runs" | tee "$scratch/results"

# The figures: executions, speed, corpus, crashes per harness, from libFuzzer's final stats.
python3 - "$scratch" "$seconds" "$runs" "$started" "$report" $harnesses <<'PY'
import os, re, sys, platform
scratch, seconds, budget_runs, started, report, harnesses = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5] == "1", sys.argv[6:]
rows, failed = [], []
for h in harnesses:
    log = open(os.path.join(scratch, h + ".log"), errors="replace").read()
    stat = lambda key: int(m.group(1)) if (m := re.search(r"stat::%s:\s+(\d+)" % key, log)) else 0
    runs, speed = stat("number_of_executed_units"), stat("average_exec_per_sec")
    # Fork mode prints no final stats: its last "#N: ... exec/s: S" line has the totals.
    forked = re.findall(r"^#(\d+): .*exec/s: (\d+)", log, flags=re.M)
    if not runs and forked: runs, speed = int(forked[-1][0]), int(forked[-1][1])
    verdict, contained = open(os.path.join(scratch, h + ".verdict")).read().split()
    crashed = verdict != "ok"
    if crashed: failed.append(h)
    corpus = len(os.listdir(os.path.join(scratch, h))) if os.path.isdir(os.path.join(scratch, h)) else 0
    seeds = len(os.listdir(os.path.join("Fuzz/Corpus", h)))
    rows.append((h, runs, speed, seeds, corpus, 1 if crashed else 0, int(contained)))
    print("%-22s %12d runs %8d/s  seeds %3d  found %5d  crashes %d  contained %d" % rows[-1])
if report:
    # One row per harness, each from the last run that reported it: a run of some harnesses
    # (--only) replaces their rows and keeps the others'.
    sys.path.insert(0, "scripts")
    from report_section import replace_section, section_lines
    path = "docs/reliability.md"
    budget = "%s runs" % format(budget_runs, ",") if budget_runs else "%d s" % seconds
    kept = {}
    for line in section_lines(path, "fuzz"):
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| ") and len(cells) == 10 and cells[0] not in ("harness", "---") and cells[0] not in harnesses:
            kept[cells[0]] = line
    table = ["| harness | run | budget | executions | per second | seeds | inputs found | crashes | contained aborts | kernel |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|---|"]
    mine = {r[0]: "| %s | %s | %s | %d | %d | %d | %d | %d | %d | %s |" % (r[0], started, budget, *r[1:], platform.release()) for r in rows}
    table += [mine.get(h) or kept[h] for h in sorted(set(mine) | set(kept))]
    replace_section(path, "fuzz", "scripts/fuzz.sh --report", [
        "Each harness under libFuzzer with the address sanitizer, two at a time, on %d cores; each row is "
        "the last run that reported that harness (`budget`: until so many executions, or for so long). "
        "Seeds from Fuzz/Corpus; \"inputs found\" is the corpus libFuzzer grew (new coverage), discarded "
        "after the run; \"contained aborts\" are toml++'s assertion failures, which end only the child "
        "that freezectld parses a policy in." % os.cpu_count(),
        "", *table, ""])
    print("wrote " + path)
sys.exit(1 if failed else 0)
PY
