import Foundation

/// Everything one run measured, the machine it ran on, and what it had to skip.
struct Report: Codable {
    var mode: String
    var started: String
    var machine: [String: String]
    var series: [Series] = []
    var skipped: [String] = []

    mutating func add(_ series: Series) { self.series.append(series) }

    func find(_ group: String, _ parameters: [String: String]) -> Series? {
        series.first { candidate in
            candidate.group == group && parameters.allSatisfy { key, value in candidate.parameters[key] == value }
        }
    }

    func values(_ key: String, in group: String) -> [Int] {
        Set(series.filter { $0.group == group }.compactMap { $0.parameters[key].flatMap(Int.init) }).sorted()
    }
}

/// docs/benchmarks.md: the targets first, then one table per question of the benchmark issue.
struct MarkdownReport {
    let report: Report

    func render() -> String {
        var out: [String] = []
        out.append("# freezectl benchmarks")
        out.append("")
        out.append("Written by `bash scripts/bench.sh` (\(report.mode) mode) on \(report.started); the raw samples are in "
                   + "[benchmarks.json](benchmarks.json). "
                   + (report.started.contains("(parts") ? "The parts named in parentheses were measured again later, on the same kind of machine; every other figure comes from the first run. " : "Every figure comes from this one run. ")
                   + "Medians, with the 10th–90th "
                   + "percentile range as the spread; ratios are of medians. What the figures mean and where the time goes: "
                   + "[performance.md](performance.md).")
        out.append("")
        out.append("Machine: " + ["kernel", "cpu", "cores", "memory", "layout", "freezectl", "runc", "docker"]
            .compactMap { key in report.machine[key].map { "\(key) \($0)" } }.joined(separator: "; ") + ".")
        out.append("")
        out += targets()
        out += library()
        out += commands(group: "cli", title: "## 2. The CLI end to end, one container",
                        note: "One command per pause and per unpause, spawned the same way for every tool, alternating which tool goes first; after each command the benchmark reads the kernel's freezer state of every container process.")
        out += commands(group: "batch", title: "## 3. Batches",
                        note: "freezectl: one `freezectl pause --filter label=...` (or `unpause`) for the whole batch. runc: one `runc pause ID` per container, one after the other, as a script does. docker: one `docker pause ID...` with every ID. containerd (tasks in namespace k8s.io made with `ctr run`): freezectl by label through containerd's task API (and with --direct); ctr: one `ctr task pause ID` per task, one after the other, as a node script does.")
        out += memory()
        out += scaling()
        out += daemon()
        out += DeepPauseReport(report: report).render()
        out += IdleReport(report: report).render()
        if !report.skipped.isEmpty {
            out.append("## Skipped")
            out.append("")
            out += report.skipped.map { "- " + $0 }
            out.append("")
        }
        return out.joined(separator: "\n")
    }

    private func cell(_ series: Series?) -> String {
        guard let series, !series.samples.isEmpty else { return "–" }
        return "\(formatDuration(series.median)) (\(formatDuration(series.p10))–\(formatDuration(series.p90)))"
    }

    private func ratio(_ a: Series?, _ b: Series?) -> Double {
        guard let a, let b, !a.samples.isEmpty, !b.samples.isEmpty else { return .nan }
        return a.median / b.median
    }

