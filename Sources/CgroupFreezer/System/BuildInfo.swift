import CBuildInfo

/// What `--version` reports: the release and the git commit the binaries were built from.
public enum BuildInfo {
    /// The release version, e.g. `0.1.0`.
    public static let version = String(cString: freezectl_build_version())

    /// The commit: 40 hex digits (`-dirty` when the tree had uncommitted changes), or `unknown`
    /// for a build that did not go through `scripts/build-release.sh` (which sets it from git).
    public static let commit = String(cString: freezectl_build_commit())

    /// `0.1.0 (commit 0123…)`, the line `--version` prints.
    public static var versionLine: String { "\(version) (commit \(commit))" }
}
