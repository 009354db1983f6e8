import CgroupFreezer
import Foundation

/// One way of pausing and unpausing the same containers: a list of commands run one after the
/// other (one `freezectl pause --filter ...`, or one `runc pause ID` per container).
struct Contender {
    let tool: String
    let pause: [[String]]
    let unpause: [[String]]
    var environment: [String: String] = [:]
}

/// Items 2 to 4: the CLI end to end against runc and docker, one container and batches, with
/// peak memory (GNU time).
struct CommandSuites {
    let plan: Plan
    let layout: CgroupLayout
    let freezectl: String
    let spawner: Spawner
    let scratch: String
    let rootfs: String

    /// `parts`: "runc", "docker", "containerd".
    func run(parts: Set<String>, into report: inout Report) throws {
        if parts.contains("runc") {
            try single(into: &report)
            for size in plan.batchSizes {
                try batch(size: size, into: &report)
            }
        }
        for (part, enabled, body) in [("docker", plan.docker, docker(into:)), ("containerd", plan.containerd, containerd(into:))]
            where enabled && parts.contains(part) {
            do {
                try body(&report)
            } catch let interrupted as Cleanup.Interrupted {
                throw interrupted
            } catch {
                report.skipped.append("\(part): \(error)")
                progress("\(part) skipped: \(error)")
            }
        }
    }

    /// Batches against containerd, as on a Kubernetes node: one freezectl call by label (through
    /// containerd's task API, the default, and with --direct) against one `ctr task pause` per task.
    private func containerd(into report: inout Report) throws {
        progress("starting containerd")
        let daemon = try ContainerdFleet(rootfs: rootfs, spawner: spawner, layout: layout)
        defer { daemon.stop() }
        for size in plan.containerdSizes {
            progress("starting \(size) containerd tasks")
            let label = "fzbench.containerd=\(size)"
            let tasks = try daemon.start(count: size, label: label)
            let select = ["--namespace", "k8s.io", "--filter", "label=" + label]
            let ctr = [daemon.ctr, "-a", daemon.socket, "-n", "k8s.io", "task"]
            let contenders = [
                Contender(tool: "freezectl", pause: [[freezectl, "pause", "-q"] + select], unpause: [[freezectl, "unpause", "-q"] + select],
                          environment: daemon.environment),
                Contender(tool: "freezectl --direct", pause: [[freezectl, "pause", "-q", "--direct"] + select],
                          unpause: [[freezectl, "unpause", "-q", "--direct"] + select], environment: daemon.environment),
                Contender(tool: "ctr", pause: tasks.map { ctr + ["pause", $0.id] }, unpause: tasks.map { ctr + ["resume", $0.id] }),
            ]
            let series = try compare(contenders, rounds: plan.batchRounds(size), pids: tasks.map(\.pid), group: "batch",
                                     subject: "\(size) containerd tasks", parameters: ["containers": "\(size)", "engine": "containerd"])
            series.forEach { report.add($0) }
            daemon.removeAll()
        }
    }

    /// Item 2: `freezectl pause/unpause runc:X` against `runc pause/resume X`.
    private func single(into report: inout Report) throws {
        let fleet = try RuncFleet(count: 1, prefix: "fzb-single", labels: ["fzbench": "single"],
                                  rootfs: rootfs, scratch: scratch, spawner: spawner)
        defer { fleet.destroy() }
        let id = fleet.ids[0]
        let contenders = [
            Contender(tool: "freezectl", pause: [[freezectl, "pause", "-q", "--runtime-root", fleet.root, "runc:" + id]],
                      unpause: [[freezectl, "unpause", "-q", "--runtime-root", fleet.root, "runc:" + id]]),
            Contender(tool: "runc", pause: [[fleet.runc, "--root", fleet.root, "pause", id]],
                      unpause: [[fleet.runc, "--root", fleet.root, "resume", id]]),
        ]
        let series = try compare(contenders, rounds: plan.cliRounds, pids: fleet.pids, group: "cli", subject: "1 runc container",
                                 parameters: ["containers": "1", "engine": "runc"])
        series.forEach { report.add($0) }
    }

    /// Item 3: one `freezectl pause --filter label=...` against a `runc pause` per container.
    private func batch(size: Int, into report: inout Report) throws {
        progress("starting \(size) runc containers")
        let label = "fzbench.batch=\(size)"
        let fleet = try RuncFleet(count: size, prefix: "fzb-\(size)", labels: ["fzbench.batch": "\(size)"],
                                  rootfs: rootfs, scratch: scratch, spawner: spawner)
        defer { fleet.destroy() }
        let contenders = [
            Contender(tool: "freezectl", pause: [[freezectl, "pause", "-q", "--runtime-root", fleet.root, "--filter", "label=" + label]],
                      unpause: [[freezectl, "unpause", "-q", "--runtime-root", fleet.root, "--filter", "label=" + label]]),
            Contender(tool: "runc", pause: fleet.ids.map { [fleet.runc, "--root", fleet.root, "pause", $0] },
                      unpause: fleet.ids.map { [fleet.runc, "--root", fleet.root, "resume", $0] }),
        ]
        let series = try compare(contenders, rounds: plan.batchRounds(size), pids: fleet.pids, group: "batch",
                                 subject: "\(size) runc containers", parameters: ["containers": "\(size)", "engine": "runc"])
        series.forEach { report.add($0) }
    }

