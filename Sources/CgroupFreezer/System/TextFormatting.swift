#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

// Text helpers the core and the CLI need without full Foundation (whose String(format:) and
// padding(toLength:) come from NSString): freezectl links FoundationEssentials only.

extension String {
    /// Without leading and trailing spaces and newlines (kernel files end in one).
    package func trimmingSpaces() -> String {
        String(drop(while: { $0 == " " || $0 == "\n" }).reversed().drop(while: { $0 == " " || $0 == "\n" }).reversed())
    }

    /// `value` with `decimals` digits after the point (0 to 9), rounded as printf's `%.Nf` does.
    package init(_ value: Double, decimals: Int) {
        let format = "%.\(Swift.min(Swift.max(decimals, 0), 9))f"
        var buffer = [CChar](repeating: 0, count: 64)
        let count = withVaList([value]) { vsnprintf(&buffer, buffer.count, format, $0) }
        // A value too long for the buffer (1e60) is cut, never written past it.
        let length = count < 0 ? 0 : Swift.min(Int(count), buffer.count - 1)
        self = String(decoding: buffer.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Padded with spaces to `width` characters (unchanged when it is as long or longer).
    package func padded(to width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }

    /// `bytes` for people: `512B`, `12.3MiB`, `1.0GiB` (powers of 1024, one decimal).
    package init(bytes: UInt64) {
        let units = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
        guard bytes >= 1024 else {
            self = "\(bytes)B"
            return
        }
        var value = Double(bytes) / 1024
        var unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        self = String(value, decimals: 1) + units[unit]
    }
}
