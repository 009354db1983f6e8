#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// How a report is written as JSON, the same for the CLI's `--format json` and the daemon's
/// answers: sorted keys, slashes unescaped, one object per line.
public enum JSONLine {
    /// `value` as one line of JSON, without the newline.
    public static func encode(_ value: some Encodable) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Our reports hold strings, integers, booleans and finite numbers only, which always encode.
        return (try? encoder.encode(value)).map { Array($0) } ?? []
    }

    /// `value` as one line of JSON, without the newline.
    public static func string(_ value: some Encodable) -> String {
        String(decoding: encode(value), as: UTF8.self)
    }
}
