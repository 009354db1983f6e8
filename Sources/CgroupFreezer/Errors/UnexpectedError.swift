/// An error of a type no freezectl module throws for itself (a dependency's, a runtime's),
/// reported as what it is: never passed off as a cancellation or an engine's answer.
public struct UnexpectedError: ErrorAdvice {
    /// What the error said of itself.
    public let underlying: String

    public init(_ error: any Swift.Error) {
        underlying = "\(type(of: error)): \(error)"
    }

    public var code: String { "internal-error" }
    public var message: String { "unexpected error: \(underlying)" }
    public var advice: String {
        "the operation's outcome is in the report (status shows each cgroup's state); please report this message as a freezectl bug"
    }

    /// `error` as callers get it: freezectl's own errors as they are, a cancellation as
    /// `CgroupFreezer.Error.cancelled`, anything else wrapped.
    public static func reported(_ error: any Swift.Error) -> any FreezectlError {
        if let known = error as? any FreezectlError { return known }
        if error is CancellationError { return CgroupFreezer.Error.cancelled }
        return UnexpectedError(error)
    }
}
