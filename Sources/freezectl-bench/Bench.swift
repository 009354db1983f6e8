import CgroupFreezer
import CommandSyntax
import Foundation

/// How much of everything one run measures.
struct Plan {
    var quick: Bool
    var processCounts: [Int]
    var iterations: Int
    var iterationsLarge: Int
    var cliRounds: Int
    var batchSizes: [Int]
    var dockerSizes: [Int]
    var docker: Bool
    var containerdSizes: [Int] = [100]
    var containerd: Bool = true

    func batchRounds(_ size: Int) -> Int { quick ? 2 : (size >= 500 ? 3 : size >= 100 ? 5 : 10) }
    func dockerRounds(_ size: Int) -> Int { quick ? 1 : (size >= 100 ? 3 : size > 1 ? 5 : 20) }

    static let full = Plan(quick: false, processCounts: [1, 10, 100, 1000], iterations: 200, iterationsLarge: 50, cliRounds: 40,
                           batchSizes: [10, 100, 500], dockerSizes: [1, 10, 100], docker: true)
    /// The same code paths at a size CI can afford; its figures say nothing.
    static let quick = Plan(quick: true, processCounts: [1, 10], iterations: 5, iterationsLarge: 2, cliRounds: 3,
                            batchSizes: [3], dockerSizes: [1, 2], docker: true, containerdSizes: [2])
}

@main
struct FreezectlBench {
    static let program = ProgramSpec(
        name: "freezectl-bench",
        version: BuildInfo.versionLine,
        abstract: "Measure freezectl against the kernel floor, runc and docker, and write the report.",
        discussion: """
        Needs root, the freezectl binary, runc and busybox; docker.io for the Docker figures. \
        Creates its own cgroups, runc containers (in a private --root) and dockerd (private \
        data, exec root and socket) and removes them all, also on SIGINT or SIGTERM.
        """,
        options: [
            .flag("quick", "Small sizes and few rounds: checks that the harness runs (what CI does); the figures mean nothing."),
            .option("output", value: "dir", "Directory for benchmarks.md and benchmarks.json. (default: docs)"),
            .option("freezectl", value: "path", "The freezectl binary to measure (default: the one beside this program)."),
            .flag("no-docker", "Leave Docker out even when dockerd is installed."),
            .option("only", value: "part", repeatable: true, "Run only these parts (library, commands, runc, docker, containerd, daemon, deeppause, idle; commands is runc, docker and containerd); repeatable; the other figures are kept from the existing benchmarks.json. Default: all."),
            .option("freezectld", value: "path", "The freezectld binary to measure (default: the one beside freezectl)."),
        ],
        commands: [])

    var quick = false
    var output = "docs"
    var freezectl: String?
    var noDocker = false
    var only: [String] = []
    var freezectld: String?

    static let parts = ["library", "commands", "runc", "docker", "containerd", "daemon", "deeppause", "idle"]

    /// The options of `line`; an unknown part is a usage error.
    init(_ line: ParsedLine) throws {
        quick = line.flag("quick")
        output = line.value("output") ?? "docs"
        freezectl = line.value("freezectl")
        noDocker = line.flag("no-docker")
        only = line.values("only")
        freezectld = line.value("freezectld")
        if let unknown = only.first(where: { !Self.parts.contains($0) }) {
            throw UsageError("unknown part '\(unknown)' for --only: give \(Self.parts.joined(separator: ", "))")
        }
    }

    /// A run that ends with this exit code (an interrupted one: 130).
    struct Exit: Error {
        let code: Int32
    }

    static func main() async {
        let line = program.parseOrExit(CommandLine.arguments.dropFirst())
        do {
            try await FreezectlBench(line).run()
        } catch let usage as UsageError {
            program.exitWithUsageError(usage)
        } catch let stop as Exit {
            exit(stop.code)
        } catch {
            FileHandle.standardError.write(Data("freezectl-bench: \(error)\n".utf8))
            exit(1)
        }
    }

