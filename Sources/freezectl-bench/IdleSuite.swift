#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import CgroupFreezer
import Foundation

/// freezectld's idle controller (issue 34): runc containers serving a page with busybox httpd in
/// network namespaces of their own, opted in with `io.freezectl.idle-after` at the shortest
/// `after`, asked from inside their namespaces by Benchmarks/idle-client.py. The first request
/// to an idle-frozen container against the next one (the same container running), the time from
/// the last request to the freeze, and the daemon's CPU while it watches many frozen containers.
struct IdleSuite {
    let plan: Plan
    let layout: CgroupLayout
    let freezectld: String
    /// Benchmarks/idle-client.py (bench.sh copies it beside the harness).
    let client: String
    let spawner: Spawner
    let scratch: String
    let rootfs: String

    static let after = 5.0
    static let httpd = "mkdir -p /dev/shm/www && echo hello-freezectl > /dev/shm/www/index.html && exec /bin/busybox httpd -f -p 8080 -h /dev/shm/www"

    func run(into report: inout Report) throws {
        guard FileManager.default.isExecutableFile(atPath: freezectld) else {
            report.skipped.append("idle: no freezectld binary at \(freezectld)")
            return
        }
        guard let python = which("python3"), let freezer = layout.freezer else {
            report.skipped.append("idle: python3 and a v1 freezer hierarchy are needed (the client reads freezer.state)")
            return
        }
        try wakes(python: python, freezer: freezer, into: &report)
        try watching(python: python, freezer: freezer, into: &report)
    }

    /// Containers of a fleet with the daemon judging them; `body` runs with both.
    private func withFleet(_ count: Int, prefix: String, _ body: (RuncFleet, BenchDaemon) throws -> Void) throws {
        let fleet = try RuncFleet(count: count, prefix: prefix, labels: ["io.freezectl.idle-after": "\(Int(Self.after))s"], rootfs: rootfs,
                                  scratch: scratch, spawner: spawner, script: Self.httpd, ownNetwork: true)
        defer { fleet.destroy() }
        let daemon = try BenchDaemon(freezectld, socket: scratch + "/\(prefix).sock", state: scratch + "/\(prefix)-state", runtimeRoot: fleet.root)
        defer { daemon.stop() }
        // Its first listing: each container's quiet time starts when the daemon sees it.
        usleep(1_000_000)
        try body(fleet, daemon)
    }

    /// The rounds of idle-client.py in `fleet`'s containers `indices`, all at once: one result per round.
    private func rounds(_ fleet: RuncFleet, _ indices: [Int], rounds: Int, python: String, freezer: Hierarchy) throws -> [Round] {
        // Spread over the quiet time: one wake at a time is what is measured, not a queue of them.
        let spacing = Self.after / Double(max(1, indices.count))
        let clients = try indices.enumerated().map { position, index -> (Process, Pipe) in
            let process = Process()
            let pipe = Pipe()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/nsenter")
            let state = try Self.freezerState(of: fleet.pids[index], in: freezer)
            process.arguments = ["--net=/proc/\(fleet.pids[index])/ns/net", python, client, state, "\(rounds)", "\(Self.after * 4)",
                                 "\(spacing * Double(position))"]
            process.standardOutput = pipe
            process.standardError = FileHandle.nullDevice
            try process.run()
            return (process, pipe)
        }
        var results: [Round] = []
        for (process, pipe) in clients {
            let output = pipe.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            for line in output.split(separator: UInt8(ascii: "\n")) {
                guard let round = try? JSONDecoder().decode(Round.self, from: Data(line)), round.error == nil else {
                    throw BenchError("idle client: \(String(decoding: line, as: UTF8.self))")
                }
                guard round.ok == true else { throw BenchError("idle client: a request was not answered with the page") }
                results.append(round)
            }
        }
        try Cleanup.shared.checkInterrupted()
        return results
    }

    /// One line of idle-client.py.
    struct Round: Decodable {
        var detect_s: Double?
        var wake_s: Double?
        var running_s: Double?
        var ok: Bool?
        var error: String?
    }