    private func targets() -> [String] {
        var rows = ["## Targets", "", "| target | measured | met |", "|---|---|---|"]
        func row(_ name: String, _ value: Double, _ met: (Double) -> Bool, _ text: String) {
            rows.append("| \(name) | \(value.isFinite ? text : "not measured in this run") | \(value.isFinite ? (met(value) ? "yes" : "**no**") : "–") |")
        }
        for backend in ["v1", "v2"] {
            let r = ratio(report.find("library", ["backend": backend, "processes": "100", "tool": "library", "operation": "freeze"]),
                          report.find("library", ["backend": backend, "processes": "100", "tool": "floor", "operation": "freeze"]))
            row("library freeze of 100 processes, \(backend), within 1.3× the kernel floor", r, { $0 <= 1.3 }, "\(formatRatio(r)) the floor")
        }
        let single = ratio(report.find("cli", ["engine": "runc", "tool": "freezectl", "operation": "pause"]),
                           report.find("cli", ["engine": "runc", "tool": "runc", "operation": "pause"]))
        row("`freezectl pause runc:X` no slower than `runc pause X`", single, { $0 <= 1 }, "\(formatRatio(single)) the time of runc")
        func pair(_ tool: String) -> Double {
            let pause = report.find("cli", ["engine": "runc", "tool": tool, "operation": "pause"])
            let unpause = report.find("cli", ["engine": "runc", "tool": tool, "operation": "unpause"])
            guard let pause, let unpause, !pause.samples.isEmpty, !unpause.samples.isEmpty else { return .nan }
            return pause.median + unpause.median
        }
        let pairs = pair("freezectl") / pair("runc")
        row("`freezectl pause runc:X` + `unpause` at most 1.0× `runc pause` + `runc resume`", pairs, { $0 <= 1 }, "\(formatRatio(pairs)) the time of runc")
        let largest = report.values("processes", in: "library").max() ?? 0
        func sum(_ tool: String) -> Double {
            let parts = ["freeze", "thaw"].map { report.find("library", ["backend": "v2", "processes": "\(largest)", "tool": tool, "operation": $0]) }
            guard parts.allSatisfy({ $0?.samples.isEmpty == false }) else { return .nan }
            return parts.reduce(0) { $0 + $1!.median }
        }
        let cli = sum("cli") / sum("floor")
        row("the \(largest)-process v2 cgroup through the CLI (`pause` + `unpause`, two process starts) at most 1.5× the kernel floor's freeze + thaw",
            cli, { $0 <= 1.5 }, "\(formatRatio(cli)) the floor")
        let rss = report.find("memory", ["engine": "runc", "containers": "1", "tool": "freezectl"])?.median ?? .nan
        row("peak RSS of one `freezectl pause runc:X` under 12 MiB", rss, { $0 < 12 * 1024 }, String(format: "%.1f MiB", rss / 1024))
        let size = report.find("binary", ["tool": "freezectl"])?.median ?? .nan
        row("the stripped `freezectl` binary under 40 MB", size, { $0 < 40e6 }, String(format: "%.1f MB", size / 1e6))
        let loop = ratio(report.find("batch", ["engine": "runc", "containers": "100", "tool": "runc", "operation": "pause"]),
                         report.find("batch", ["engine": "runc", "containers": "100", "tool": "freezectl", "operation": "pause"]))
        row("batch of 100: at least 10× faster than 100 `runc pause`", loop, { $0 >= 10 }, "\(formatRatio(loop)) faster")
        for tool in ["freezectl", "freezectl --direct"] {
            let docker = ratio(report.find("batch", ["engine": "docker", "containers": "100", "tool": "docker", "operation": "pause"]),
                               report.find("batch", ["engine": "docker", "containers": "100", "tool": tool, "operation": "pause"]))
            row("batch of 100: at least 20× faster than `docker pause` of 100 IDs (`\(tool)`)", docker, { $0 >= 20 }, "\(formatRatio(docker)) faster")
        }
        let api = ratio(report.find("daemon", ["tool": "freezectld", "operation": "pair"]), report.find("daemon", ["tool": "runc", "operation": "pair"]))
        row("pause+unpause of one runc container through freezectld's API at most 0.3× `runc pause` + `runc resume`", api, { $0 <= 0.3 }, "\(formatRatio(api)) the time of runc")
        daemonTargets(row)
        rows += DeepPauseReport(report: report).targets()
        rows += IdleReport(report: report).targets()
        return rows + [""]
    }

    /// Issue 35's figures for freezectld.
    private func daemonTargets(_ row: (String, Double, (Double) -> Bool, String) -> Void) {
        let pair = report.find("daemon", ["tool": "freezectld", "operation": "pair"])
        row("pause+unpause of one runc container through the API: median at most 0.5 ms", pair?.median ?? .nan, { $0 <= 0.5e-3 },
            formatDuration(pair?.median ?? .nan))
        row("pause+unpause of one runc container through the API: p99 at most 2 ms", pair?.quantile(0.99) ?? .nan, { $0 <= 2e-3 },
            formatDuration(pair?.quantile(0.99) ?? .nan))
        let pairs = report.find("daemon", ["operation": "pair-rps"])?.median ?? .nan
        row("pause/unpause pairs per second on 8 connections on 8 containers: at least 8,000", pairs, { $0 >= 8000 }, String(format: "%.0f/s", pairs))
        let statuses = report.find("daemon", ["operation": "status-rps"])?.median ?? .nan
        row("status requests per second on 8 connections: at least 20,000", statuses, { $0 >= 20000 }, String(format: "%.0f/s", statuses))
        for operation in ["pause", "unpause"] {
            let api = report.find("daemon", ["tool": "freezectld", "operation": "batch-" + operation])
            let library = report.find("daemon", ["tool": "library", "operation": "batch-" + operation])
            let times = ratio(api, library)
            row("\(api?.parameters["containers"] ?? "1000") containers by label, one API call to \(operation): within 1.5× the library's batch", times,
                { $0 <= 1.5 }, "\(formatRatio(times)) the library's")
        }
        for (operation, limit) in [("rss-idle", 20.0), ("rss-loaded", 24.0)] {
            let kib = report.find("daemon", ["operation": operation])?.median ?? .nan
            row("freezectld resident memory \(operation == "rss-idle" ? "idle" : "under load") at most \(Int(limit)) MiB", kib, { $0 <= limit * 1024 },
                String(format: "%.1f MiB", kib / 1024))
        }
    }

