import ArgumentParser
import CgroupFreezer

/// The everyday command lines of the kernel-side commands (`pause -q /sys/fs/cgroup/web`,
/// `unpause --format json --runtime-root /run/x runc:web`, `status --all`), parsed without ArgumentParser.
///
/// ArgumentParser builds every option group of the command by reflection, and each first check of
/// a (type, protocol) pair is a scan of all the binary's protocol-conformance records: about 78 %
/// of the instructions of a `freezectl pause` of a cgroup (docs/performance.md, "Start-up").
/// Only a small grammar is read here, into the same command values ArgumentParser would make, which
/// then validate and run as always. Anything outside it (another option, a bundled or repeated
/// flag, `--`, help, a value that does not parse or starts with `-`, a failing validation) returns
/// nil, and ArgumentParser parses the line as before: its messages, help and errors stay the only
/// ones. UnitTests' QuickParseTests check that every line this accepts gives the values
/// ArgumentParser gives.
package enum QuickParse {
    /// The command `arguments` (without the executable's name) make, or nil for ArgumentParser.
    package static func command(_ arguments: [String]) -> (any AsyncParsableCommand)? {
        guard let verb = arguments.first, let words = Words(arguments.dropFirst(), verb: verb) else { return nil }
        let root = Freezectl(host: nil)
        do {
            switch verb {
            case "pause":
                let pause = Pause(root: root, targets: try words.targetArguments(), batch: try words.batchFlags(),
                                  operation: OperationOptions(timeout: words.timeout), common: words.common)
                try pause.validate()
                return pause
            case "unpause":
                let unpause = Unpause(root: root, targets: try words.targetArguments(), batch: try words.batchFlags(),
                                      operation: OperationOptions(timeout: words.timeout), common: words.common)
                try unpause.validate()
                return unpause
            case "status":
                return Status(root: root, targets: try words.targetArguments(), common: words.common)
            default:
                return nil
            }
        } catch {
            return nil
        }
    }

    /// What the words after the verb said; nil when one is outside the grammar.
    private struct Words {
        var targets: [TargetSpec] = []
        var all = false
        var filters: [String] = []
        var runtimeRoots: [String] = []
        var atomic = false
        var direct = false
        var timeout: Duration?
        var common = CommonOptions(format: .table, quiet: false, verbose: false)

        init?(_ words: ArraySlice<String>, verb: String) {
            guard ["pause", "unpause", "status"].contains(verb) else { return nil }
            var seen: Set<String> = []
            var rest = words[...]
            while let word = rest.popFirst() {
                guard word.hasPrefix("-") else {
                    // nil: ArgumentParser parses the line instead and reports the error.
                    guard let target = try? TargetSpec(parsing: word) else { return nil }
                    targets.append(target)
                    continue
                }
                // `--name=value` or `--name value`, as ArgumentParser reads them; a value that
                // starts with `-` is left to it (a missing value, or a negative duration's message).
                let (name, attached) = Self.split(word)
                func value() -> String? {
                    if let attached { return attached }
                    guard let next = rest.first, !next.hasPrefix("-") else { return nil }
                    return rest.popFirst()
                }
                let canonical = ["-q": "--quiet", "-a": "--all"][name] ?? name
                // A repeated flag or option (other than the repeatable ones) is ArgumentParser's to judge.
                guard ["--filter", "--runtime-root"].contains(canonical) || seen.insert(canonical).inserted else { return nil }
                // What only a batch takes: status has no such options.
                guard verb != "status" || !["--timeout", "--atomic", "--direct"].contains(canonical) else { return nil }
                switch canonical {
                case "--quiet", "--verbose", "--all", "--atomic", "--direct":
                    guard attached == nil else { return nil }
                    switch canonical {
                    case "--quiet": common.quiet = true
                    case "--verbose": common.verbose = true
                    case "--all": all = true
                    case "--atomic": atomic = true
                    default: direct = true
                    }
                case "--format":
                    guard let text = value(), let format = OutputFormat(rawValue: text) else { return nil }
                    common.format = format
                case "--timeout":
                    // nil: ArgumentParser parses the line instead and reports the error.
                    guard let text = value(), let duration = try? parseDuration(text, option: "--timeout") else { return nil }
                    timeout = duration
                case "--filter":
                    guard let text = value() else { return nil }
                    filters.append(text)
                case "--runtime-root":
                    guard let text = value() else { return nil }
                    runtimeRoots.append(text)
                default:
                    return nil
                }
            }
        }

        /// `-x=value` is not ArgumentParser's syntax for short names: only long names split.
        private static func split(_ word: String) -> (name: String, value: String?) {
            guard word.hasPrefix("--"), let equals = word.firstIndex(of: "=") else { return (word, nil) }
            return (String(word[..<equals]), String(word[word.index(after: equals)...]))
        }

        func targetArguments() throws -> TargetArguments {
            let arguments = TargetArguments(targets: targets, all: all, filters: filters, namespaces: [],
                                            sources: SourceOptions(runtimeRoots: runtimeRoots))
            try arguments.validate()
            return arguments
        }

        func batchFlags() throws -> BatchFlags {
            let flags = BatchFlags(direct: direct, parallel: BatchFlags.defaultParallel, atomic: atomic)
            try flags.validate()
            return flags
        }
    }
}