    func run() async throws {
        guard getuid() == 0 else { throw UsageError("freezectl-bench needs root: it creates cgroups and containers") }
        // freezectl and bench-kernel-floor (scripts/bench.sh) are built beside this harness.
        let harnessDirectory = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        let binary = freezectl ?? harnessDirectory.appendingPathComponent("freezectl").path
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw UsageError("no freezectl binary at \(binary): build it (swift build -c release) or pass --freezectl")
        }
        guard FileManager.default.fileExists(atPath: output) || (try? FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)) != nil else {
            throw UsageError("cannot create the output directory \(output)")
        }
        var plan = quick ? Plan.quick : Plan.full
        plan.docker = !noDocker && which("dockerd") != nil
        plan.containerd = which("containerd") != nil && which("ctr") != nil
        Cleanup.shared.installSignalHandlers()
        let scratch = "/tmp/fzbench-\(getpid())"
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer {
            Cleanup.shared.runAll()
            try? FileManager.default.removeItem(atPath: scratch)
        }
        let layout = try CgroupLayout.current()
        let spawner = Spawner(scratch: scratch)
        var report = Report(mode: quick ? "quick" : "full", started: Date.ISO8601FormatStyle().format(Date()),
                            machine: Machine.describe(layout: layout, freezectl: binary, spawner: spawner))
        if !plan.docker { report.skipped.append("docker: " + (noDocker ? "--no-docker" : "dockerd is not installed")) }
        if !plan.containerd { report.skipped.append("containerd: containerd and ctr are not installed (docker.io brings them)") }

        do {
            try await runParts(plan, layout: layout, freezectl: binary, harness: harnessDirectory, scratch: scratch, spawner: spawner, into: &report)
        } catch is Cleanup.Interrupted {
            progress("interrupted: nothing written; everything the run created is removed")
            throw Exit(code: 130)
        }
        keepUnmeasuredParts(of: &report)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try encoder.encode(report).write(to: URL(fileURLWithPath: output + "/benchmarks.json"))
        try Data(MarkdownReport(report: report).render().utf8).write(to: URL(fileURLWithPath: output + "/benchmarks.md"))
        progress("wrote \(output)/benchmarks.md and \(output)/benchmarks.json")
    }

    /// The parts --only names (all by default), each into `report`.
    private func runParts(_ plan: Plan, layout: CgroupLayout, freezectl binary: String, harness harnessDirectory: URL, scratch: String,
                          spawner: Spawner, into report: inout Report) async throws {
        if only.isEmpty || only.contains("library") {
            // The floor as a process of its own (Benchmarks/kernel-floor.c), where bench.sh built it.
            let floorProcess = harnessDirectory.appendingPathComponent("bench-kernel-floor").path
            try await LibrarySuite(plan: plan, layout: layout, freezectl: binary,
                                   floorProcess: FileManager.default.isExecutableFile(atPath: floorProcess) ? floorProcess : nil,
                                   spawner: spawner).run(into: &report)
            report.add(try strippedSize(of: binary, scratch: scratch, spawner: spawner))
        }
        let rootfs = scratch + "/rootfs"
        let commandParts = ["runc", "docker", "containerd"].filter { only.isEmpty || only.contains($0) || only.contains("commands") }
        if !commandParts.isEmpty || only.contains("daemon") || only.contains("idle") { try makeBusyboxRootfs(at: rootfs) }
        if !commandParts.isEmpty {
            try CommandSuites(plan: plan, layout: layout, freezectl: binary, spawner: spawner, scratch: scratch, rootfs: rootfs)
                .run(parts: Set(commandParts), into: &report)
        }
        let daemon = freezectld ?? URL(fileURLWithPath: binary).deletingLastPathComponent().appendingPathComponent("freezectld").path
        if only.isEmpty || only.contains("daemon") {
            try await DaemonSuite(plan: plan, layout: layout, freezectld: daemon, spawner: spawner, scratch: scratch, rootfs: rootfs)
                .run(into: &report)
        }
        if only.isEmpty || only.contains("idle") {
            // The client in Python beside the harness (Benchmarks/idle-client.py), where bench.sh copied it.
            let client = harnessDirectory.appendingPathComponent("bench-idle-client.py").path
            guard FileManager.default.fileExists(atPath: client) else {
                throw UsageError("no client at \(client): run the benchmark with scripts/bench.sh, which copies it")
            }
            try IdleSuite(plan: plan, layout: layout, freezectld: daemon, client: client, spawner: spawner, scratch: scratch, rootfs: rootfs)
                .run(into: &report)
        }
        if only.isEmpty || only.contains("deeppause") {
            // The workload in plain C beside the harness (Benchmarks/memory-workload.c), where bench.sh built it.
            let workload = harnessDirectory.appendingPathComponent("bench-memory-workload").path
            guard FileManager.default.isExecutableFile(atPath: workload) else {
                throw UsageError("no workload at \(workload): run the benchmark with scripts/bench.sh, which builds it")
            }
            try await DeepPauseSuite(plan: plan, layout: layout, freezectl: binary, workload: workload, spawner: spawner, scratch: scratch)
                .run(into: &report)
        }
        try Cleanup.shared.checkInterrupted()
    }

    /// A run of some parts: the others' figures stay as the last run of the same mode measured
    /// them (and say when).
    private func keepUnmeasuredParts(of report: inout Report) {
        if !only.isEmpty, let data = FileManager.default.contents(atPath: output + "/benchmarks.json"),
           let previous = try? JSONDecoder().decode(Report.self, from: data), previous.mode == report.mode {
            // A series measured again replaces the previous one of its name or of its parameters
            // (a renamed series, e.g. the throughput's, is the same quantity).
            func key(_ series: Series) -> String? {
                series.parameters.isEmpty ? nil : series.group + "|" + series.parameters.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
            }
            let names = Set(report.series.map(\.name)), keys = Set(report.series.compactMap(key))
            report.series = previous.series.filter { !names.contains($0.name) && !(key($0).map(keys.contains) ?? false) } + report.series
            report.started = "\(previous.started) (parts \(only.joined(separator: ", ")) on \(report.started))"
            var machine = previous.machine
            if let kernel = report.machine["kernel"], kernel != previous.machine["kernel"] {
                machine["kernel"] = "\(previous.machine["kernel"] ?? "?") (\(only.joined(separator: ", ")): \(kernel))"
            }
            report.machine = machine
        }
    }
}

