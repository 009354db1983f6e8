import ContainerRuntimes
import FreezerOperations
import CgroupFreezer
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import SystemPackage
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Standard output and error through write(2). A closed pipe (`freezectl ... | head -1`) or a
/// full disk must never kill or trap freezectl: SIGPIPE is ignored (Freezectl.start) and a failed
/// write is noted once on standard error, if that still works, and changes nothing else.
/// (FileHandle.write traps on EPIPE; print's stdio buffer would hide the failure until exit.)
package enum FileHandleOutput {
    private static let failed = Mutex<Set<Int32>>([])

    package static func standardOutput(_ text: String) { write(text.hasSuffix("\n") ? text : text + "\n", to: STDOUT_FILENO) }
    package static func standardError(_ text: String) { write(text.hasSuffix("\n") ? text : text + "\n", to: STDERR_FILENO) }

    /// Writes `text` as is (no newline added).
    package static func write(_ text: String, to fd: Int32) {
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let result = bytes.withUnsafeBytes { Syscall.write(fd, $0) }
            if case .success(let written) = result, written > 0 { bytes = bytes.dropFirst(written); continue }
            let error: Errno
            switch result {
            case .failure(let errno): error = errno
            case .success: error = .ioError
            }
            if failed.withLock({ $0.insert(fd).inserted }), fd != STDERR_FILENO {
                let note = "freezectl: cannot write to standard output (\(error)); the results are in the exit code and the audit trail\n"
                // Nothing is left to tell about a standard error that fails too.
                _ = Array(note.utf8).withUnsafeBytes { Syscall.write(STDERR_FILENO, $0) }
            }
            return
        }
    }
}

extension String {
    /// The text with control characters escaped (`\n`, `\u{1B}`...): a label, a name or a probe's
    /// output comes from a container and must not move the cursor or forge lines of a table.
    package var escapingControlCharacters: String {
        guard unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else { return self }
        var escaped = ""
        for scalar in unicodeScalars {
            switch scalar {
            case "\n": escaped += "\\n"
            case "\t": escaped += "\\t"
            case "\r": escaped += "\\r"
            case _ where scalar.properties.generalCategory == .control:
                escaped += "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
            default: escaped.unicodeScalars.append(scalar)
            }
        }
        return escaped
    }
}
