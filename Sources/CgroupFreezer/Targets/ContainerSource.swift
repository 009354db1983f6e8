/// Where a container was found: a source's name as the target syntax writes it before the colon
/// (`runc`, `docker`, `lxc`, ...). The core knows no source by name: ContainerRuntimes'
/// registry (`ContainerSources`) says which there are and what each can do, so adding one
/// changes nothing here (docs/extending.md).
public struct ContainerSource: RawRepresentable, Sendable, Hashable, Codable, CustomStringConvertible {
    /// The name (`docker`).
    public let rawValue: String

    /// The source called `rawValue`; whether there is one is the registry's to say.
    public init(rawValue: String) { self.rawValue = rawValue }

    public var description: String { rawValue }
}

/// How a source's targets are written: what the target parser needs to know of a source.
public struct ContainerSourceSyntax: Sendable, Hashable {
    /// The prefix before the colon.
    public var source: ContainerSource
    /// Its line in the help texts' table of forms (`docker:ID|NAME`).
    public var form: TargetForm
    /// Whether a reference may be `SCOPE/ID` (containerd's `NAMESPACE/ID`).
    public var scopedReferences: Bool

    public init(source: ContainerSource, form: TargetForm, scopedReferences: Bool = false) {
        self.source = source
        self.form = form
        self.scopedReferences = scopedReferences
    }
}