/// What the figures were measured on.
enum Machine {
    static func describe(layout: CgroupLayout, freezectl: String, spawner: Spawner) -> [String: String] {
        var machine: [String: String] = [:]
        var name = utsname()
        uname(&name)
        machine["kernel"] = withUnsafeBytes(of: &name.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        machine["cpu"] = cpuinfo.split(separator: "\n").first { $0.hasPrefix("model name") }
            .map { $0.split(separator: ":", maxSplits: 1).last.map { $0.trimmingCharacters(in: .whitespaces) } ?? "" }
        machine["cores"] = "\(ProcessInfo.processInfo.activeProcessorCount)"
        machine["memory"] = String(format: "%.0f GiB", Double(ProcessInfo.processInfo.physicalMemory) / 1_073_741_824)
        machine["layout"] = layout.mode.rawValue
        let linked = spawner.output("/usr/bin/ldd", [freezectl]) ?? ""
        machine["freezectl"] = linked.contains("statically linked") ? "release, a static PIE (Swift runtime and glibc linked in)"
            : linked.contains("libswiftCore") ? "release, Swift runtime linked dynamically" : "release, Swift runtime linked statically"
        machine["runc"] = which("runc").flatMap { spawner.output($0, ["--version"])?.split(separator: "\n").first.map(String.init) }
        machine["docker"] = which("docker").flatMap { spawner.output($0, ["--version"]) }
        return machine
    }
}

/// The size of `binary` as installed (scripts/install.sh strips it), in bytes: a series of one sample.
func strippedSize(of binary: String, scratch: String, spawner: Spawner) throws -> Series {
    let copy = scratch + "/stripped-" + URL(fileURLWithPath: binary).lastPathComponent
    try spawner.must("/usr/bin/strip", ["--strip-all", "-o", copy, binary])
    defer { try? FileManager.default.removeItem(atPath: copy) }
    let size = try FileManager.default.attributesOfItem(atPath: copy)[.size] as? NSNumber
    return Series(group: "binary", name: "freezectl, stripped", unit: "B", parameters: ["tool": "freezectl"],
                  samples: [size?.doubleValue ?? .nan])
}