    /// First request to an idle-frozen container against the next one, and the detection.
    private func wakes(python: String, freezer: Hierarchy, into report: inout Report) throws {
        let (containers, perContainer) = plan.quick ? (2, 2) : (20, 10)
        try withFleet(containers, prefix: "fzb-idle") { fleet, _ in
            let results = try rounds(fleet, Array(0..<containers), rounds: perContainer, python: python, freezer: freezer)
            let parameters = ["containers": "\(containers)"]
            report.add(Series(group: "idle", name: "first request, idle-frozen (the wake)", parameters: parameters.merging(["operation": "wake"]) { $1 },
                              samples: results.compactMap(\.wake_s)))
            report.add(Series(group: "idle", name: "next request, running", parameters: parameters.merging(["operation": "running"]) { $1 },
                              samples: results.compactMap(\.running_s)))
            report.add(Series(group: "idle", name: "last request to frozen (after \(Int(Self.after)) s)",
                              parameters: parameters.merging(["operation": "detect"]) { $1 }, samples: results.compactMap(\.detect_s)))
            progress("idle: \(results.count) wakes, first request \(formatDuration(Series.median(results.compactMap(\.wake_s)))), running \(formatDuration(Series.median(results.compactMap(\.running_s))))")
        }
    }

    /// The daemon's CPU while many containers are idle-frozen, then wakes among them.
    private func watching(python: String, freezer: Hierarchy, into report: inout Report) throws {
        let (containers, window) = plan.quick ? (4, 3.0) : (100, 60.0)
        try withFleet(containers, prefix: "fzb-watch") { fleet, daemon in
            let states = try fleet.pids.map { try Self.freezerState(of: $0, in: freezer) }
            let deadline = Date().addingTimeInterval(Self.after * 4 + Double(containers) / 10)
            while !states.allSatisfy(Self.frozen) {
                guard Date() < deadline else { throw BenchError("idle: not every container was frozen when quiet") }
                try Cleanup.shared.checkInterrupted()
                usleep(100_000)
            }
            let pid = daemon.process.processIdentifier
            let before = Self.cpuSeconds(pid), start = Date()
            usleep(UInt32(window * 1e6))
            let used = Self.cpuSeconds(pid) - before, elapsed = Date().timeIntervalSince(start)
            let parameters = ["containers": "\(containers)", "window": "\(Int(window))"]
            report.add(Series(group: "idle", name: "freezectld CPU watching \(containers) idle-frozen containers", unit: "%",
                              parameters: parameters.merging(["operation": "watch-cpu"]) { $1 }, samples: [100 * used / elapsed]))
            let woken = try rounds(fleet, Array(stride(from: 0, to: containers, by: max(1, containers / 20))), rounds: 1, python: python, freezer: freezer)
            report.add(Series(group: "idle", name: "first request, idle-frozen, \(containers) watched", parameters: parameters.merging(["operation": "wake-many"]) { $1 },
                              samples: woken.compactMap(\.wake_s)))
            report.add(Series(group: "idle", name: "next request, running, \(containers) watched", parameters: parameters.merging(["operation": "running-many"]) { $1 },
                              samples: woken.compactMap(\.running_s)))
            progress("idle: freezectld used \(String(format: "%.2f", 100 * used / elapsed))% of a CPU watching \(containers) idle-frozen containers")
        }
    }

    /// The freezer.state file of the cgroup `pid` is in (its line of /proc/PID/cgroup).
    static func freezerState(of pid: Int32, in freezer: Hierarchy) throws -> String {
        let lines = ((try? String(contentsOfFile: "/proc/\(pid)/cgroup", encoding: .utf8)) ?? "").split(separator: "\n")
        guard let line = lines.first(where: { $0.split(separator: ":", maxSplits: 2).dropFirst().first?.split(separator: ",").contains("freezer") == true }),
              let path = line.split(separator: ":", maxSplits: 2).last else { throw BenchError("idle: process \(pid) has no v1 freezer cgroup") }
        return freezer.mountPoint.string + (path == "/" ? "" : String(path)) + "/freezer.state"
    }

    static func frozen(_ state: String) -> Bool {
        ((try? String(contentsOfFile: state, encoding: .utf8)) ?? "").hasPrefix("FROZEN")
    }

    /// The user and system CPU time of `pid` so far (/proc/PID/stat), in seconds.
    static func cpuSeconds(_ pid: Int32) -> Double {
        let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
        // The fields after the command's closing parenthesis: utime and stime are the 12th and 13th.
        guard let close = stat.lastIndex(of: ")") else { return .nan }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return .nan }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }
}

extension Series {
    /// The median of `samples`.
    static func median(_ samples: [Double]) -> Double { Series(group: "", name: "", samples: samples).median }
}
