#!/usr/bin/env python3
"""Soak: racing clients on two forking process trees, then every promise checked.

Two trees of PROCESSES processes that fork and write continuously, one in a v1 freezer cgroup
and one in a v2 cgroup (both made here, under the hierarchies' roots, with unguessable names).
CLIENTS threads run `freezectl pause|unpause|status --format json` on random trees, and as many
API clients send the same requests to freezectld (HTTP on its socket, as an orchestrator does),
for CYCLES cycles: in each cycle every client runs one command (CYCLES x 2 x CLIENTS commands in
all). Then:

- every command exited 0, printed one JSON line per target, and said what it did: a pause ends
  `frozen`, an unpause `thawed`, with `ok` or `already`;
- the audit logs (the CLI's and the daemon's) hold one record per command that acted, with the
  same action and result, every line whole JSON;
- after a last unpause nothing is frozen or FREEZING, and no process of the trees is stopped.

Everything made (cgroups, processes, the daemon, the scratch directory) is removed at the end,
also on failure or Ctrl-C. Exit 1 on any violation, with each one listed.
"""
import argparse, collections, http.client, json, os, random, shutil, signal, socket, subprocess, sys, tempfile, threading, time
import urllib.parse

V1_ROOT = "/sys/fs/cgroup/freezer"
V2_ROOT = "/sys/fs/cgroup/unified"

# Each process of a tree (scripts/soak-worker.c, compiled into the scratch directory): fork a
# child that writes a line and exits, wait for it, again every 100 ms (about 2,000 forks a second
# over both trees: busy, without starving the clients).
WORKER_SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "soak-worker.c")


class UnixHTTPConnection(http.client.HTTPConnection):
    """HTTP on a unix socket: what an orchestrator's client does with freezectld."""

    def __init__(self, path):
        super().__init__("localhost", timeout=120)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


def mounted(path):
    return os.path.isdir(path) and any(line.split()[4] == path for line in open("/proc/self/mountinfo"))


