import CgroupFreezer
import ContainerRuntimes
import Foundation
import FreezerOperations
import SystemPackage

/// freezectld: pause+unpause of one runc container through the API (this process as the client,
/// one kept-alive connection) against `runc pause` + `runc resume`; requests per second for status
/// and for pause/unpause pairs from 8 connections on 8 containers; one API call each way for a
/// batch by label against the library's own batch of the same; the daemon's idle and loaded RSS.
struct DaemonSuite {
    let plan: Plan
    let layout: CgroupLayout
    let freezectld: String
    let spawner: Spawner
    let scratch: String
    let rootfs: String

    /// Connections (and containers, one each) of the throughput runs.
    static let connections = 8

    func run(into report: inout Report) async throws {
        guard FileManager.default.isExecutableFile(atPath: freezectld) else {
            report.skipped.append("daemon: no freezectld binary at \(freezectld)")
            return
        }
        do {
            let fleet = try RuncFleet(count: Self.connections, prefix: "fzb-daemon", labels: ["fzbench": "daemon"], rootfs: rootfs, scratch: scratch,
                                      spawner: spawner)
            defer { fleet.destroy() }
            let socket = scratch + "/freezectld.sock"
            let daemon = try BenchDaemon(freezectld, socket: socket, state: scratch + "/freezectld-state", runtimeRoot: fleet.root)
            defer { daemon.stop() }
            usleep(500_000)  // its first listing of the sources
            let idle = Double(Self.residentKiB(daemon.process.processIdentifier))

            try measurePairs(fleet: fleet, connection: daemon.connection, into: &report)
            try measureThroughput(fleet: fleet, socket: socket, daemon: daemon.process, idle: idle, into: &report)
        }
        try await measureBatch(into: &report)
    }

    /// Pause+unpause pairs through the API and through runc, alternating which goes first. The
    /// time is the pause's and the unpause's; the kernel's freezer state, read after each, is not in it.
    private func measurePairs(fleet: RuncFleet, connection: UnixHTTPConnection, into report: inout Report) throws {
        let id = fleet.ids[0]
        let pids = [fleet.pids[0]]
        let target = #"{"targets": ["runc:\#(id)"]}"#
        var api = Series(group: "daemon", name: "pause+unpause 1 runc container, freezectld API (connection reused)",
                         parameters: ["tool": "freezectld", "operation": "pair"])
        var runc = Series(group: "daemon", name: "pause+unpause 1 runc container, runc pause + runc resume",
                          parameters: ["tool": "runc", "operation": "pair"])
        let clock = ContinuousClock()
        for round in 0..<plan.cliRounds * 4 {
            for tool in round % 2 == 0 ? ["freezectld", "runc"] : ["runc", "freezectld"] {
                var start = clock.now
                if tool == "freezectld" {
                    try connection.expectOK("POST", "/v1/pause", body: target)
                } else {
                    try spawner.must(fleet.runc, ["--root", fleet.root, "pause", id])
                }
                var elapsed = start.duration(to: clock.now)
                try expect(pids, frozen: true, after: tool + "'s pause")
                start = clock.now
                if tool == "freezectld" {
                    try connection.expectOK("POST", "/v1/unpause", body: target)
                } else {
                    try spawner.must(fleet.runc, ["--root", fleet.root, "resume", id])
                }
                elapsed += start.duration(to: clock.now)
                try expect(pids, frozen: false, after: tool + "'s unpause")
                if tool == "freezectld" { api.samples.append(seconds(elapsed)) } else { runc.samples.append(seconds(elapsed)) }
            }
        }
        report.add(api)
        report.add(runc)
        progress("pause+unpause through freezectld: \(formatDuration(api.median)) (p99 \(formatDuration(api.quantile(0.99)))), runc: \(formatDuration(runc.median))")
    }

    /// Requests per second over 8 connections at once, each on a container of its own, and the
    /// daemon's memory.
    private func measureThroughput(fleet: RuncFleet, socket: String, daemon: Process, idle: Double, into report: inout Report) throws {
        let ids = fleet.ids
        let perConnection = plan.quick ? 10 : 2000
        let status = try throughput(socket: socket, connections: ids.count, requests: perConnection) { connection, index in
            try connection.expectOK("GET", "/v1/status?target=runc:\(ids[index])", body: nil)
        }
        report.add(Series(group: "daemon", name: "status requests per second (\(ids.count) connections on \(ids.count) containers)", unit: "req/s",
                          parameters: ["tool": "freezectld", "operation": "status-rps"], samples: [status]))
        let pairs = try throughput(socket: socket, connections: ids.count, requests: perConnection / 2) { connection, index in
            let target = #"{"targets": ["runc:\#(ids[index])"]}"#
            try connection.expectOK("POST", "/v1/pause", body: target)
            try connection.expectOK("POST", "/v1/unpause", body: target)
        }
        report.add(Series(group: "daemon", name: "pause/unpause pairs per second (\(ids.count) connections on \(ids.count) containers)", unit: "req/s",
                          parameters: ["tool": "freezectld", "operation": "pair-rps"], samples: [pairs]))
        try expect(fleet.pids, frozen: false, after: "the throughput runs")
        let loaded = Double(Self.peakKiB(daemon.processIdentifier))
        report.add(Series(group: "daemon", name: "freezectld resident memory, idle", unit: "KiB",
                          parameters: ["tool": "freezectld", "operation": "rss-idle"], samples: [idle]))
        report.add(Series(group: "daemon", name: "freezectld resident memory, peak under load", unit: "KiB",
                          parameters: ["tool": "freezectld", "operation": "rss-loaded"], samples: [loaded]))
        progress("freezectld: \(Int(status)) status/s, \(Int(pairs)) pairs/s, RSS \(Int(idle / 1024)) MiB idle, \(Int(loaded / 1024)) MiB peak")
    }