    /// Items 2 and 3 against Docker: `docker pause` of every ID at once, freezectl through the
    /// Engine API (the default) and with --direct.
    private func docker(into report: inout Report) throws {
        progress("starting dockerd")
        let daemon = try DockerFleet(rootfs: rootfs, spawner: spawner, layout: layout)
        defer { daemon.stop() }
        for size in plan.dockerSizes {
            progress("starting \(size) docker containers")
            let label = "fzbench.docker=\(size)"
            let containers = try daemon.start(count: size, label: label)
            let ids = containers.map(\.id)
            let select = size == 1 ? ["docker:" + ids[0]] : ["--filter", "label=" + label]
            let contenders = [
                Contender(tool: "freezectl", pause: [[freezectl, "pause", "-q"] + select], unpause: [[freezectl, "unpause", "-q"] + select],
                          environment: daemon.environment),
                Contender(tool: "freezectl --direct", pause: [[freezectl, "pause", "-q", "--direct"] + select],
                          unpause: [[freezectl, "unpause", "-q", "--direct"] + select], environment: daemon.environment),
                Contender(tool: "docker", pause: [[daemon.docker, "pause"] + ids], unpause: [[daemon.docker, "unpause"] + ids],
                          environment: daemon.environment),
            ]
            let series = try compare(contenders, rounds: plan.dockerRounds(size), pids: containers.map(\.pid),
                                     group: size == 1 ? "cli" : "batch", subject: "\(size) docker container\(size == 1 ? "" : "s")",
                                     parameters: ["containers": "\(size)", "engine": "docker"])
            series.forEach { report.add($0) }
            _ = try? spawner.run(daemon.docker, ["rm", "-f"] + ids, extraEnvironment: daemon.environment)
        }
    }

    /// Runs every contender's pause, checks the kernel froze every process, runs its unpause,
    /// checks they run again; `rounds` times, rotating which contender goes first.
    private func compare(_ contenders: [Contender], rounds: Int, pids: [Int32], group: String, subject: String,
                         parameters: [String: String]) throws -> [Series] {
        var times: [String: Series] = [:], memory: [String: Series] = [:]
        for contender in contenders {
            for operation in ["pause", "unpause"] {
                times[contender.tool + operation] = Series(
                    group: group, name: "\(operation) \(subject), \(contender.tool)",
                    parameters: parameters.merging(["tool": contender.tool, "operation": operation]) { $1 })
            }
            memory[contender.tool] = Series(group: "memory", name: "pause \(subject), \(contender.tool)", unit: "KiB",
                                            parameters: parameters.merging(["tool": contender.tool, "operation": "pause"]) { $1 })
        }
        for round in 0..<rounds {
            let offset = round % contenders.count
            for contender in contenders[offset...] + contenders[..<offset] {
                let paused = try runAll(contender.pause, environment: contender.environment)
                try expect(pids: pids, frozen: true, after: contender.tool + " pause")
                let resumed = try runAll(contender.unpause, environment: contender.environment)
                try expect(pids: pids, frozen: false, after: contender.tool + " unpause")
                times[contender.tool + "pause"]!.samples.append(paused)
                times[contender.tool + "unpause"]!.samples.append(resumed)
            }
        }
        for _ in 0..<min(rounds, 3) {
            for contender in contenders {
                memory[contender.tool]!.samples.append(Double(try peakRSS(contender.pause, environment: contender.environment)))
                try expect(pids: pids, frozen: true, after: contender.tool + " pause")
                _ = try runAll(contender.unpause, environment: contender.environment)
                try expect(pids: pids, frozen: false, after: contender.tool + " unpause")
            }
        }
        let summary = contenders.map { "\($0.tool) \(formatDuration(times[$0.tool + "pause"]!.median))" }.joined(separator: ", ")
        progress("pause \(subject): \(summary)")
        return contenders.flatMap { [times[$0.tool + "pause"]!, times[$0.tool + "unpause"]!, memory[$0.tool]!] }
    }

    /// Total wall time of the commands.
    private func runAll(_ commands: [[String]], environment: [String: String]) throws -> Double {
        var total = 0.0
        for command in commands {
            total += try spawner.must(command[0], Array(command.dropFirst()), extraEnvironment: environment).seconds
        }
        return total
    }

    /// The largest peak RSS among the commands, in KiB, measured by GNU time in untimed runs.
    /// wait4 on our own child would not do: a child spawned from this (large) process starts with
    /// this process's high-water mark, which the kernel carries across exec into ru_maxrss;
    /// GNU time forks from a process of a megabyte or two.
    private func peakRSS(_ commands: [[String]], environment: [String: String]) throws -> Int {
        guard let time = ["/usr/bin/time"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw BenchError("GNU time is needed for the memory figures: apt-get install time")
        }
        var peak = 0
        let output = scratch + "/rss"
        for command in commands {
            try spawner.must(time, ["-f", "%M", "-o", output] + command, extraEnvironment: environment)
            let text = try String(contentsOfFile: output, encoding: .utf8)
            guard let kib = text.split(separator: "\n").last.flatMap({ Int($0.trimmingCharacters(in: .whitespaces)) }) else {
                throw BenchError("GNU time wrote no peak RSS: \(text)")
            }
            peak = max(peak, kib)
        }
        return peak
    }

    private func expect(pids: [Int32], frozen: Bool, after step: String) throws {
        let wrong = pids.filter { kernelFrozen(pid: $0, layout: layout) != frozen }
        guard wrong.isEmpty else {
            throw BenchError("after \(step), \(wrong.count) of \(pids.count) containers are \(frozen ? "not frozen" : "still frozen")")
        }
    }
}
