import CgroupFreezer
import SystemPackage

/// LXC's containers (`lxc:NAME`), read from LXC's own state: the container directories of its
/// path (`/var/lib/lxc/NAME/config`), `lxc-info` for the state and the init, and `/proc` for the
/// init's cgroup. Paused through LXC's own tools (`lxc-freeze`, `lxc-unfreeze`), so LXC agrees
/// with what was done; `--direct` writes the freezer instead, which LXC reads too (`lxc-info -s`
/// says FROZEN either way on the v1 freezer).
///
/// Labels are comment lines of the container's config, `# freezectl.label.KEY = VALUE`: LXC
/// refuses a key it does not know, so a label cannot be a configuration key of its own, and a
/// comment leaves the container as LXC starts it (docs/extending.md).
///
/// Only what LXC's monitor answers is believed, and only as far as the kernel confirms it: the
/// init `lxc-info` names must be in a cgroup called `lxc.payload.NAME` (LXC's naming), else the
/// answer is refused. (`lxc-info` asks the container's monitor over an abstract socket, which
/// anyone can bind for a container that is not running.)
public struct LXCSource: ContainerSourceDriver, ContainerEngine {
    /// LXC's container directory (`lxc.lxcpath`).
    public let lxcpath: FilePath

    /// Root's default `lxc.lxcpath`.
    public static let defaultPath: FilePath = "/var/lib/lxc"
    /// The largest config read.
    static let configLimit = 1 << 20
    /// How long `lxc-info` may take to answer.
    static let infoTimeout: Duration = .seconds(10)

    public init(lxcpath: FilePath = LXCSource.defaultPath) {
        self.lxcpath = lxcpath
    }

    public var source: ContainerSource { .lxc }
    public var backend: Backend { .lxc }
    public var location: FilePath { lxcpath }
    public var owner: (any ContainerEngine)? { self }
    public var isAbsent: Bool { Syscall.isDirectory(lxcpath) != .success(true) }

    public func unavailability() -> ContainerCatalog.Error? {
        if isAbsent { return .sourceUnavailable(source: source.rawValue, path: lxcpath, reason: "no LXC container directory") }
        if SourceTool("lxc-info", for: source).path == nil {
            return .sourceUnavailable(source: source.rawValue, path: lxcpath, reason: "LXC's tools (lxc-info) are not installed")
        }
        return nil
    }

    /// How many `lxc-info` run at once while every container is listed.
    static let parallelInfo = 8

    /// Every container directory that holds a config, with its state, in name order; their
    /// `lxc-info` run `parallelInfo` at a time (each waits on its container's monitor).
    public func containers() async throws -> [Container] {
        guard case .success(let names) = Syscall.subdirectories(of: lxcpath) else { return [] }
        let candidates = names.sorted().filter { Self.isName($0) && Syscall.exists(lxcpath.appending($0).appending("config")) }
        var found = [Container?](repeating: nil, count: candidates.count)
        try await withThrowingTaskGroup(of: (Int, Container).self) { group in
            var started = 0
            func startNext() {
                guard started < candidates.count else { return }
                let index = started
                started += 1
                group.addTask { (index, try await self.container(named: candidates[index])) }
            }
            for _ in 0..<Self.parallelInfo { startNext() }
            while let (index, container) = try await group.next() {
                found[index] = container
                startNext()
            }
        }
        return found.compactMap { $0 }
    }

    public func container(exactly reference: String) async throws -> Container? {
        guard Self.isName(reference), Syscall.exists(lxcpath.appending(reference).appending("config")) else { return nil }
        return try await container(named: reference)
    }

    /// `lxc-freeze`: LXC writes the freezer and waits until the kernel says FROZEN.
    public func pause(_ container: Container, timeout: Duration) async throws {
        try await change(container, with: "lxc-freeze", expecting: .paused, undo: "lxc-unfreeze", timeout: timeout)
    }

    /// `lxc-unfreeze`.
    public func unpause(_ container: Container, timeout: Duration) async throws {
        try await change(container, with: "lxc-unfreeze", expecting: .running, undo: nil, timeout: timeout)
    }

