import CgroupFreezer
import FreezerOperations
import HealthProbes
import Foundation
import Subprocess
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// A CRIU executable and the parts of its command-line protocol freezectl uses.
public struct CRIU: Sendable {
    /// The executable.
    public let executable: FilePath

    /// `explicit` (--criu), else FREEZECTL_CRIU, else `criu` on PATH.
    public static func locate(explicit: String?, environment: [String: String]) throws -> CRIU {
        if let path = explicit ?? environment["FREEZECTL_CRIU"], !path.isEmpty {
            guard FileManager.default.isExecutableFile(atPath: path) else {
                throw CRIU.Error.unavailable(path: FilePath(path), reason: "not an executable file")
            }
            return CRIU(executable: FilePath(path))
        }
        let path = (environment["PATH"] ?? "/usr/sbin:/usr/bin:/sbin:/bin") + ":/usr/sbin:/sbin"
        for directory in path.split(separator: ":") where FileManager.default.isExecutableFile(atPath: "\(directory)/criu") {
            return CRIU(executable: FilePath("\(directory)/criu"))
        }
        throw CRIU.Error.unavailable(path: "criu", reason: "not found on PATH")
    }

    /// A CRIU at `executable`.
    public init(executable: FilePath) {
        self.executable = executable
    }

    /// What `criu --version` says (`3.17.1`), or nil.
    public func version() async -> String? {
        // A CRIU that cannot say its version is reported by `check`, which runs next.
        guard let result = try? await run(["--version"]), case .exited(0) = result.status else { return nil }
        for line in result.output.split(separator: "\n") where line.hasPrefix("Version:") {
            return line.dropFirst("Version:".count).trimmingCharacters(in: .whitespaces)
        }
        return nil
    }

    /// Runs `criu check`; throws `criuCheckFailed` with the cause when it is known.
    public func check() async throws {
        let result = try await run(["check"])
        if case .exited(0) = result.status { return }
        let version = await version()
        throw CRIU.Error.checkFailed(path: executable, output: Self.errorLines(result.output).joined(separator: "\n"),
                                           explanation: Self.explainCheckFailure(output: result.output, version: version))
    }

    /// The known causes of a failing `criu check`.
    static func explainCheckFailure(output: String, version: String?) -> String? {
        let maps = CgroupFile.procFileIfReadable("/proc/self/maps") ?? ""
        let old = version.map { Self.compare($0, "4.1") < 0 } ?? true
        if output.contains("vdso") && maps.contains("[vvar_vclock]") && old {
            return "this kernel (6.13 or later) has a [vvar_vclock] mapping that CRIU before 4.1 cannot handle (\"vdso: Unexpected rt vDSO area bounds\"); CRIU here is \(version ?? "of unknown version"): install CRIU 4.1 or later and point --criu or FREEZECTL_CRIU at it"
        }
        return nil
    }

    /// Compares dotted versions numerically.
    static func compare(_ a: String, _ b: String) -> Int {
        let x = a.split(separator: ".").map { Int($0) ?? 0 }, y = b.split(separator: ".").map { Int($0) ?? 0 }
        for index in 0..<max(x.count, y.count) {
            let left = index < x.count ? x[index] : 0, right = index < y.count ? y[index] : 0
            if left != right { return left < right ? -1 : 1 }
        }
        return 0
    }

    /// The CRIU options the user asked for that dump and restore both take.
    static func passThrough(shellJob: Bool, tcpEstablished: Bool) -> [String] {
        (shellJob ? ["--shell-job"] : []) + (tcpEstablished ? ["--tcp-established"] : [])
    }

    /// The `Error (file:line): ...` lines of a CRIU log or output.
    public static func errorLines(_ text: String) -> [String] {
        let lines = text.split(separator: "\n").map(String.init)
        let errors = lines.filter { $0.contains("Error (") }
        return errors.isEmpty ? Array(lines.suffix(3)) : errors
    }

    /// The default bound of one CRIU dump or restore (`--criu-timeout`): a tree of thousands of
    /// processes and gigabytes dumps in well under a minute; ten minutes means CRIU hangs.
    public static let defaultTimeout: Duration = .seconds(600)

    /// Throws unless `run` ended with exit 0: `criuAbandoned` when it was killed, else `criuFailed`
    /// quoting this run's log (the caller removed any earlier log first), or CRIU's own output
    /// when it wrote no log.
    static func check(_ run: Run, operation: CheckpointEvent.Step, log: FilePath, timeout: Duration,
                      progress: @Sendable (CheckpointEvent) -> Void) throws {
        if let reason = run.abandoned {
            progress(CheckpointEvent(step: operation, status: .failed, detail: "abandoned: \(reason)"))
            throw CRIU.Error.abandoned(operation: operation.rawValue, after: reason == "timeout" ? timeout : CRIU.interruptGrace,
                                 reason: reason == "timeout" ? "--criu-timeout" : reason, log: log)
        }
        guard case .exited(0) = run.status else {
            // No log (CRIU failed before writing one): its own output says why.
            let text = (try? RegularFile.read(log, limit: 16 << 20)) ?? run.output
            var errors = errorLines(text)
            if case .signaled(let signal) = run.status {
                // Killed by someone, or crashed: its log ends wherever it was, saying nothing.
                errors.insert("criu was killed by \(signalName(signal)) before it finished; its process group was killed too", at: 0)
            }
            progress(CheckpointEvent(step: operation, status: .failed, detail: "\(run.status)"))
            throw CRIU.Error.failed(operation: operation.rawValue, log: log, errors: errors)
        }
    }

    /// The outcome of a CRIU run.
    public struct Run: Sendable {
        /// How it ended.
        public var status: TerminationStatus
        /// Its standard output and error.
        public var output: String
        /// Why it was killed, when freezectl killed it: `timeout` or the signal's name.
        public var abandoned: String?
    }

    /// How long CRIU may take once freezectl was told to stop (SIGINT, SIGTERM, SIGHUP) during a
    /// run: long enough to finish a dump that is nearly done, short enough that a hung CRIU does
    /// not hold the tree frozen.
    public static let interruptGrace: Duration = .seconds(10)

    /// Runs CRIU with `arguments` in its own process group, so that a ^C at the terminal does not
    /// reach it: killing CRIU in the middle of a dump can kill the dumped task with it.
    ///
    /// Bounded all the same: when `timeout` passes, or `interruptGrace` after `interrupted()`
    /// turned true (or the calling task was cancelled), the whole process group is killed and the
    /// run returns with `abandoned` set. The caller's cancellation never kills CRIU at once.
    public func run(_ arguments: [String], environment: [String: String] = [:], timeout: Duration? = nil,
                    interrupted: @escaping @Sendable () -> Bool = { false }) async throws -> Run {
        var updates: [Environment.Key: String?] = [:]
        for (key, value) in environment { updates[Environment.Key(stringLiteral: key)] = value }
        // CRIU's helpers (and a hung action script) are in its group and go with it, also when
        // CRIU itself is killed or crashes (a restored tree is not in its group: CRIU gives it
        // the process group it had).
        var process = GroupProcess(executable: .path(executable), arguments: arguments,
                                   environment: .inherit.updating(updates), outputLimit: 4 << 20,
                                   timeout: timeout, grace: Self.interruptGrace, interrupted: interrupted)
        process.killGroupAfterSignal = true
        let outcome = try await process.run()
        return Run(status: outcome.status, output: outcome.output, abandoned: outcome.killed.map {
            $0 == "timeout" ? "timeout" : "interrupted, and CRIU did not finish within \(Self.interruptGrace.shortDescription)"
        })
    }
}
