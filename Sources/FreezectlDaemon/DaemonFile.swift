import CgroupFreezer
import SystemPackage
import TOMLKit
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The daemon's two TOML files, read and checked one way: the policy (who may do what,
/// `Policy`) and the configuration (what the daemon does by itself: idle rules,
/// `IdleConfiguration`). Both grant or take power, so both must be owned by root and writable by
/// no one else; both are parsed in a child first (`PolicyParseCheck`); unknown keys and tables
/// are errors (a typo must not widen or narrow anything silently).
public enum DaemonFile {
    /// Which file.
    public enum Kind: String, Sendable, CaseIterable {
        case policy, configuration

        /// The hidden argument that makes freezectld parse its stdin as such a file and exit.
        public var parseArgument: String { self == .policy ? "--parse-policy-from-stdin" : "--parse-configuration-from-stdin" }
    }

    /// The largest file read: either is a few tables.
    static let sizeLimit = 1 << 20

    /// Why a file cannot be used. At start it stops the daemon; on reload the previous one stays.
    public enum Error: FreezectlError, Equatable {
        /// Not valid TOML, or a table that does not hold.
        case invalid(Kind, String, String)
        /// Not readable.
        case unreadable(Kind, FilePath, String)
        /// Writable or owned by someone other than root.
        case unsafe(Kind, FilePath, String)

        public var code: String {
            switch self {
            case .invalid(let kind, _, _), .unreadable(let kind, _, _), .unsafe(let kind, _, _): return "invalid-\(kind.rawValue)"
            }
        }
        public var isBadInput: Bool { true }

        public var message: String {
            switch self {
            case .invalid(let kind, let file, let reason): return "\(kind.rawValue) \(file): \(reason)"
            case .unreadable(let kind, let path, let reason): return "\(kind.rawValue) \(path): cannot be read: \(reason)"
            case .unsafe(let kind, let path, let reason): return "\(kind.rawValue) \(path) is not safe to trust: \(reason)"
            }
        }

        public var path: FilePath? {
            switch self {
            case .invalid(_, let file, _): return FilePath(file)
            case .unreadable(_, let path, _), .unsafe(_, let path, _): return path
            }
        }

        /// The reason alone (what the parsing child writes).
        var reason: String {
            switch self {
            case .invalid(_, _, let reason), .unreadable(_, _, let reason), .unsafe(_, _, let reason): return reason
            }
        }
    }

    /// Reads the file's text. It must be a regular file owned by root (or the daemon's user) and
    /// writable by no one else (a symlink to such a file is followed: a Kubernetes ConfigMap is
    /// mounted that way).
    static func read(_ path: FilePath, _ kind: Kind) throws(Error) -> String {
        let canonical: FilePath
        switch Syscall.realPath(path) {
        case .success(let resolved): canonical = resolved
        case .failure(let errno): throw .unreadable(kind, path, "\(errno)")
        }
        var info = stat()
        guard lstat(canonical.string, &info) == 0 else { throw .unreadable(kind, path, "\(Errno(rawValue: errno))") }
        guard info.st_uid == 0 || info.st_uid == geteuid() else {
            throw .unsafe(kind, path, "it is owned by uid \(info.st_uid); a \(kind.rawValue) file must be owned by root")
        }
        guard info.st_mode & 0o022 == 0 else {
            throw .unsafe(kind, path, "group or others may write it (mode \(String(info.st_mode & 0o777, radix: 8))); chmod go-w it")
        }
        do {
            return try RegularFile.read(canonical, limit: sizeLimit)
        } catch {
            throw .unreadable(kind, path, error.message)
        }
    }

    /// Decodes `text` strictly after `checkLines`: unknown keys name the table's valid ones
    /// (`keys`, by table name).
    static func decode<Value: Decodable>(_ type: Value.Type, from text: String, file: String, _ kind: Kind,
                                         tables: [String], keys: [String: String]) throws(Error) -> Value {
        try checkLines(text, file: file, kind, tables: tables)
        do {
            var decoder = TOMLDecoder()
            decoder.strictDecoding = true
            return try decoder.decode(Value.self, from: text)
        } catch let error as TOMLParseError {
            throw .invalid(kind, file, "line \(error.source.begin.line): \(error.description)")
        } catch let error as UnexpectedKeysError {
            let paths = error.keys.values.sorted { $0.map(\.stringValue).joined(separator: ".") < $1.map(\.stringValue).joined(separator: ".") }
            guard let path = paths.first, let key = path.last?.stringValue else { throw .invalid(kind, file, "unknown key") }
            let table = path.first?.stringValue ?? ""
            if path.count == 1 { throw .invalid(kind, file, "unknown key or table \(key); the \(kind.rawValue) has \(tables.joined(separator: " and ")) tables") }
            throw .invalid(kind, file, "unknown key \(key) in \(table); \(keys[table] ?? "see docs/daemon.md")")
        } catch {
            throw .invalid(kind, file, "\(error)")
        }
    }

    /// toml++ (under TOMLKit) aborts the process on some malformed table headers (`[é]`, `[` and
    /// control characters: an assertion in its key parser, found by the policy fuzz harness).
    /// The daemon survives that (`PolicyParseCheck`), but the message would only say the parser
    /// crashed. So two things are refused here, before the parser, with their line: control
    /// characters other than tab and CRLF line ends (TOML allows none), and a table header other
    /// than `tables` (`[[rule]]`; `[[idle]]`, `[labels]`).
    static func checkLines(_ text: String, file: String, _ kind: Kind, tables: [String]) throws(Error) {
        // Lines on scalars ("\r\n" is one Character); a carriage return only as half of a CRLF.
        for (index, whole) in text.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = whole.last == "\r" ? whole.dropLast() : whole[...]
            if let control = line.first(where: { ($0.value < 0x20 && $0 != "\t") || $0.value == 0x7f }) {
                throw .invalid(kind, file, "line \(index + 1): control character U+\(String(control.value, radix: 16, uppercase: true)); TOML allows only tabs and line ends")
            }
            // On scalars: "[" followed by a combining mark is one Character, and still a header.
            let code = line.drop { $0 == " " || $0 == "\t" }.prefix { $0 != "#" }
            guard code.first == "[" else { continue }
            var header = String.UnicodeScalarView()
            header.append(contentsOf: code.filter { $0 != " " && $0 != "\t" })
            let text = String(header)
            guard tables.contains(where: { text.unicodeScalars.elementsEqual($0.unicodeScalars) }) else {
                throw .invalid(kind, file, "line \(index + 1): table header \(text); a \(kind.rawValue) file has \(tables.joined(separator: " and ")) tables only")
            }
        }
    }
}