    private func daemon() -> [String] {
        guard report.series.contains(where: { $0.group == "daemon" }) else { return [] }
        var rows = ["## 6. freezectld", "",
                    "The benchmark is the daemon's client: one HTTP/1.1 connection on the unix socket, kept alive, one request at a time (the cheapest client, so that the figures are the daemon's). A pair is `POST /v1/pause` then `POST /v1/unpause` of `runc:ID`, against `runc pause` then `runc resume`, alternating which goes first; the kernel's freezer state is read after each (not timed). Throughput: 8 connections at once, each on a container of its own. Batch: one `POST /v1/pause` (then unpause) with `all` and a label filter over 1,000 runc containers, against the library's own batch in the harness's process (Resolver: resolve the same selection, run the batch), alternating. Memory: VmRSS after start, VmHWM after the throughput runs.", "",
                    "| what | measured |", "|---|---|"]
        let pair = report.find("daemon", ["tool": "freezectld", "operation": "pair"])
        let runc = report.find("daemon", ["tool": "runc", "operation": "pair"])
        rows.append("| pause+unpause, freezectld API | \(cell(pair)), p99 \(formatDuration(pair?.quantile(0.99) ?? .nan)) |")
        rows.append("| pause+unpause, runc pause + runc resume | \(cell(runc)) (API: \(formatRatio(ratio(pair, runc))) of it) |")
        for operation in ["status-rps", "pair-rps"] {
            if let series = report.find("daemon", ["operation": operation]) {
                rows.append("| \(series.name) | \(String(format: "%.0f", series.median)) |")
            }
        }
        for operation in ["batch-pause", "batch-unpause"] {
            for tool in ["freezectld", "library"] {
                if let series = report.find("daemon", ["tool": tool, "operation": operation]) { rows.append("| \(series.name) | \(cell(series)) |") }
            }
        }
        for operation in ["rss-idle", "rss-loaded"] {
            if let series = report.find("daemon", ["operation": operation]) {
                rows.append("| \(series.name) | \(String(format: "%.1f MiB", series.median / 1024)) |")
            }
        }
        return rows + [""]
    }

    private func library() -> [String] {
        var rows = ["## 1. Library freeze and thaw against the kernel floor", "",
                    "One cgroup of N processes sleeping in pause(2). Library: `CgroupFreezer.freeze` and `thaw` on a resolved target (the state checks, the self-freeze guard, the write through the cgroupfs check, the wait, the final state read). Floor: C that only writes the freeze file and waits the cheapest correct way (v1: read freezer.state until FROZEN; v2: poll(2) for POLLPRI on cgroup.events until `frozen 1`). Rounds alternate which goes first.", "",
                    "| backend | processes | library freeze | floor freeze | ratio | library thaw | floor thaw | ratio |",
                    "|---|---:|---|---|---:|---|---|---:|"]
        for backend in ["v1", "v2"] {
            for processes in report.values("processes", in: "library") {
                func find(_ tool: String, _ operation: String) -> Series? {
                    report.find("library", ["backend": backend, "processes": "\(processes)", "tool": tool, "operation": operation])
                }
                guard find("library", "freeze") != nil else { continue }
                rows.append("| \(backend) | \(processes) | \(cell(find("library", "freeze"))) | \(cell(find("floor", "freeze"))) | "
                            + "\(formatRatio(ratio(find("library", "freeze"), find("floor", "freeze")))) | \(cell(find("library", "thaw"))) | "
                            + "\(cell(find("floor", "thaw"))) | \(formatRatio(ratio(find("library", "thaw"), find("floor", "thaw")))) |")
            }
        }
        for backend in ["v1", "v2"] {
            let largest = report.values("processes", in: "library").max() ?? 0
            func find(_ tool: String, _ operation: String) -> Series? {
                report.find("library", ["backend": backend, "processes": "\(largest)", "tool": tool, "operation": operation])
            }
            guard let pause = find("cli", "freeze"), let unpause = find("cli", "thaw") else { continue }
            let floor = (find("floor", "freeze")?.median ?? .nan) + (find("floor", "thaw")?.median ?? .nan)
            rows += ["", "Through the CLI, \(backend), \(largest) processes (a process start each, as a script runs it): "
                     + "`freezectl pause` \(cell(pause)), `freezectl unpause` \(cell(unpause)); "
                     + "\(formatRatio((pause.median + unpause.median) / floor)) "
                     + "the floor's freeze + thaw."]
            if let frozen = find("floor-process", "freeze"), let thawed = find("floor-process", "thaw") {
                rows[rows.count - 1] += " The floor as a process of its own (bench-kernel-floor: C, the same write and wait, "
                    + "started the same way): \(cell(frozen)) and \(cell(thawed)); "
                    + "\(formatRatio((frozen.median + thawed.median) / floor)) "
                    + "the floor, what any program started fresh pays before its own work."
            }
        }
        if let setup = report.find("library", ["step": "setup"]) {
            rows += ["", "Once per embedder, not per freeze: \(setup.name): \(cell(setup))."]
        }
        return rows + [""]
    }

