#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import CgroupFreezer

/// How a report is written as JSON, the same for the CLI's `--format json` and the daemon's
/// answers: sorted keys, slashes unescaped, one object per line.
public enum JSONLine {
    /// `value` as one line of JSON, without the newline. Our reports hold strings, integers,
    /// booleans and numbers (non-finite ones written as strings), so a failure is a bug: it is
    /// thrown, never answered as an empty body.
    public static func encode(_ value: some Encodable) throws(UnexpectedError) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        do {
            return Array(try encoder.encode(value))
        } catch {
            throw UnexpectedError(error)
        }
    }

    /// `value` as one line of JSON, without the newline; where it cannot be encoded, the error
    /// as an object of its own (`{"error": "internal-error", "message": ...}`): a stream of lines
    /// (events, a hold, the CLI's reports) says what it could not write.
    public static func line(_ value: some Encodable) -> [UInt8] {
        do {
            return try encode(value)
        } catch {
            return errorObject(error)
        }
    }

    /// `value` as one line of JSON, without the newline (`line`).
    public static func string(_ value: some Encodable) -> String {
        String(decoding: line(value), as: UTF8.self)
    }

    /// `{"error": CODE, "message": MESSAGE}`, written by hand: it must not fail where encoding did.
    public static func errorObject(_ error: some FreezectlError) -> [UInt8] {
        Array("{\"error\":\(quoted(error.code)),\"message\":\(quoted(error.message))}".utf8)
    }

    /// `text` as a JSON string: quotes, backslashes and control characters escaped.
    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
