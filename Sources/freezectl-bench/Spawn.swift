#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Foundation

/// One timed run of an external command.
struct CommandRun {
    let status: Int32
    /// Wall time from posix_spawn to the child's exit.
    let seconds: Double
    let stderr: String
}

/// Runs commands the same way for every tool compared: posix_spawn, stdout to /dev/null, stderr
/// to a file, waitpid, with the clock read right around them. Foundation's Process and
/// swift-subprocess add their own set-up (pipes, threads, async hops) to the timed span.
struct Spawner {
    let scratch: String
    var environment: [String: String] = ProcessInfo.processInfo.environment

    @discardableResult
    func run(_ command: String, _ arguments: [String], extraEnvironment: [String: String] = [:]) throws -> CommandRun {
        let errPath = scratch + "/stderr-\(getpid())"
        var end = timespec()
        let (pid, start) = try spawn(command, arguments, extraEnvironment: extraEnvironment, standardOutput: nil, standardError: errPath)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        clock_gettime(CLOCK_MONOTONIC, &end)
        let seconds = Double(end.tv_sec - start.tv_sec) + Double(end.tv_nsec - start.tv_nsec) / 1e9
        let exit = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        let stderr = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
        return CommandRun(status: exit, seconds: seconds, stderr: stderr)
    }

    /// Starts `command` and returns its PID and the time (CLOCK_MONOTONIC) read right before
    /// posix_spawn: standard input /dev/null, standard output to `standardOutput` (a descriptor of
    /// ours, e.g. a pipe's end) or /dev/null, standard error to the file `standardError` or /dev/null.
    func spawn(_ command: String, _ arguments: [String], extraEnvironment: [String: String] = [:],
               standardOutput: Int32?, standardError: String?) throws -> (pid: pid_t, started: timespec) {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        if let standardOutput {
            posix_spawn_file_actions_adddup2(&actions, standardOutput, 1)
        } else {
            posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        }
        posix_spawn_file_actions_addopen(&actions, 2, standardError ?? "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        let argv = ([command] + arguments).map { strdup($0) } + [nil]
        let env = environment.merging(extraEnvironment) { $1 }.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (argv + env).forEach { free($0) } }
        // The child starts as from a shell: no signal blocked, every signal at its default. The
        // harness runs on the concurrency runtime's threads, which block nearly every signal, and
        // a spawned tool would inherit that mask (a hung one would then ignore SIGTERM, and
        // freezectl's own handling of SIGINT/SIGTERM would be measured in a state no user has).
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t(), allSignals = sigset_t()
        sigemptyset(&noSignals)
        sigfillset(&allSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var pid: pid_t = 0
        var started = timespec()
        clock_gettime(CLOCK_MONOTONIC, &started)
        let spawned = posix_spawn(&pid, command, &actions, &attributes, argv, env)
        guard spawned == 0 else { throw BenchError("cannot start \(command): \(String(cString: strerror(spawned)))") }
        return (pid, started)
    }

    /// Runs a step of the benchmark that must succeed; after SIGINT or SIGTERM it throws
    /// `Cleanup.Interrupted` instead (clean-up steps use `run`, which always runs).
    @discardableResult
    func must(_ command: String, _ arguments: [String], extraEnvironment: [String: String] = [:]) throws -> CommandRun {
        try Cleanup.shared.checkInterrupted()
        let result = try run(command, arguments, extraEnvironment: extraEnvironment)
        guard result.status == 0 else {
            throw BenchError("\(([command] + arguments).prefix(6).joined(separator: " ")) exited \(result.status): \(result.stderr.prefix(600))")
        }
        return result
    }

    /// Runs a command and returns its standard output (for version strings and IDs).
    func output(_ command: String, _ arguments: [String], extraEnvironment: [String: String] = [:]) -> String? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: command)
        process.arguments = arguments
        process.environment = environment.merging(extraEnvironment) { $1 }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return nil }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { return nil }
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Finds a program on PATH or in the sbin directories.
func which(_ name: String) -> String? {
    let path = (ProcessInfo.processInfo.environment["PATH"] ?? "") + ":/usr/local/sbin:/usr/sbin:/sbin:/usr/bin:/bin"
    return path.split(separator: ":").map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
}
