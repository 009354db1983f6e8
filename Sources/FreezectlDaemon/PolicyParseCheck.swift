import Subprocess
import SystemPackage
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// toml++ (the C++ parser under TOMLKit) aborts the whole process on some malformed TOML: a failed
/// assertion, kept in release builds (the policy fuzz harness found `groups = [}x"]`, and more).
/// A daemon that parsed an operator's typo in its own process would die at start or on a SIGHUP
/// reload, and its leases' timers with it. So the text of each of its files (the policy, the
/// configuration: `DaemonFile`) is parsed first in a child of the daemon's own executable
/// (`freezectld --parse-policy-from-stdin`, `--parse-configuration-from-stdin`), fed the text on
/// stdin: an abort ends only the child, and the file is refused with a message like any other bad
/// file. The daemon then parses the same text itself (the parser is deterministic); the file is
/// read once, so what was checked is what is loaded.
public struct PolicyParseCheck: Sendable {
    /// The hidden argument that makes freezectld parse its stdin as a policy and exit.
    public static let argument = DaemonFile.Kind.policy.parseArgument
    /// The child's exit status for a file that does not hold (the reason on stderr).
    static let invalidStatus: Int32 = 65

    /// The executable run with `argument`: the daemon's own (the kernel keeps /proc/self/exe
    /// pointing at it even after a package upgrade replaced the file).
    public var executable: FilePath

    public init(executable: FilePath = "/proc/self/exe") {
        self.executable = executable
    }

    /// Reads `path` (with `DaemonFile.read`'s ownership checks), has a child parse it, then parses it.
    public func load(_ path: FilePath) async throws(Policy.Error) -> Policy {
        let text = try DaemonFile.read(path, .policy)
        try await check(text, file: path.string, .policy)
        return try Policy(parsing: text, file: path.string)
    }

    /// The configuration file, read and checked the same way.
    public func loadConfiguration(_ path: FilePath) async throws(DaemonFile.Error) -> IdleConfiguration {
        let text = try DaemonFile.read(path, .configuration)
        try await check(text, file: path.string, .configuration)
        return try IdleConfiguration(parsing: text, file: path.string)
    }

    /// Parses `text` in a child; throws the child's reason, or says the parser crashed.
    func check(_ text: String, file: String, _ kind: DaemonFile.Kind) async throws(DaemonFile.Error) {
        let status: TerminationStatus
        let reason: String
        do {
            // No Swift backtrace from a crashing child: the abort is expected, and its report
            // would only fill the stderr this reads the reason from.
            let result = try await Subprocess.run(.path(executable), arguments: [kind.parseArgument],
                                                  environment: .inherit.updating(["SWIFT_BACKTRACE": "enable=no"]),
                                                  input: .string(text), output: .discarded, error: .string(limit: 64 << 10))
            (status, reason) = (result.terminationStatus, result.standardError.trimmingSpaces())
        } catch {
            throw .invalid(kind, file, "it could not be checked: \(executable) did not start (\(error)); is /proc mounted?")
        }
        switch status {
        case .exited(0):
            return
        case .exited(Self.invalidStatus):
            throw .invalid(kind, file, reason.isEmpty ? "it does not parse" : reason)
        case .exited(let status):
            throw .invalid(kind, file, "its check by \(executable) \(kind.parseArgument) ended with status \(status)")
        case .signaled(let signal):
            throw .invalid(kind, file, "the TOML parser crashed on it (signal \(signal)), which malformed TOML can make it do; check its brackets, quotes and commas (docs/daemon.md has an example \(kind.rawValue))")
        }
    }

    /// The child's side: parses stdin as a `kind` file, writes why it does not hold to stderr,
    /// and returns the exit status (0 when it holds).
    public static func parseStandardInput(_ kind: DaemonFile.Kind) -> Int32 {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        while bytes.count <= DaemonFile.sizeLimit {
            let count = chunk.withUnsafeMutableBytes { read(STDIN_FILENO, $0.baseAddress, $0.count) }
            if count == 0 { break }
            if count < 0 {
                if errno == EINTR { continue }
                return report("stdin cannot be read: \(Errno(rawValue: errno))")
            }
            bytes.append(contentsOf: chunk[..<count])
        }
        guard bytes.count <= DaemonFile.sizeLimit else { return report("larger than \(DaemonFile.sizeLimit) bytes") }
        let text = String(decoding: bytes, as: UTF8.self)
        do throws(DaemonFile.Error) {
            switch kind {
            case .policy: _ = try Policy(parsing: text, file: "-")
            case .configuration: _ = try IdleConfiguration(parsing: text, file: "-")
            }
            return 0
        } catch {
            return report(error.reason)
        }
    }

    private static func report(_ reason: String) -> Int32 {
        let line = Array((reason + "\n").utf8)
        _ = line.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
        return invalidStatus
    }
}
