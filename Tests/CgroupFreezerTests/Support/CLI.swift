import Foundation
import Testing

/// The result of one `freezectl` run.
struct CLIResult {
    let status: Int32
    let stdout: String
    let stderr: String

    /// stdout parsed as JSON lines (one object per line).
    var jsonLines: [[String: Any]] {
        stdout.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }
}

/// The freezectl binary `swift test` built beside the test bundle (FREEZECTL_BIN overrides).
let freezectlBinary: String = {
    if let path = ProcessInfo.processInfo.environment["FREEZECTL_BIN"] { return path }
    let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? ""
    var directory = URL(fileURLWithPath: exe).deletingLastPathComponent()
    for _ in 0..<3 {
        let candidate = directory.appendingPathComponent("freezectl").path
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        directory.deleteLastPathComponent()
    }
    return ".build/debug/freezectl"
}()

/// Runs `command` with `arguments`; `user` runs it as that uid/gid through setpriv, with the
/// supplementary `groups` (none by default); `environment` adds to the inherited environment.
func run(_ command: String, _ arguments: [String], user: (uid: Int, gid: Int)? = nil, groups: [Int] = [],
         environment: [String: String] = [:]) throws -> CLIResult {
    let process = Process()
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    if let user {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
        let supplementary = groups.isEmpty ? "--clear-groups" : "--groups=" + groups.map(String.init).joined(separator: ",")
        process.arguments = ["--reuid=\(user.uid)", "--regid=\(user.gid)", supplementary, "--", command] + arguments
    } else {
        process.executableURL = URL(fileURLWithPath: command)
        process.arguments = arguments
    }
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = FileHandle.nullDevice
    try process.run()
    // Read stderr on another thread so neither pipe can fill up and block the child.
    nonisolated(unsafe) var stderrData = Data()
    let done = DispatchSemaphore(value: 0)
    Thread.detachNewThread {
        stderrData = err.fileHandleForReading.readDataToEndOfFile()
        done.signal()
    }
    let stdoutData = out.fileHandleForReading.readDataToEndOfFile()
    done.wait()
    process.waitUntilExit()
    return CLIResult(status: process.terminationStatus,
                     stdout: String(decoding: stdoutData, as: UTF8.self),
                     stderr: String(decoding: stderrData, as: UTF8.self))
}

/// Runs a command whose children may outlive it (`runc run -d`, whose container inherits its
/// stdio): output goes to files, not pipes, so nothing waits for the children to close them.
func runDetaching(_ command: String, _ arguments: [String], environment: [String: String] = [:]) throws -> CLIResult {
    let directory = NSTemporaryDirectory() + "freezectl-run-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    FileManager.default.createFile(atPath: directory + "/out", contents: nil)
    FileManager.default.createFile(atPath: directory + "/err", contents: nil)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: command)
    process.arguments = arguments
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    process.standardInput = FileHandle.nullDevice
    process.standardOutput = FileHandle(forWritingAtPath: directory + "/out")
    process.standardError = FileHandle(forWritingAtPath: directory + "/err")
    try process.run()
    process.waitUntilExit()
    return CLIResult(status: process.terminationStatus,
                     stdout: (try? String(contentsOfFile: directory + "/out", encoding: .utf8)) ?? "",
                     stderr: (try? String(contentsOfFile: directory + "/err", encoding: .utf8)) ?? "")
}

/// Runs freezectl.
func freezectl(_ arguments: String..., user: (uid: Int, gid: Int)? = nil, environment: [String: String] = [:]) throws -> CLIResult {
    try run(freezectlBinary, arguments, user: user, environment: environment)
}
