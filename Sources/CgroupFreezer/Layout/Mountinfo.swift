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
        // One pass over the bytes (not Characters: a host running containers has hundreds of
        // overlay mounts whose lines are kilobytes long, and every command reads them all),
        // keeping only the fields this type holds. Collecting every field into an array first
        // allocated and regrew it per line: with the address sanitizer that was a third of the
        // fuzzer's time, and it is wasted work in every command too.
        let space = UInt8(ascii: " ")
        let bytes = line.utf8
        var kept: (id: Substring?, parent: Substring?, device: Substring?, root: Substring?, point: Substring?) = (nil, nil, nil, nil, nil)
        var type: Substring?, options: Substring?
        var count = 0, separator = -1
        var index = bytes.startIndex
        while index < bytes.endIndex {
            guard bytes[index] != space else { index = bytes.index(after: index); continue }
            let start = index
            while index < bytes.endIndex, bytes[index] != space { index = bytes.index(after: index) }
            let field = Substring(bytes[start..<index])
            switch count {
            case 0: kept.id = field
            case 1: kept.parent = field
            case 2: kept.device = field
            case 3: kept.root = field
            case 4: kept.point = field
            default: break
            }
            // The first `-` field ends the optional fields; the filesystem type and the super
            // options are the first and third fields after it.
            if separator < 0, field.utf8.count == 1, field.utf8.first == UInt8(ascii: "-") {
                separator = count
            } else if separator >= 0, count == separator + 1 {
                type = field
            } else if separator >= 0, count == separator + 3 {
                options = field
            }
            count += 1
        }
        guard count >= 10, separator >= 6, let type, let options,
              let idText = kept.id, let id = Int(idText), let parentText = kept.parent, let parent = Int(parentText),
              let device = kept.device, let root = kept.root, let point = kept.point else { return nil }
        mountID = id
        parentID = parent
        self.device = String(device)
        self.root = Self.unescape(root)
        mountPoint = Self.unescape(point)
        filesystemType = String(type)
        superOptions = options.utf8.split(separator: UInt8(ascii: ",")).map { String(Substring($0)) }
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