    /// Runs LXC's `tool` on the container, and returns once LXC says `expected` too. A freeze
    /// that does not finish in time (or whose caller is cancelled) is killed and undone with
    /// `undo`, so no container is left half-frozen.
    private func change(_ container: Container, with tool: String, expecting expected: EngineState, undo: String?,
                        timeout: Duration) async throws {
        let output = try await SourceTool(tool, for: source).run(arguments(container), timeout: timeout)
        if output.killed {
            guard let undo else {
                throw ContainerCatalog.Error.engineError(container.shortReference, status: 504, message: "\(tool) did not finish within \(timeout)")
            }
            // Undone in a task of its own: a cancelled caller (Ctrl-C) killed the freeze, and its
            // cancellation must not kill the thaw too.
            let failure = await Task.detached { [self] in await undoInterrupted(container, freeze: tool, with: undo) }.value
            throw ContainerCatalog.Error.engineError(container.shortReference, status: 504, message: failure.map {
                "\(tool) did not finish within \(timeout) or was interrupted, and \(undo) failed (\($0)): the container may be frozen; run freezectl unpause --direct lxc:\(container.id)"
            } ?? "\(tool) did not finish within \(timeout) or was interrupted; \(undo) thawed the container again")
        }
        guard output.status == 0 else {
            throw ContainerCatalog.Error.engineError(container.shortReference, status: 500, message:
                "\(tool) exited \(output.status): \(Self.lastLine(output.standardError))")
        }
        if let seen = await agreement(container, expecting: expected) {
            throw ContainerCatalog.Error.engineError(container.shortReference, status: 502, message:
                "\(tool) finished, but LXC still says \(seen) (the cgroup's state is below)")
        }
    }

    /// Waits, at most about 2 s, until `lxc-info -s` says `expected`: LXC's monitor learns a new
    /// state from notifications its tools send without waiting, over connections of their own,
    /// so it may say the old one (or a killed tool's FREEZING) for a moment after the tool
    /// exits. nil once it agrees; else what it last said.
    private func agreement(_ container: Container, expecting expected: EngineState) async -> String? {
        var seen = "nothing"
        for attempt in 0..<40 {
            if attempt > 0, await !sleepUnlessCancelled(for: .milliseconds(50)) { break }
            do {
                let info = try await SourceTool("lxc-info", for: source).run(arguments(container) + ["-s"], timeout: Self.infoTimeout)
                let state = Self.info(info.standardOutput).state
                if state.flatMap(Self.engineState) == expected { return nil }
                seen = state ?? "nothing (\(Self.lastLine(info.standardError)))"
            } catch {
                seen = "nothing (\(error))"  // lxc-info could not be run: asked again, then reported
            }
        }
        return seen
    }

    /// Thaws a container whose `freeze` was killed, until LXC says it runs. A killed
    /// lxc-freeze can leave LXC's monitor at FREEZING, where lxc-unfreeze does nothing (it exits
    /// 0 and the freezer stays FROZEN): then the freeze is let finish (LXC says FROZEN again) and
    /// thawed. nil when it ended thawed, else what was last seen.
    private func undoInterrupted(_ container: Container, freeze: String, with undo: String) async -> String? {
        var seen = "not run"
        for attempt in 0..<3 {
            let tools = attempt == 0 ? [undo] : [freeze, undo]
            do {
                for tool in tools {
                    let run = try await SourceTool(tool, for: source).run(arguments(container), timeout: Self.infoTimeout)
                    guard run.status == 0, !run.killed else {
                        throw ContainerCatalog.Error.engineError(container.shortReference, status: 500, message:
                            "\(tool) \(run.killed ? "did not finish" : "exited \(run.status)"): \(Self.lastLine(run.standardError))")
                    }
                }
            } catch {
                seen = (error as? any FreezectlError)?.message ?? "\(error)"
                continue
            }
            guard let state = await agreement(container, expecting: .running) else { return nil }
            seen = "lxc-info says \(state)"
        }
        return seen
    }

    /// `-P LXCPATH -n NAME`, as every LXC tool takes the container.
    private func arguments(_ container: Container) -> [String] {
        ["-P", lxcpath.string, "-n", container.id]
    }

    /// The container `name` as its config and `lxc-info` describe it.
    private func container(named name: String) async throws -> Container {
        let configPath = lxcpath.appending(name).appending("config")
        let labels = Self.labels(config: try RegularFile.read(configPath, limit: Self.configLimit))
        let output = try await SourceTool("lxc-info", for: source).run(["-P", lxcpath.string, "-n", name, "-s", "-p"], timeout: Self.infoTimeout)
        guard output.status == 0, !output.killed else {
            throw ContainerCatalog.Error.sourceFailed(source: source.rawValue, path: configPath, reason:
                "lxc-info -n \(name) \(output.killed ? "did not answer within \(Self.infoTimeout)" : "exited \(output.status): \(Self.lastLine(output.standardError))")")
        }
        let info = Self.info(output.standardOutput)
        let state = info.state.flatMap(Self.engineState)
        var container = Container(source: source, id: name, name: name, labels: labels, pid: nil,
                                  engineState: state, owner: nil, cgroup: nil)
        if state?.isLive == true, let pid = info.pid {
            try Self.checkPayload(pid, of: name, configPath: configPath)
            container.pid = pid
            container.initStart = ProcessStart.of(pid)
            container.cgroup = .pid(pid)
        }
        return container
    }

