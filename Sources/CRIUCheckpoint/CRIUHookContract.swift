import CgroupFreezer
import Foundation
import SystemPackage

/// Both ends of the environment contract between `restore` and its action script.
///
/// CRIU execs its `--action-script` path without arguments (criu/action-scripts.c), with
/// `CRTOOLS_SCRIPT_ACTION`, `CRTOOLS_IMAGE_DIR` (a /proc/PID/fd/N path of CRIU's) and
/// `CRTOOLS_INIT_PID`, and passes on the environment restore gave CRIU: `FREEZECTL_MARKER`,
/// `FREEZECTL_IMAGES_DIR` (the directory as given) and `FREEZECTL_CRIU_VERSION`. On
/// `post-restore` the script writes the restore marker; every other action has nothing to do.
public struct CRIUHookContract: Sendable, Hashable {
    /// Where the marker goes; nil: no marker asked for.
    public var marker: FilePath?
    /// The images directory restore was given.
    public var imagesDir: String
    /// The CRIU version that restores.
    public var criuVersion: String?
    /// The restored tree's root, as CRIU reports it to the script.
    public var initPID: Int32?

    /// restore's end: what CRIU will pass on to the script.
    public init(marker: FilePath?, imagesDir: String, criuVersion: String?, initPID: Int32? = nil) {
        self.marker = marker
        self.imagesDir = imagesDir
        self.criuVersion = criuVersion
        self.initPID = initPID
    }

    /// The variables restore sets for CRIU (and so for the script).
    public var variables: [String: String] {
        var variables = ["FREEZECTL_IMAGES_DIR": imagesDir]
        variables["FREEZECTL_MARKER"] = marker?.string
        variables["FREEZECTL_CRIU_VERSION"] = criuVersion
        return variables
    }

    /// Whether a process started with `arguments` (without the program name) in `environment` is
    /// The script's end: what it was given, or nil when there is nothing to do (an action other
    /// than post-restore, or no marker asked for).
    public init?(scriptEnvironment environment: [String: String]) {
        guard environment["CRTOOLS_SCRIPT_ACTION"] == "post-restore",
              let marker = environment["FREEZECTL_MARKER"], !marker.isEmpty else { return nil }
        // CRTOOLS_IMAGE_DIR is CRIU's /proc/PID/fd/N: its target names the directory when the
        // variable restore set is missing (a script run by another restore).
        let fromCRIU = environment["CRTOOLS_IMAGE_DIR"]
        let imagesDir = environment["FREEZECTL_IMAGES_DIR"]
            ?? fromCRIU.flatMap { try? FileManager.default.destinationOfSymbolicLink(atPath: $0) }  // not a link: as given
            ?? fromCRIU ?? ""
        self.init(marker: FilePath(marker), imagesDir: imagesDir, criuVersion: environment["FREEZECTL_CRIU_VERSION"],
                  initPID: environment["CRTOOLS_INIT_PID"].flatMap { Int32($0) })
    }

    /// Writes the marker (`RestoreMarker.record`); does nothing without one.
    @discardableResult
    public func writeMarker() throws -> RestoreMarker? {
        guard let marker else { return nil }
        return try RestoreMarker.record(at: marker, imagesDir: imagesDir, initPID: initPID, criuVersion: criuVersion)
    }
}
