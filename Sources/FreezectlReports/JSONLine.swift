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

    /// `{"error": CODE, "message": MESSAGE}`: two strings, which JSONEncoder always encodes.
    public static func errorObject(_ error: some FreezectlError) -> [UInt8] {
        // JSONEncoder fails only on non-finite numbers; two strings cannot.
        (try? encode(["error": error.code, "message": error.message])) ?? []
    }
}
