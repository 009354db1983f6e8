import CRIUCheckpoint
import CgroupFreezer
import ContainerEngines
import ContainerRuntimes
import ContainerdAPI
import Foundation
import FreezectlDaemon
import FreezectlAPI
import FreezectlReports
import FreezerOperations
import SwiftProtobuf
import SystemPackage

/// One parser of outside input and what must hold for any bytes it is given: no trap (libFuzzer
/// and the address sanitizer catch those), a rejection only as the parser's typed error, and
/// where the parser has a printer, print-then-parse gives the same value. A violated property
/// stops the process with `preconditionFailure`, which libFuzzer reports as a crash with the input.
///
/// `scripts/fuzz.sh` runs each under libFuzzer (`freezectl-fuzz`); the unit tests replay the
/// committed corpus (`Fuzz/Corpus/<name>/`), so an input that once crashed stays a test.
package enum Harness: String, CaseIterable, Sendable {
    case mountinfo
    case procCgroup = "proc-cgroup"
    case procStat = "proc-stat"
    case keyedFile = "keyed-file"
    case freezerState = "freezer-state"
    case targetSyntax = "target-syntax"
    case filter
    case duration
    case runcState = "runc-state"
    case crunStatus = "crun-status"
    case dockerList = "docker-list"
    case containerdTasks = "containerd-tasks"
    case containerdContainers = "containerd-containers"
    case restoreMarker = "restore-marker"
    case daemonRequest = "daemon-request"
    case policy

    /// Runs the harness on one input.
    package func run(_ bytes: UnsafeBufferPointer<UInt8>) {
        let data = Data(buffer: bytes)
        let text = String(decoding: bytes, as: UTF8.self)
        switch self {
        case .mountinfo: Self.mountinfo(text)
        case .procCgroup: Self.procCgroup(text)
        case .procStat: Self.procStat(text)
        case .keyedFile: Self.keyedFile(text)
        case .freezerState: Self.freezerState(text)
        case .targetSyntax: Self.targetSyntax(text)
        case .filter: Self.filter(text)
        case .duration: Self.duration(text)
        case .runcState: _ = try? OCIRuntimeSource.runcState(data)
        case .crunStatus: _ = try? OCIRuntimeSource.crunStatus(data)
        case .dockerList: Self.dockerList(data)
        case .containerdTasks: Self.roundTrip(Containerd_Services_Tasks_V1_ListTasksResponse.self, data)
        case .containerdContainers: Self.roundTrip(Containerd_Services_Containers_V1_ListContainersResponse.self, data)
        case .restoreMarker: Self.restoreMarker(data)
        case .daemonRequest: Self.daemonRequest(data)
        case .policy: Self.policy(text)
        }
    }

    /// `run` on a byte array (the corpus replay).
    package func run(_ bytes: [UInt8]) {
        bytes.withUnsafeBufferPointer { run($0) }
    }

    // MARK: - The properties

    static func check(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String) {
        if !condition() { preconditionFailure(message()) }
    }

    /// Every line that parses prints back (the kernel's octal escapes) to the same entry; a
    /// layout's hierarchies are visible cgroup mounts from the text, each at an absolute path.
    static func mountinfo(_ text: String) {
        let entries = MountinfoEntry.parse(text)
        for entry in entries {
            let line = "\(entry.mountID) \(entry.parentID) \(entry.device) \(escaped(entry.root)) \(escaped(entry.mountPoint)) rw - \(entry.filesystemType) none \(entry.superOptions.isEmpty ? "rw" : entry.superOptions.joined(separator: ","))"
            let again = MountinfoEntry(line: Substring(line))
            check(again?.root == entry.root && again?.mountPoint == entry.mountPoint && again?.device == entry.device
                  && again?.filesystemType == entry.filesystemType && again?.mountID == entry.mountID,
                  "mountinfo entry did not survive print and parse: \(entry) -> \(line)")
        }
        guard let layout = try? CgroupLayout(mountinfo: text) else { return }
        let points = Set(entries.filter { $0.filesystemType == "cgroup" || $0.filesystemType == "cgroup2" }.map { FilePath($0.mountPoint).string })
        for hierarchy in layout.hierarchies {
            check(points.contains(hierarchy.mountPoint.string), "a hierarchy at \(hierarchy.mountPoint) that no cgroup line names")
        }
    }

    /// mountinfo's escapes (space, tab, newline, backslash as `\NNN`), and `-` too: a field that
    /// unescaped to `-` would otherwise print as the separator.
    static func escaped(_ field: String) -> String {
        var out: [UInt8] = []
        for byte in field.utf8 {
            switch byte {
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\\"), UInt8(ascii: "-"):
                let octal = String(byte, radix: 8)
                out += Array(("\\" + String(repeating: "0", count: 3 - octal.count) + octal).utf8)
            default:
                out.append(byte)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Its entries print back as `N:controllers:path` lines and parse to the same entries.
    static func procCgroup(_ text: String) {
        let parsed = ProcessCgroups(pid: 1, text: text)
        let printed = parsed.entries.enumerated().map { "\($0.offset):\($0.element.controllers):\($0.element.path)" }.joined(separator: "\n")
        let again = ProcessCgroups(pid: 1, text: printed)
        check(again.entries == parsed.entries, "/proc/PID/cgroup entries did not survive print and parse")
    }

    /// The fields after the command name hold no space; a start time is a number or nil.
    static func procStat(_ text: String) {
        guard let fields = ProcStat.fields(statText: text) else { return }
        check(fields.allSatisfy { !$0.contains(" ") && !$0.isEmpty }, "a stat field with a space")
        if fields.count > 19 { _ = UInt64(fields[19]) }
    }

    /// A value found for a key is the rest of that key's first line; printed pairs read back.
    static func keyedFile(_ text: String) {
        for key in ["populated", "frozen"] {
            if let value = CgroupFile.value(of: key, inKeyedText: text) {
                check(!value.contains("\n"), "a keyed value spans lines")
                check(CgroupFile.value(of: key, inKeyedText: "\(key) \(value)\n") == value, "a keyed value did not read back")
            }
        }
    }

    /// freezer.state (v1): frozen only when its first line is `FROZEN` (by a parent when the
    /// cgroup did not ask), freezing only for `FREEZING`, anything else thawed.
    static func freezerState(_ text: String) {
        let first = text.split(separator: "\n", omittingEmptySubsequences: false).first.map(String.init) ?? ""
        for selfFrozen in [false, true] {
            let state = FreezeState(v1StateText: text, selfFrozen: selfFrozen)
            let expected: FreezeState = first == "FROZEN" ? (selfFrozen ? .frozen : .frozenByParent) : first == "FREEZING" ? .freezing : .thawed
            check(state == expected, "freezer.state \(text.debugDescription) read as \(state)")
        }
    }

    /// A target that parses prints to a target that parses to the same value.
    static func targetSyntax(_ text: String) {
        guard let spec = try? TargetSpec(parsing: text) else { return }
        let again = try? TargetSpec(parsing: spec.description)
        check(again == spec, "target \(text.debugDescription) -> \(spec.description.debugDescription) -> \(String(describing: again))")
    }

    /// `--filter` values (one per line): a percentage that parses is finite and from 0 to 100.
    static func filter(_ text: String) {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard let filter = try? ContainerFilter(parsing: lines) else { return }
        for clause in filter.clauses {
            switch clause {
            case .memoryBelow(let value), .memoryAbove(let value):
                check(value.isFinite && value >= 0 && value <= 100, "a memory percentage out of range: \(value)")
            default:
                continue
            }
        }
    }

    /// A duration that parses is within its bounds and reads back from microseconds.
    static func duration(_ text: String) {
        guard let duration = try? DurationArgument.parse(text, option: "--timeout", allowZero: true) else { return }
        check(duration >= .zero && duration <= .seconds(86_400), "a duration out of bounds: \(duration)")
        let (seconds, attoseconds) = duration.components
        let microseconds = Double(seconds) * 1e6 + Double(attoseconds) / 1e12
        guard microseconds >= 1 else { return }
        let again = try? DurationArgument.parse("\(microseconds)us", option: "--timeout")
        check(again.map { abs(($0 - duration) / .nanoseconds(1)) <= 1 } ?? false, "duration \(text) did not read back: \(duration) -> \(String(describing: again))")
    }

    /// A list answer either decodes to containers, or is the engine's error (typed).
    static func dockerList(_ data: Data) {
        guard let containers = try? DockerEngine.listed(data, source: .docker) else { return }
        for container in containers { _ = container.shortReference }
    }

    /// Protobuf answers: what decodes encodes and decodes to the same message.
    static func roundTrip<M: SwiftProtobuf.Message & Equatable>(_ type: M.Type, _ data: Data) {
        guard let message = try? M(serializedBytes: data) else { return }
        guard let bytes: Data = try? message.serializedBytes() else {
            preconditionFailure("a decoded \(M.self) did not encode")
        }
        check((try? M(serializedBytes: bytes)) == message, "\(M.self) did not survive encode and decode")
    }

    /// A marker that decodes encodes and decodes to the same marker.
    static func restoreMarker(_ data: Data) {
        guard let marker = try? JSONDecoder().decode(RestoreMarker.self, from: data) else { return }
        guard let encoded = try? JSONEncoder().encode(marker) else { preconditionFailure("a decoded marker did not encode") }
        check((try? JSONDecoder().decode(RestoreMarker.self, from: encoded)) == marker, "a restore marker did not survive encode and decode")
    }

    /// A pause or unpause body: decoded and checked as the API does, for both operations; a
    /// checked request has a selection and bounded options.
    static func daemonRequest(_ data: Data) {
        guard let body = try? JSONDecoder().decode(DaemonAPI.OperationRequest.self, from: data) else { return }
        for operation in [BatchOptions.Operation.freeze, .thaw] {
            guard let parsed = try? ParsedOperationRequest(body, operation: operation) else { continue }
            check((1...1000).contains(parsed.options.parallel), "parallel out of range: \(parsed.options.parallel)")
            check(parsed.leaseDuration.map { $0 > .zero && $0 <= .seconds(86_400) } ?? true, "a lease out of bounds")
        }
    }

    /// A policy file (TOML): it parses, or the error names the file.
    static func policy(_ text: String) {
        do {
            _ = try Policy(parsing: text, file: "fuzz.toml")
        } catch {
            check("\(error)".contains("fuzz.toml"), "a policy error that does not name the file: \(error)")
        }
    }
}