// Every property of a command and its option groups is set here: a property wrapper
// ArgumentParser has not filled traps when read. QuickParseTests compare all of them.

extension Freezectl {
    init(host: String?) {
        self.init()
        self.host = host
    }
}

extension Pause {
    init(root: Freezectl, targets: TargetArguments, batch: BatchFlags, operation: OperationOptions, common: CommonOptions) {
        self.init()
        self.root = root
        self.targets = targets
        self.batch = batch
        self.operation = operation
        self.lease = LeaseOptions(duration: nil, hold: false)
        self.audit = AuditOptions(auditLog: nil, auditRequired: false)
        self.common = common
    }
}

extension Unpause {
    init(root: Freezectl, targets: TargetArguments, batch: BatchFlags, operation: OperationOptions, common: CommonOptions) {
        self.init()
        self.root = root
        self.targets = targets
        self.batch = batch
        self.operation = operation
        self.health = HealthOptions.notAsked
        self.audit = AuditOptions(auditLog: nil, auditRequired: false)
        self.common = common
    }
}

extension Status {
    init(root: Freezectl, targets: TargetArguments, common: CommonOptions) {
        self.init()
        self.root = root
        self.targets = targets
        self.common = common
    }
}

extension TargetArguments {
    init(targets: [TargetSpec], all: Bool, filters: [String], namespaces: [String], sources: SourceOptions) {
        self.init()
        self.targets = targets
        self.all = all
        self.filters = filters
        self.namespaces = namespaces
        self.sources = sources
    }
}

extension SourceOptions {
    init(runtimeRoots: [String]) {
        self.init()
        self.runtimeRoots = runtimeRoots
    }
}

extension BatchFlags {
    init(direct: Bool, parallel: Int, atomic: Bool) {
        self.init()
        self.direct = direct
        self.parallel = parallel
        self.atomic = atomic
    }
}

extension OperationOptions {
    /// nil: the option's default.
    init(timeout: Duration?) {
        self.init()
        self.timeout = timeout ?? CgroupFreezer.defaultTimeout
    }
}

extension LeaseOptions {
    init(duration: Duration?, hold: Bool) {
        self.init()
        self.duration = duration
        self.hold = hold
    }
}

extension AuditOptions {
    init(auditLog: String?, auditRequired: Bool) {
        self.init()
        self.auditLog = auditLog
        self.auditRequired = auditRequired
    }
}

extension CommonOptions {
    init(format: OutputFormat, quiet: Bool, verbose: Bool) {
        self.init()
        self.format = format
        self.quiet = quiet
        self.verbose = verbose
    }
}

extension HealthOptions {
    /// No health flag given: each option at its default.
    static var notAsked: HealthOptions {
        var options = HealthOptions()
        options.healthCmd = nil
        options.healthHttp = nil
        options.healthTcp = nil
        options.healthExecInTarget = false
        options.healthInterval = defaultInterval
        options.healthTimeout = defaultTimeout
        options.healthRetries = defaultRetries
        options.healthStartPeriod = .zero
        options.waitHealthy = nil
        options.onUnhealthy = .fail
        return options
    }
}
