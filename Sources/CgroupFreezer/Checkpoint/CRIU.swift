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
    public static func locate(explicit: String?, environment: [String: String]) throws(FreezerError) -> CRIU {
        if let path = explicit ?? environment["FREEZECTL_CRIU"], !path.isEmpty {
            guard FileManager.default.isExecutableFile(atPath: path) else {
                throw .criuUnavailable(path: FilePath(path), reason: "not an executable file")
            }
            return CRIU(executable: FilePath(path))
        }
        let path = (environment["PATH"] ?? "/usr/sbin:/usr/bin:/sbin:/bin") + ":/usr/sbin:/sbin"
        for directory in path.split(separator: ":") where FileManager.default.isExecutableFile(atPath: "\(directory)/criu") {
            return CRIU(executable: FilePath("\(directory)/criu"))
        }
        throw .criuUnavailable(path: "criu", reason: "not found on PATH")
    }

    /// A CRIU at `executable`.
    public init(executable: FilePath) {
        self.executable = executable
    }

    /// What `criu --version` says (`3.17.1`), or nil.
    public func version() async -> String? {
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
        throw FreezerError.criuCheckFailed(path: executable, output: Self.errorLines(result.output).joined(separator: "\n"),
                                           explanation: Self.explainCheckFailure(output: result.output, version: version))
    }

    /// The known causes of a failing `criu check`.
    static func explainCheckFailure(output: String, version: String?) -> String? {
        let maps = (try? CgroupFile.readProcFile("/proc/self/maps")) ?? ""
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

    /// The outcome of a CRIU run.
    public struct Run: Sendable {
        /// How it ended.
        public var status: TerminationStatus
        /// Its standard output and error.
        public var output: String
    }

    /// Runs CRIU with `arguments` in its own process group, so that a ^C at the terminal does not
    /// reach it: killing CRIU in the middle of a dump can kill the dumped task with it.
    public func run(_ arguments: [String], environment: [String: String] = [:]) async throws -> Run {
        var options = PlatformOptions()
        options.processGroupID = 0
        var updates: [Environment.Key: String?] = [:]
        for (key, value) in environment { updates[Environment.Key(stringLiteral: key)] = value }
        let result = try await Subprocess.run(.path(executable), arguments: Arguments(arguments),
                                              environment: .inherit.updating(updates), platformOptions: options,
                                              output: .bytes(limit: 4 << 20), error: .combinedWithOutput)
        return Run(status: result.terminationStatus, output: String(decoding: result.standardOutput, as: UTF8.self))
    }
}