    /// 1,000 containers (10 with --quick) paused, then unpaused, through one API call each way
    /// (`all` with a label filter), against the library's own batch of the same in this process
    /// (Resolver: resolve the selection, run the batch), alternating which goes first.
    private func measureBatch(into report: inout Report) async throws {
        let count = plan.quick ? 10 : 1000
        let fleet = try RuncFleet(count: count, prefix: "fzb-dbatch", labels: ["fzbench": "dbatch"], rootfs: rootfs, scratch: scratch, spawner: spawner)
        defer { fleet.destroy() }
        let daemon = try BenchDaemon(freezectld, socket: scratch + "/freezectld-batch.sock", state: scratch + "/freezectld-batch-state",
                                     runtimeRoot: fleet.root)
        defer { daemon.stop() }
        usleep(500_000)
        let resolver = Resolver(freezer: try CgroupFreezer(), catalog: ContainerCatalog(runtimeRoots: [FilePath(fleet.root)]))
        let selection = TargetSelection(targets: [], all: true, filter: try ContainerFilter(parsing: ["label=fzbench=dbatch"]))
        let body = #"{"all": true, "filters": ["label=fzbench=dbatch"]}"#
        var series: [String: Series] = [:]
        for (tool, operation) in [("freezectld", "pause"), ("freezectld", "unpause"), ("library", "pause"), ("library", "unpause")] {
            series[tool + operation] = Series(group: "daemon", name: "\(operation) \(count) runc containers by label, \(tool == "library" ? "the library's batch" : "one freezectld API call")",
                                              parameters: ["tool": tool, "operation": "batch-" + operation, "containers": "\(count)"])
        }
        let clock = ContinuousClock()
        for round in 0..<plan.cliRounds {
            for tool in round % 2 == 0 ? ["freezectld", "library"] : ["library", "freezectld"] {
                for (operation, freeze) in [("pause", true), ("unpause", false)] {
                    let start = clock.now
                    if tool == "freezectld" {
                        try daemon.connection.expectOK("POST", "/v1/" + operation, body: body)
                    } else {
                        let items = await resolver.resolve(selection, for: freeze ? .pause : .unpause)
                        let results = await resolver.run(items, options: BatchOptions(operation: freeze ? .freeze : .thaw))
                        guard results.count == count, results.allSatisfy({ $0.outcome != .error }) else {
                            throw BenchError("the library's \(operation) of \(count) containers: \(results.filter { $0.outcome == .error }.count) failed of \(results.count)")
                        }
                    }
                    series[tool + operation]!.samples.append(seconds(start.duration(to: clock.now)))
                    try expect(fleet.pids, frozen: freeze, after: tool + "'s " + operation)
                }
            }
        }
        for key in ["freezectldpause", "librarypause", "freezectldunpause", "libraryunpause"] { report.add(series[key]!) }
        progress("\(count) containers by label: pause \(formatDuration(series["freezectldpause"]!.median)) through the API, "
                 + "\(formatDuration(series["librarypause"]!.median)) the library's batch")
    }

    /// Operations per second over `connections` connections, each doing `requests` operations
    /// (given the connection's number).
    private func throughput(socket: String, connections: Int, requests: Int,
                            _ operation: @escaping @Sendable (UnixHTTPConnection, Int) throws -> Void) throws -> Double {
        let clients = try (0..<connections).map { _ in try UnixHTTPConnection(socket: socket) }
        let failures = Failures()
        let group = DispatchGroup()
        let start = ContinuousClock.now
        for (number, client) in clients.enumerated() {
            group.enter()
            Thread.detachNewThread {
                defer { group.leave() }
                for _ in 0..<requests {
                    do { try operation(client, number) } catch { failures.add("\(error)"); return }
                }
            }
        }
        group.wait()
        let elapsed = seconds(start.duration(to: .now))
        if let failure = failures.first { throw BenchError("freezectld under load: \(failure)") }
        return Double(connections * requests) / elapsed
    }

