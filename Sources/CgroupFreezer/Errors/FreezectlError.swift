import SystemPackage

/// What every error of the library says, whatever its area: what happened (naming the input,
/// path or reference), a stable `code` for JSON, the path and errno where there are some, and
/// whether the input was wrong (nothing was done) rather than an operation failing.
///
/// Each area has its own error type, nested in the type it belongs to: `CgroupLayout.Error`
/// (layout, paths and target syntax), `CgroupFreezer.Error` (the freezer), `AuditTrail.Error`,
/// `ContainerCatalog.Error` (containers and engines), `SystemdManager.Error`, `CRIU.Error`. What
/// to do about an error is the caller's to say: the CLI's advice names its own flags.
public protocol FreezectlError: Error, Sendable, CustomStringConvertible {
    /// A stable identifier for scripts (`error.code` in JSON output, docs/json-output.md).
    var code: String { get }
    /// One sentence saying what went wrong, naming the input.
    var message: String { get }
    /// True when the input was wrong (exit code 2): nothing was done.
    var isBadInput: Bool { get }
    /// The path the error is about, when there is one.
    var path: FilePath? { get }
    /// The errno the kernel returned, when there is one.
    var errno: Errno? { get }
}

/// An error that says itself what the user can do (CRIU's, the daemon client's, its policy's):
/// FreezectlReports' `nextStep` takes its advice from it. The core's own errors get theirs from
/// FreezectlReports, which names the CLI's flags.
public protocol ErrorAdvice: FreezectlError {
    var advice: String { get }
}

extension FreezectlError {
    public var description: String { message }
    public var isBadInput: Bool { false }
    public var path: FilePath? { nil }
    public var errno: Errno? { nil }
}

extension Error {
    /// The message of a library error, or the error as Swift prints it.
    package var freezectlMessage: String { (self as? any FreezectlError)?.message ?? "\(self)" }
}
