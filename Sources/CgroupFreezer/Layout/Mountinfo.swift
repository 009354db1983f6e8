import SystemPackage

/// One line of /proc/PID/mountinfo (proc(5)), with the octal escapes of paths undone.
public struct MountinfoEntry: Sendable, Hashable {
    /// The mount ID (field 1).
    public var mountID: Int
    /// The parent mount's ID (field 2).
    public var parentID: Int
    /// `major:minor` of the filesystem (field 3); the same hierarchy mounted twice has the same value.
    public var device: String
    /// The directory of the filesystem that forms the root of this mount (field 4).
    public var root: String
    /// Where it is mounted, relative to the process's root (field 5).
    public var mountPoint: String
    /// The filesystem type after the `-` separator (`cgroup`, `cgroup2`, ...).
    public var filesystemType: String
    /// The per-superblock options (last field), e.g. `rw,freezer` for a v1 freezer hierarchy.
    public var superOptions: [String]

    /// Parses one mountinfo line; nil when the line does not have the documented shape.
    public init?(line: Substring) {
        // Split on the bytes, not on Characters: a host running containers has hundreds of
        // overlay mounts whose lines are kilobytes long, and every command reads them all.
        let fields = line.utf8.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: true).map { Substring($0) }
        guard fields.count >= 10, let separator = fields.firstIndex(of: "-"), separator >= 6,
              fields.count >= separator + 4,
              let id = Int(fields[0]), let parent = Int(fields[1]) else { return nil }
        mountID = id
        parentID = parent
        device = String(fields[2])
        root = Self.unescape(fields[3])
        mountPoint = Self.unescape(fields[4])
        filesystemType = String(fields[separator + 1])
        superOptions = fields[separator + 3].utf8.split(separator: UInt8(ascii: ",")).map { String(Substring($0)) }
    }

    /// Undoes the kernel's octal escapes (`\040` space, `\011` tab, `\012` newline, `\134` backslash).
    static func unescape(_ field: Substring) -> String {
        // On the bytes: StringProtocol.contains(_:) with a string is Foundation's range(of:),
        // which bridged through NSString for every field of every line (7 % of the fuzzer's time).
        guard field.utf8.contains(UInt8(ascii: "\\")) else { return String(field) }
        var bytes: [UInt8] = []
        let utf8 = Array(field.utf8)
        var i = 0
        while i < utf8.count {
            if utf8[i] == UInt8(ascii: "\\"), i + 3 < utf8.count,
               utf8[(i + 1)...(i + 3)].allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "7") }) {
                let value = utf8[(i + 1)...(i + 3)].reduce(0) { $0 * 8 + Int($1 - UInt8(ascii: "0")) }
                bytes.append(UInt8(truncatingIfNeeded: value))
                i += 4
            } else {
                bytes.append(utf8[i])
                i += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Parses a whole mountinfo text, skipping lines that do not parse.
    public static func parse(_ text: String) -> [MountinfoEntry] {
        text.utf8.split(separator: UInt8(ascii: "\n")).compactMap { MountinfoEntry(line: Substring($0)) }
    }
}