class Soak:
    def __init__(self, args):
        self.args = args
        self.scratch = tempfile.mkdtemp(prefix="freezectl-soak.")
        tag = os.path.basename(self.scratch).split(".")[-1]
        self.v1 = os.path.join(V1_ROOT, "fz-soak-" + tag)
        self.v2 = os.path.join(V2_ROOT, "fz-soak-" + tag)
        self.trees = []
        self.daemon = None
        self.socket = os.path.join(self.scratch, "d.sock")
        self.cli_audit = os.path.join(self.scratch, "cli-audit.jsonl")
        self.daemon_audit = os.path.join(self.scratch, "daemon-audit.jsonl")
        self.runs = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.violations = []

    # --- setup and teardown -------------------------------------------------------------------

    def start_tree(self, cgroup, version):
        os.mkdir(cgroup)
        out = os.path.join(self.scratch, os.path.basename(cgroup) + "-" + version + ".out")
        script = self.worker()
        # The root enters the cgroup before it starts its workers, so all of them are born there.
        root = subprocess.Popen(
            [sys.executable, "-c",
             "import os, subprocess, sys, time\n"
             "open(sys.argv[1] + '/cgroup.procs', 'w').write(str(os.getpid()))\n"
             "kids = [subprocess.Popen([sys.argv[2], sys.argv[3]]) for _ in range(int(sys.argv[4]) - 1)]\n"
             "while True: time.sleep(3600)\n",
             cgroup, script, out, str(self.args.processes)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        self.trees.append((root, cgroup, version))
        deadline = time.time() + 30
        while len(self.members(cgroup)) < self.args.processes and time.time() < deadline:
            time.sleep(0.1)
        if len(self.members(cgroup)) < self.args.processes:
            raise RuntimeError("the %s tree did not reach %d processes" % (version, self.args.processes))

    def worker(self):
        """The tree's worker program, compiled once per run with the C compiler at hand."""
        binary = os.path.join(self.scratch, "soak-worker")
        if not os.path.exists(binary):
            compiler = shutil.which("cc") or shutil.which("clang")
            if compiler is None:
                raise RuntimeError("no C compiler (cc or clang) for scripts/soak-worker.c: install gcc, or put /opt/swift/usr/bin on PATH")
            subprocess.run([compiler, "-O2", "-o", binary, WORKER_SOURCE], check=True)
        return binary

    def members(self, cgroup):
        try:
            return [int(p) for p in open(os.path.join(cgroup, "cgroup.procs")).read().split()]
        except OSError:
            return []

    def start_daemon(self):
        daemon = self.args.freezectld
        if not daemon or not os.path.exists(daemon):
            return
        log = open(os.path.join(self.scratch, "daemon.log"), "w")
        self.daemon = subprocess.Popen([daemon, "--socket", self.socket, "--audit-log", self.daemon_audit],
                                       stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                s = socket.socket(socket.AF_UNIX)
                s.connect(self.socket)
                s.close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("freezectld did not listen on " + self.socket)

    def thaw(self, cgroup, version):
        try:
            if version == "v1":
                open(os.path.join(cgroup, "freezer.state"), "w").write("THAWED")
            else:
                open(os.path.join(cgroup, "cgroup.freeze"), "w").write("0")
        except OSError:
            pass

    def cleanup(self):
        if self.daemon and self.daemon.poll() is None:
            self.daemon.terminate()
            try:
                self.daemon.wait(10)
            except subprocess.TimeoutExpired:
                self.daemon.kill()
        for root, cgroup, version in self.trees:
            # Thawed first: a frozen (v1) task cannot die.
            self.thaw(cgroup, version)
            for pid in self.members(cgroup):
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            root.kill()
            root.wait()
        for _, cgroup, _ in self.trees:
            deadline = time.time() + 10
            while os.path.isdir(cgroup) and time.time() < deadline:
                try:
                    os.rmdir(cgroup)
                except OSError:
                    time.sleep(0.05)
        shutil.rmtree(self.scratch, ignore_errors=True)

    # --- the race -----------------------------------------------------------------------------

    def client(self, through_daemon):
        """CYCLES commands, one per cycle: every client's command of a cycle starts together."""
        rng = random.Random()
        for _ in range(self.args.cycles):
            if self.stop.is_set():
                return
            op = rng.choice(["pause", "unpause", "pause", "unpause", "status"])
            cgroup = rng.choice([self.v1, self.v2])
            started = time.time()
            if through_daemon:
                status, stdout, stderr = self.api_call(op, cgroup)
            else:
                command = [self.args.freezectl, op, "--format", "json"]
                if op != "status":
                    command += ["--audit-log", self.cli_audit]
                command.append(cgroup)
                done = subprocess.run(command, capture_output=True, text=True, timeout=120)
                status, stdout, stderr = done.returncode, done.stdout, done.stderr
            with self.lock:
                self.runs.append({"op": op, "cgroup": cgroup, "daemon": through_daemon, "status": status,
                                  "stdout": stdout, "stderr": stderr, "seconds": time.time() - started})
            try:
                self.barrier.wait()
            except threading.BrokenBarrierError:
                return

    def api_call(self, op, cgroup):
        """One request of an API client (an orchestrator's HTTP on the daemon's socket, docs/daemon.md),
        answered as the CLI would: 0 for HTTP 200 and one JSON result per line; else the HTTP status
        and the body."""
        connection = UnixHTTPConnection(self.socket)
        try:
            if op == "status":
                connection.request("GET", "/v1/status?" + urllib.parse.urlencode({"target": cgroup}))
            else:
                connection.request("POST", "/v1/" + op, body=json.dumps({"targets": [cgroup]}),
                                   headers={"Content-Type": "application/json"})
            answer = connection.getresponse()
            body = answer.read().decode("utf-8", "replace")
        except (OSError, http.client.HTTPException) as error:
            return -1, "", "request failed: %r" % error
        finally:
            connection.close()
        if answer.status != 200:
            return answer.status, "", "HTTP %d: %s" % (answer.status, body)
        if op == "status":
            return 0, body, ""
        try:
            results = json.loads(body)["results"]
        except (ValueError, KeyError, TypeError):
            return 0, body, ""  # the check reports what is not one JSON result per line
        return 0, "".join(json.dumps(result) + "\n" for result in results), ""

    def race(self):
        kinds = [False] * self.args.clients + ([True] * self.args.clients if self.daemon else [])
        self.barrier = threading.Barrier(len(kinds))
        threads = [threading.Thread(target=self.client, args=(kind,), daemon=True) for kind in kinds]
        for t in threads:
            t.start()
        try:
            # Joined with a timeout: a signal (Ctrl-C, SIGTERM) is only handled between waits.
            while any(t.is_alive() for t in threads):
                for t in threads:
                    t.join(0.5)
        finally:
            # On a signal: each client ends after its command in flight, before the cleanup thaws.
            self.stop.set()
            self.barrier.abort()
            for t in threads:
                t.join()

    # --- the checks ---------------------------------------------------------------------------

    def violation(self, text):
        self.violations.append(text)

    def check(self):
        acted = collections.Counter()
        for run in self.runs:
            where = "%s %s%s" % (run["op"], run["cgroup"], " (daemon)" if run["daemon"] else "")
            if run["status"] != 0:
                self.violation("%s exited %d: %s" % (where, run["status"], run["stderr"].strip()[:300]))
                continue
            lines = [l for l in run["stdout"].splitlines() if l.strip()]
            try:
                objects = [json.loads(l) for l in lines]
            except ValueError:
                self.violation("%s printed a line that is not JSON: %r" % (where, run["stdout"][:300]))
                continue
            results = [o for o in objects if "lease" not in o]
            if len(results) != 1:
                self.violation("%s printed %d results" % (where, len(results)))
                continue
            result = results[0]
            if run["op"] == "status":
                if result.get("state") not in ("thawed", "freezing", "frozen"):
                    self.violation("%s said state %r" % (where, result.get("state")))
                continue
            expected = "frozen" if run["op"] == "pause" else "thawed"
            if result.get("result") not in ("ok", "already") or result.get("state") != expected:
                self.violation("%s said %s, %s" % (where, result.get("result"), result.get("state")))
                continue
            acted[(run["op"], result["result"])] += 1
        recorded = collections.Counter()
        for path in (self.cli_audit, self.daemon_audit):
            if not os.path.exists(path):
                continue
            for number, line in enumerate(open(path, "rb").read().split(b"\n"), 1):
                if not line:
                    continue
                try:
                    record = json.loads(line)
                except ValueError:
                    self.violation("%s line %d is not whole JSON: %r" % (os.path.basename(path), number, line[:200]))
                    continue
                recorded[(record.get("action"), record.get("result"))] += 1
        for key in set(acted) | set(recorded):
            if key[1] == "ok" and acted[key] != recorded[key]:
                self.violation("%d commands %s with %s, but %d audit records say so" % (acted[key], key[0], key[1], recorded[key]))
        # The end: one more unpause of each; then nothing frozen or freezing, no process stopped.
        for _, cgroup, _ in self.trees:
            done = subprocess.run([self.args.freezectl, "unpause", cgroup], capture_output=True, text=True)
            if done.returncode != 0:
                self.violation("the final unpause of %s exited %d: %s" % (cgroup, done.returncode, done.stderr.strip()))
        for _, cgroup, version in self.trees:
            if version == "v1":
                state = open(os.path.join(cgroup, "freezer.state")).read().strip()
                if state != "THAWED":
                    self.violation("%s is %s after the final unpause" % (cgroup, state))
            else:
                events = open(os.path.join(cgroup, "cgroup.events")).read()
                if "frozen 1" in events or open(os.path.join(cgroup, "cgroup.freeze")).read().strip() != "0":
                    self.violation("%s is still frozen after the final unpause" % cgroup)
        return acted


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cycles", type=int, default=25, help="commands per client (default 25)")
    parser.add_argument("--clients", type=int, default=4, help="racing CLI clients, and as many through the daemon (default 4)")
    parser.add_argument("--processes", type=int, default=100, help="processes per tree (default 100)")
    parser.add_argument("--freezectl", required=True)
    parser.add_argument("--freezectld", default="")
    parser.add_argument("--report", action="store_true", help="write the figures into docs/reliability.md")
    args = parser.parse_args()
    if os.geteuid() != 0 or not mounted(V1_ROOT) or not mounted(V2_ROOT):
        sys.exit("soak: needs root and the v1 freezer at %s and cgroup v2 at %s" % (V1_ROOT, V2_ROOT))
    soak = Soak(args)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(130))
    started = time.time()
    try:
        soak.start_tree(soak.v1, "v1")
        soak.start_tree(soak.v2, "v2")
        soak.start_daemon()
        soak.race()
        acted = soak.check()
    finally:
        soak.cleanup()
    elapsed = time.time() - started
    clients = args.clients * (2 if soak.daemon else 1)
    print("soak: %d commands by %d racing clients (%s) on two trees of %d processes in %.0f s: %s; %d violations"
          % (len(soak.runs), clients, "CLI and daemon" if soak.daemon else "CLI", args.processes, elapsed,
             ", ".join("%s %s %d" % (k[0], k[1], v) for k, v in sorted(acted.items())), len(soak.violations)))
    for v in soak.violations[:50]:
        print("  violation: " + v)
    if args.report:
        write_report(args, soak, acted, elapsed, clients)
    sys.exit(1 if soak.violations else 0)


def write_report(args, soak, acted, elapsed, clients):
    import platform
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from report_section import replace_section
    replace_section("docs/reliability.md", "soak", "scripts/soak.sh --report", [
        "Run of %s on kernel %s, %d cores: %d cycles of %d racing clients (%d CLIs%s), %d commands, on a v1 and a v2 "
        "tree of %d forking processes each, in %.0f s (slowest command %.2f s). Changes: %s. Violations: %d."
        % (time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), platform.release(), os.cpu_count(), args.cycles,
           clients, args.clients, ", %d API clients of freezectld" % args.clients if soak.daemon else "", len(soak.runs),
           args.processes, elapsed, max((r["seconds"] for r in soak.runs), default=0),
           ", ".join("%s %s %d" % (k[0], k[1], v) for k, v in sorted(acted.items())), len(soak.violations))])
    print("wrote docs/reliability.md")


if __name__ == "__main__":
    main()