    private func commands(group: String, title: String, note: String) -> [String] {
        var rows = [title, "", note, "",
                    "| containers | engine | tool | pause | per container | unpause | pause speed-up |",
                    "|---:|---|---|---|---|---|---:|"]
        for engine in ["runc", "docker", "containerd"] {
            // What the engine's own tool is called in the series.
            let own = engine == "containerd" ? "ctr" : engine
            for containers in report.values("containers", in: group) {
                let tools = report.series.filter { $0.group == group && $0.parameters["engine"] == engine
                    && $0.parameters["containers"] == "\(containers)" && $0.parameters["operation"] == "pause" }
                    .compactMap { $0.parameters["tool"] }
                let baseline = report.find(group, ["engine": engine, "containers": "\(containers)", "tool": own, "operation": "pause"])
                for tool in tools {
                    let pause = report.find(group, ["engine": engine, "containers": "\(containers)", "tool": tool, "operation": "pause"])
                    let unpause = report.find(group, ["engine": engine, "containers": "\(containers)", "tool": tool, "operation": "unpause"])
                    let speedup = tool == own ? "1×" : formatRatio(ratio(baseline, pause)) + " vs \(own)"
                    rows.append("| \(containers) | \(engine) | \(tool) | \(cell(pause)) | \(formatDuration((pause?.median ?? .nan) / Double(containers))) | \(cell(unpause)) | \(speedup) |")
                }
            }
        }
        return rows + [""]
    }

    private func memory() -> [String] {
        var rows = ["## 4. Peak memory of one pause command", "",
                    "The peak resident set of the pausing process, measured by GNU time (`%M`) in separate, untimed rounds; median over three rounds; for a runc loop, the largest of its commands.", "",
                    "| what was paused | tool | peak RSS |", "|---|---|---:|"]
        for series in report.series where series.group == "memory" {
            let subject = series.name.replacingOccurrences(of: "pause ", with: "").components(separatedBy: ", ").first ?? series.name
            rows.append("| \(subject) | \(series.parameters["tool"] ?? "") | \(String(format: "%.1f MiB", series.median / 1024)) |")
        }
        return rows + [""]
    }

    private func scaling() -> [String] {
        var rows = ["## 5. How the cost grows", "", "With processes in one cgroup (library freeze, medians):", "",
                    "| processes | v1 library | v1 floor | v2 library | v2 floor |", "|---:|---|---|---|---|"]
        for processes in report.values("processes", in: "library") {
            func median(_ backend: String, _ tool: String) -> String {
                formatDuration(report.find("library", ["backend": backend, "processes": "\(processes)", "tool": tool, "operation": "freeze"])?.median ?? .nan)
            }
            rows.append("| \(processes) | \(median("v1", "library")) | \(median("v1", "floor")) | \(median("v2", "library")) | \(median("v2", "floor")) |")
        }
        rows += ["", "With cgroups (runc containers of three processes each, pause of the whole set, medians):", "",
                 "| containers | freezectl | per container | runc loop | per container |", "|---:|---|---|---|---|"]
        let counts = Set(report.values("containers", in: "cli") + report.values("containers", in: "batch")).sorted()
        for containers in counts {
            let group = containers == 1 ? "cli" : "batch"
            let ours = report.find(group, ["engine": "runc", "containers": "\(containers)", "tool": "freezectl", "operation": "pause"])
            let theirs = report.find(group, ["engine": "runc", "containers": "\(containers)", "tool": "runc", "operation": "pause"])
            guard ours != nil || theirs != nil else { continue }
            let n = Double(containers)
            rows.append("| \(containers) | \(formatDuration(ours?.median ?? .nan)) | \(formatDuration((ours?.median ?? .nan) / n)) | "
                        + "\(formatDuration(theirs?.median ?? .nan)) | \(formatDuration((theirs?.median ?? .nan) / n)) |")
        }
        return rows + [""]
    }
}