    private func expect(_ pids: [Int32], frozen: Bool, after step: String) throws {
        let wrong = pids.filter { kernelFrozen(pid: $0, layout: layout) != frozen }
        guard wrong.isEmpty else { throw BenchError("after \(step), the container is \(frozen ? "not frozen" : "still frozen")") }
    }

    static func residentKiB(_ pid: Int32) -> Int { statusField("VmRSS:", pid) }
    static func peakKiB(_ pid: Int32) -> Int { statusField("VmHWM:", pid) }

    private static func statusField(_ name: String, _ pid: Int32) -> Int {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix(name) } ?? ""
        return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
    }
}

/// The first failure of the throughput threads.
private final class Failures: @unchecked Sendable {
    private let lock = NSLock()
    private var messages: [String] = []
    func add(_ message: String) { lock.lock(); messages.append(message); lock.unlock() }
    var first: String? { lock.lock(); defer { lock.unlock() }; return messages.first }
}

/// HTTP/1.1 on a unix socket, one request at a time on one kept-alive connection: the cheapest
/// client there is, so that the figures are the daemon's.
/// A freezectld of the benchmark's own on a private socket, stopped (SIGTERM) by `stop()` or the
/// harness's clean-up; `connection` is one kept-alive connection to it.
final class BenchDaemon: @unchecked Sendable {
    let process = Process()
    let connection: UnixHTTPConnection
    private var token = 0

    init(_ freezectld: String, socket: String, state: String, runtimeRoot: String, more: [String] = []) throws {
        process.executableURL = URL(fileURLWithPath: freezectld)
        process.arguments = ["--socket", socket, "--state-dir", state, "--runtime-root", runtimeRoot] + more
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let process = self.process
        token = Cleanup.shared.add { if process.isRunning { process.terminate(); process.waitUntilExit() } }
        var connection: UnixHTTPConnection?
        for _ in 0..<200 where connection == nil {
            connection = try? UnixHTTPConnection(socket: socket)
            if connection == nil { usleep(50_000) }
        }
        guard let connection else {
            if process.isRunning { process.terminate(); process.waitUntilExit() }
            Cleanup.shared.remove(action: token)
            throw BenchError("freezectld did not listen on \(socket)")
        }
        self.connection = connection
    }

    func stop() {
        if process.isRunning { process.terminate(); process.waitUntilExit() }
        Cleanup.shared.remove(action: token)
    }
}

final class UnixHTTPConnection: @unchecked Sendable {
    private let fd: Int32
    private var buffer: [UInt8] = []

    init(socket path: String) throws {
        switch Syscall.connectUnixSocket(path) {
        case .success(let fd): self.fd = fd
        case .failure(let errno): throw BenchError("connect \(path): \(errno)")
        }
    }

    deinit { close(fd) }

    /// Sends a request and reads the answer; throws unless it is 200.
    func expectOK(_ method: String, _ path: String, body: String?) throws {
        let payload = Array((body ?? "").utf8)
        var request = "\(method) \(path) HTTP/1.1\r\nHost: localhost\r\n"
        if body != nil { request += "Content-Type: application/json\r\nContent-Length: \(payload.count)\r\n" }
        let bytes = Array((request + "\r\n").utf8) + payload
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            guard n > 0 else { throw BenchError("write: errno \(errno)") }
            sent += n
        }
        let (status, answer) = try readResponse()
        guard status == 200 else { throw BenchError("\(method) \(path): HTTP \(status): \(String(decoding: answer.prefix(300), as: UTF8.self))") }
    }

    private func readResponse() throws -> (Int, [UInt8]) {
        let separator: [UInt8] = [13, 10, 13, 10]
        var headerEnd: Int?
        while headerEnd == nil {
            headerEnd = buffer.indices.dropLast(3).first { buffer[$0..<$0 + 4].elementsEqual(separator) }
            if headerEnd == nil { try fill() }
        }
        let head = String(decoding: buffer[..<headerEnd!], as: UTF8.self).lowercased()
        let lines = head.split(separator: "\r\n")
        let status = Int(lines.first?.split(separator: " ").dropFirst().first ?? "") ?? 0
        guard let lengthLine = lines.first(where: { $0.hasPrefix("content-length:") }),
              let length = Int(lengthLine.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) else {
            throw BenchError("an answer without Content-Length: \(head)")
        }
        let bodyStart = headerEnd! + 4
        while buffer.count < bodyStart + length { try fill() }
        let body = Array(buffer[bodyStart..<bodyStart + length])
        buffer.removeFirst(bodyStart + length)
        return (status, body)
    }

    private func fill() throws {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard n > 0 else { throw BenchError("the daemon closed the connection (read \(n), errno \(errno))") }
        buffer += chunk[..<n]
    }
}
