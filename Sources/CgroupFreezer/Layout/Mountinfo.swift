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
        var text = line
        guard let entry = text.withUTF8({ bytes in Fields(of: bytes).flatMap { MountinfoEntry(bytes, $0) } }) else { return nil }
        self = entry
    }

    /// The entry of a line whose fields were found.
    private init?(_ bytes: UnsafeBufferPointer<UInt8>, _ fields: Fields) {
        guard let id = Int(fields.string(fields.id, bytes)), let parent = Int(fields.string(fields.parent, bytes)) else { return nil }
        mountID = id
        parentID = parent
        device = fields.string(fields.device, bytes)
        root = Self.unescape(Substring(fields.string(fields.root, bytes)))
        mountPoint = fields.mountPoint(bytes)
        filesystemType = fields.string(fields.type, bytes)
        superOptions = fields.string(fields.options, bytes).utf8.split(separator: UInt8(ascii: ",")).map { String(Substring($0)) }
    }

    /// Where a line's fields are. One pass over the bytes (not Characters: a host running
    /// containers has hundreds of overlay mounts whose lines are kilobytes long, and every
    /// command reads them all), keeping only the fields an entry holds: collecting every field
    /// into an array first allocated and regrew it per line (with the address sanitizer a third
    /// of the fuzzer's time).
    private struct Fields {
        var id = 0..<0, parent = 0..<0, device = 0..<0, root = 0..<0, point = 0..<0, type = 0..<0, options = 0..<0

        /// nil when the line does not have the documented shape: ten fields at least, the `-`
        /// separator after the six fixed ones, the filesystem type and super options after it.
        init?(of bytes: UnsafeBufferPointer<UInt8>) {
            let space = UInt8(ascii: " ")
            var count = 0, separator = -1
            var index = 0
            while index < bytes.count {
                guard bytes[index] != space else { index += 1; continue }
                let start = index
                while index < bytes.count, bytes[index] != space { index += 1 }
                let field = start..<index
                switch count {
                case 0: id = field
                case 1: parent = field
                case 2: device = field
                case 3: root = field
                case 4: point = field
                default: break
                }
                // The first `-` field ends the optional fields; the filesystem type and the super
                // options are the first and third fields after it.
                if separator < 0, field.count == 1, bytes[start] == UInt8(ascii: "-") {
                    separator = count
                } else if separator >= 0, count == separator + 1 {
                    type = field
                } else if separator >= 0, count == separator + 3 {
                    options = field
                }
                count += 1
            }
            guard count >= 10, separator >= 6, count > separator + 3 else { return nil }
        }

        func string(_ field: Range<Int>, _ bytes: UnsafeBufferPointer<UInt8>) -> String {
            String(decoding: UnsafeBufferPointer(rebasing: bytes[field]), as: UTF8.self)
        }

        func mountPoint(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
            MountinfoEntry.unescape(Substring(string(point, bytes)))
        }

        func hasType(_ name: StaticString, _ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
            type.count == name.utf8CodeUnitCount && zip(bytes[type], UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount)).allSatisfy { $0 == $1 }
        }
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
        var entries: [MountinfoEntry] = []
        forEachLine(text) { bytes, fields in
            if let entry = MountinfoEntry(bytes, fields) { entries.append(entry) }
        }
        return entries
    }

    /// The cgroup and cgroup2 mounts of a mountinfo text, each with the mount points of the
    /// lines after it, for the layout (CgroupLayout.visibleMounts). Only the cgroup lines are
    /// parsed whole: of the others (the overlay mounts' options alone are kilobytes), only where
    /// they are mounted is read. A line that does not parse counts as no mount, as in `parse`.
    static func cgroupMounts(_ text: String) -> (mounts: [(entry: MountinfoEntry, position: Int)], mountPoints: [String]) {
        var mounts: [(entry: MountinfoEntry, position: Int)] = []
        var mountPoints: [String] = []
        forEachLine(text) { bytes, fields in
            guard Int(fields.string(fields.id, bytes)) != nil, Int(fields.string(fields.parent, bytes)) != nil else { return }
            if fields.hasType("cgroup", bytes) || fields.hasType("cgroup2", bytes) {
                guard let entry = MountinfoEntry(bytes, fields) else { return }
                mounts.append((entry, mountPoints.count))
            }
            mountPoints.append(fields.mountPoint(bytes))
        }
        return (mounts, mountPoints)
    }

    /// Calls `body` with each line of `text` that has the documented shape, on its bytes.
    private static func forEachLine(_ text: String, _ body: (UnsafeBufferPointer<UInt8>, Fields) -> Void) {
        var text = text
        text.withUTF8 { all in
            var start = 0
            while start < all.count {
                var end = start
                while end < all.count, all[end] != UInt8(ascii: "\n") { end += 1 }
                let line = UnsafeBufferPointer(rebasing: all[start..<end])
                if let fields = Fields(of: line) { body(line, fields) }
                start = end + 1
            }
        }
    }
}