    /// The init's cgroups must be LXC's payload cgroup of this container (`.../lxc.payload.NAME`).
    private static func checkPayload(_ pid: Int32, of name: String, configPath: FilePath) throws {
        let text = try CgroupFile.readProcFile(FilePath("/proc/\(pid)/cgroup"))
        let paths = text.split(separator: "\n").compactMap { line in line.split(separator: ":", maxSplits: 2).last }
        let payload = "lxc.payload.\(name)"
        guard !paths.isEmpty, paths.allSatisfy({ $0.split(separator: "/").last.map(String.init) == payload }) else {
            throw ContainerCatalog.Error.untrustedState("lxc:\(name)", path: configPath, reason:
                "lxc-info names process \(pid), which is not in LXC's cgroup \(payload)")
        }
    }

    /// `State:` and `PID:` of `lxc-info -s -p`.
    static func info(_ text: String) -> (state: String?, pid: Int32?) {
        var state: String?, pid: Int32?
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2 else { continue }
            let value = Self.trimmed(parts[1])
            switch parts[0] {
            case "State": state = value
            case "PID": pid = Int32(value).flatMap { $0 > 0 ? $0 : nil }
            default: continue
            }
        }
        return (state, pid)
    }

    /// LXC's states as an engine's: RUNNING and THAWED run, FROZEN and FREEZING are paused.
    static func engineState(_ state: String) -> EngineState? {
        switch state {
        case "RUNNING", "THAWED": return .running
        case "FROZEN", "FREEZING": return .paused
        case "STARTING": return .created
        case "STOPPING", "STOPPED", "ABORTING": return .exited
        default: return nil
        }
    }

    /// The labels of a config: `# freezectl.label.KEY = VALUE` comment lines.
    static func labels(config: String) -> [String: String] {
        var labels: [String: String] = [:]
        for line in config.split(separator: "\n") {
            var rest = line.drop { $0 == " " || $0 == "\t" }
            guard rest.first == "#" else { continue }
            rest = rest.dropFirst().drop { $0 == " " || $0 == "\t" }
            guard rest.hasPrefix("freezectl.label."), let equals = rest.firstIndex(of: "=") else { continue }
            let key = trimmed(rest[rest.index(rest.startIndex, offsetBy: "freezectl.label.".count)..<equals])
            guard !key.isEmpty else { continue }
            labels[key] = trimmed(rest[rest.index(after: equals)...])
        }
        return labels
    }

    /// A container name LXC makes a directory of: no `/`, not `.` or `..`, not empty.
    static func isName(_ name: String) -> Bool {
        !name.isEmpty && name != "." && name != ".." && !name.contains("/")
    }

    /// Without leading and trailing spaces and tabs.
    private static func trimmed(_ text: Substring) -> String {
        let isBlank: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        return String(text.drop(while: isBlank).reversed().drop(while: isBlank).reversed())
    }

    private static func lastLine(_ text: String) -> String {
        String(text.split(separator: "\n").last ?? "no output")
    }
}

extension ContainerSource {
    public static let lxc = ContainerSource(rawValue: "lxc")
}

extension Backend {
    /// LXC's tools (`lxc-freeze`, `lxc-unfreeze`).
    public static let lxc = Backend(rawValue: "lxc")
}

extension ContainerSourceKind {
    /// LXC: containers of root's `lxc.lxcpath`, paused through LXC's tools.
    public static let lxc = ContainerSourceKind(
        syntax: ContainerSourceSyntax(source: .lxc, form: TargetForm(syntax: "lxc:NAME", meaning: "an LXC container, through lxc-freeze and lxc-unfreeze")),
        keepsPauseState: true, needsEngineClient: false, drivers: { _ in [LXCSource()] }, isPresent: { _ in false },
        advice: SourceAdvice(list: "`lxc-ls -f`", start: "install LXC (apt-get install lxc) and create the container in /var/lib/lxc",
                             checkSource: "check LXC (`lxc-ls -f`, `lxc-info -n NAME`)", checkContainer: "check the container with `lxc-info -n NAME`",
                             target: "lxc:NAME"))
}
