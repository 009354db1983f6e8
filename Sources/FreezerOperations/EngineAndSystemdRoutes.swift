import CgroupFreezer
import ContainerRuntimes

extension Resolver {
    /// An engine keeps its own pause state: ask it, then read the cgroup to report the truth. An
    /// engine that is where we want it while its cgroup disagrees was written behind its back:
    /// that is reported (409), not hidden as "already".
    func perform(_ operation: BatchOptions.Operation, through engine: any ContainerEngine, on container: Container,
                 cgroup: FreezerTarget?, timeout: Duration, into result: inout BatchResult) async throws {
        guard let engineState = container.engineState, engineState.isLive else {
            throw ContainerCatalog.Error.containerNotRunning(result.reference)
        }
        let enginePaused = engineState == .paused
        // Written behind the engine's back: it would refuse (runc sees the cgroup's state) or
        // say "already" while the cgroup disagrees. Either way the caller must be told.
        if let cgroupState = cgroup.flatMap(currentState), (cgroupState != .thawed) != enginePaused {
            let name = engine.backend == .docker ? "Docker" : engine.backend.rawValue
            throw ContainerCatalog.Error.engineError(result.reference, status: 409, message:
                "\(name) says \(engineState.rawValue) but its cgroup is \(cgroupState.rawValue) (written behind \(name)'s back)")
        }
        switch (operation, enginePaused) {
        case (.freeze, true), (.thaw, false):
            result.outcome = .already
        case (.freeze, false):
            try await engine.pause(container, timeout: timeout)
            result.outcome = .ok
            result.container?.engineState = .paused
        case (.thaw, true):
            try await engine.unpause(container, timeout: timeout)
            result.outcome = .ok
            result.container?.engineState = .running
        }
        // Rollback and refreeze go along this route again: they must see the engine as it is now.
        if let updated = result.container { result.route = .engine(engine, updated, cgroup: cgroup) }
        result.state = cgroup.flatMap(currentState)
    }

    /// systemd keeps its own FreezerState and thaws a unit before running a job on it: freeze and
    /// thaw through FreezeUnit/ThawUnit. systemd 252 on a v1 or hybrid layout answers "not
    /// supported"; then the unit's cgroup is written directly, and a warning says so.
    func perform(_ operation: BatchOptions.Operation, throughSystemd unit: String, cgroup: FreezerTarget?,
                 timeout: Duration, into result: inout BatchResult) async throws {
        let manager = SystemdManager(timeout: timeout)
        let unsupported: SystemdManager.Error
        do {
            let state = try manager.freezerState(unit)
            // "Already" only when systemd and the cgroup agree: a cgroup frozen directly (the
            // fallback below) leaves systemd saying "running".
            let cgroupAgrees = cgroup.flatMap(currentState).map { operation == .freeze ? $0 == .frozen : $0 == .thawed } ?? true
            if cgroupAgrees && ((operation == .freeze && state == "frozen") || (operation == .thaw && state == "running")) {
                result.outcome = .already
            } else if operation == .freeze {
                try freezeUnit(unit, manager: manager, timeout: timeout)
                result.outcome = .ok
            } else {
                try manager.thaw(unit)
                result.outcome = .ok
            }
            result.state = cgroup.flatMap(currentState)
            return
        } catch {
            guard error.isNotSupported else { throw error }
            unsupported = error
        }
        guard let cgroup else { throw unsupported }
        result.backend = Backend(cgroup.backend)
        result.warnings.append("systemd cannot freeze \(unit) here (\(unsupported.text)); its cgroup \(cgroup.cgroup.path) was written directly, and systemctl will not show it frozen")
        let outcome = operation == .freeze ? try await freezer.freeze(cgroup, timeout: timeout) : try await freezer.thaw(cgroup, timeout: timeout)
        result.outcome = outcome.result == .ok ? .ok : .already
        result.state = outcome.state
    }

    /// FreezeUnit; one that does not complete within `timeout` is undone with ThawUnit, so the
    /// unit is never left half-frozen.
    private func freezeUnit(_ unit: String, manager: SystemdManager, timeout: Duration) throws(SystemdManager.Error) {
        do throws(SystemdManager.Error) {
            try manager.freeze(unit)
        } catch {
            guard error.isTimeout else { throw error }
            let undo: String
            do {
                try SystemdManager(timeout: timeout).thaw(unit)
                undo = "ThawUnit undid it"
            } catch let thawError {
                undo = "ThawUnit failed too (\(thawError.text)): check `systemctl status \(unit)`"
            }
            throw SystemdManager.Error(unit: unit, name: error.name, text: "FreezeUnit did not complete within \(timeout.shortDescription); \(undo)")
        }
    }
}
