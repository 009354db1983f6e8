import CgroupFreezer
import ContainerRuntimes
import SystemPackage

/// What a resolved target is, as opposed to what it is called: what a record kept across time (a
/// lease, a pause in flight) binds to, so that it never acts on a namesake: a cgroup removed and
/// made again under the same path, a container started again under the same ID. A target with
/// neither (an engine's container whose cgroup is not visible here, listed without its init) is
/// found again by its engine's ID alone.
public struct ObjectIdentity: Sendable, Hashable, Codable {
    /// The cgroup whose state is the truth, as validated when the target was resolved.
    public var cgroup: CgroupIdentity?
    /// A container's init: its PID and start time (a container started again has another init).
    public var initPID: Int32?
    public var initStart: UInt64?

    public init(cgroup: CgroupIdentity?, initPID: Int32? = nil, initStart: UInt64? = nil) {
        self.cgroup = cgroup
        self.initPID = initPID
        self.initStart = initStart
    }
}

extension ResolvedTarget {
    /// The identity of what this resolution names: its cgroup as it was validated, and its
    /// container's init with the start time its runtime recorded (else the one /proc gives now).
    public var identity: ObjectIdentity {
        let pid = container?.pid
        return ObjectIdentity(cgroup: cgroup?.cgroup.identity, initPID: pid, initStart: container?.initStart ?? pid.flatMap(ProcessStart.of))
    }
}

extension Resolver {
    /// Resolves `spec` again for a record made when it resolved to `identity`, and refuses with
    /// `CgroupFreezer.Error.replaced` a target that is no longer that object: another cgroup at
    /// the path, or a container whose init is another process. What is compared is what the
    /// record has; the freeze or thaw then checks the cgroup again on the directory it locks.
    public func resolve(_ spec: TargetSpec, for purpose: Purpose, sameAs identity: ObjectIdentity) async throws -> ResolvedTarget {
        let resolved = try await resolve(spec, for: purpose)
        let now = resolved.identity
        let path = resolved.cgroup?.cgroup.path ?? FilePath(spec.description)
        if let expected = identity.cgroup, now.cgroup != expected {
            let found = now.cgroup.map { "this one is \($0)" } ?? "it has no cgroup now"
            throw CgroupFreezer.Error.replaced(path: path, reason: "it was removed and made again since the record was made (the record's cgroup was \(expected), \(found))")
        }
        // Compared where both know the init: an engine's listing gives it for some containers
        // only (those read from a runtime state), and the cgroup tells a restart apart anyway.
        if let pid = identity.initPID, let nowPID = now.initPID, nowPID != pid || now.initStart != identity.initStart {
            throw CgroupFreezer.Error.replaced(path: path, reason: "its container started again since the record was made (the record's init was PID \(pid) started at tick \(identity.initStart.map(String.init) ?? "?"), now PID \(nowPID) started at tick \(now.initStart.map(String.init) ?? "?"))")
        }
        return resolved
    }
}
