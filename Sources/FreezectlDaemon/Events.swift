import CgroupFreezer
import ContainerEngines
import ContainerRuntimes
import Foundation
import FreezectlReports
import NIOCore
import Synchronization
import SystemPackage

/// One state change, as `GET /v1/events` streams it (one JSON object per line).
struct Event: Encodable, Sendable {
    /// What kind of change.
    enum Kind: String, Encodable, Sendable {
        /// An operation the daemon performed (pause, unpause, a lease's thaw, a refusal).
        case operation
        /// A lease ended (expired, released, deleted, unpaused).
        case lease
        /// A freeze or thaw made by someone else on a cgroup the daemon watches.
        case state
        /// The idle controller froze a quiet target (`idle-freeze`) or woke one (`wake`).
        case idle
    }

    var type: Kind
    /// pause, unpause, refreeze, ... for operations; ended for leases; frozen, thawed, freezing,
    /// frozen-by-parent for state changes.
    var action: String
    var target: String?
    var cgroup: String?
    /// The cgroup path as /proc/PID/cgroup writes it, which the policy's `cgroups` match.
    var cgroupPath: String?
    var result: String?
    var message: String?
    var requester: AuditRecord.Requester?
    var rule: String?
    var lease: String?
    var source: String?
    var id: String?
    var name: String?
    var labels: [String: String]?
    /// Why an idle-frozen target woke: `traffic`, `api`, `shutdown`, `thawed` (by someone else).
    var cause: String?
    /// The figures of an idle freeze or a wake.
    var idle: IdleFigures?
    /// The container itself, for the policy's filters (not sent).
    var container: Container?
    /// RFC 3339 and nanoseconds since the epoch (docker's `time` and `timeNano`).
    var time: String
    var timeNano: Int64

    enum CodingKeys: String, CodingKey {
        case type, action, target, cgroup, result, message, requester, rule, lease, source, id, name, labels, cause, idle, time
        case timeNano = "time_nano"
    }

    init(type: Kind, action: String, at date: Date = Date()) {
        self.type = type
        self.action = action
        time = date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
        timeNano = Int64((date.timeIntervalSince1970 * 1e9).rounded())
    }

    /// Fills in the container's source, ID, name and labels.
    mutating func describe(_ container: Container?) {
        guard let container else { return }
        self.container = container
        source = container.source.rawValue
        id = container.id
        name = container.name
        labels = container.labels
    }
}

/// What made a target idle, or how its wake went (in an `idle` event).
struct IdleFigures: Encodable, Sendable {
    /// The rule's or label's `after`, and how long the target was quiet, in milliseconds.
    var afterMS: Double?
    var quietMS: Double?
    /// The most CPU it used in any sample of its quiet time, in percent of one CPU (nil when its
    /// cgroup's CPU time cannot be read), and the rule's bound.
    var cpuPercent: Double?
    var cpuBelow: Double?
    /// `traffic` or `api`.
    var wake: String?
    var reclaim: Bool?
    /// What the wake's first packet came to: `tcp/8080 (listening)`.
    var socket: String?
    /// From the first packet's arrival to the end of the thaw, in milliseconds.
    var latencyMS: Double?
    /// Resident bytes the reclaim gave back.
    var reclaimedBytes: UInt64?

    enum CodingKeys: String, CodingKey {
        case afterMS = "after_ms", quietMS = "quiet_ms", cpuPercent = "cpu_percent", cpuBelow = "cpu_below", wake, reclaim, socket
        case latencyMS = "latency_ms", reclaimedBytes = "reclaimed_bytes"
    }
}

/// Where events go: the recent ones (for `since`) and every open `/v1/events` stream.
final class EventHub: Sendable {
    private struct State {
        /// A ring: dropping the oldest of an array moved the other 999 at every event, the most
        /// of a pause's time in the hub.
        var recent = CircularBuffer<Event>(initialCapacity: EventHub.recentLimit + 1)
        var subscribers: [UInt64: AsyncStream<Event>.Continuation] = [:]
        var nextID: UInt64 = 0
        var closed = false
        /// The containers the watcher knows, by cgroup directory: operation events are described with them.
        var containers: [String: Container] = [:]
    }

    /// How many past events `since` can replay.
    static let recentLimit = 1000

    private let state = Mutex(State())
    private let layout: CgroupLayout

    init(layout: CgroupLayout) {
        self.layout = layout
    }

    func publish(_ event: Event) {
        var event = event
        if event.cgroupPath == nil, let cgroup = event.cgroup.map({ FilePath($0) }) {
            event.cgroupPath = layout.hierarchy(containing: cgroup)?.cgroupPath(forDirectory: cgroup)
        }
        state.withLock { state in
            if event.id == nil, let cgroup = event.cgroup { event.describe(state.containers[cgroup]) }
            state.recent.append(event)
            if state.recent.count > Self.recentLimit { state.recent.removeFirst() }
            for subscriber in state.subscribers.values { subscriber.yield(event) }
        }
    }

    /// A stream of the events from now on, after those since `since` (nanoseconds since the epoch)
    /// that are still kept. Ends when the hub closes (the daemon stops), when `end` is called
    /// (the client's connection closed), or when the consumer stops.
    func subscribe(since: Int64?) -> (events: AsyncStream<Event>, end: @Sendable () -> Void) {
        let (stream, continuation) = AsyncStream.makeStream(of: Event.self, bufferingPolicy: .bufferingNewest(10_000))
        let id = state.withLock { state -> UInt64? in
            guard !state.closed else { return nil }
            if let since {
                for event in state.recent where event.timeNano >= since { continuation.yield(event) }
            }
            state.nextID += 1
            state.subscribers[state.nextID] = continuation
            return state.nextID
        }
        guard let id else {
            continuation.finish()
            return (stream, {})
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.subscribers.removeValue(forKey: id) }
        }
        return (stream, { continuation.finish() })
    }

    /// Ends every stream (graceful shutdown: an open stream would keep the server from stopping).
    func close() {
        let subscribers = state.withLock { state in
            state.closed = true
            defer { state.subscribers.removeAll() }
            return Array(state.subscribers.values)
        }
        for subscriber in subscribers { subscriber.finish() }
    }

    /// The containers by cgroup directory, as the watcher last listed them.
    func setContainers(_ containers: [String: Container]) {
        state.withLock { $0.containers = containers }
    }

    /// How many subscribers are connected (for metrics and tests of the daemon's memory).
    var subscriberCount: Int { state.withLock { $0.subscribers.count } }
}

/// Every audit record of the daemon is also an event: operations, lease thaws, refusals.
struct EventSink: AuditSink {
    let hub: EventHub
    var name: String { "events" }

    func write(_ record: AuditRecord) throws {
        var event = Event(type: .operation, action: record.action.rawValue)
        event.target = record.target
        event.cgroup = record.cgroup
        event.result = record.result.rawValue
        event.message = record.message
        event.requester = record.requester
        event.rule = record.rule
        event.lease = record.lease
        hub.publish(event)
    }
}

/// `filters` of `GET /v1/events`, docker's form: a JSON object of lists, e.g.
/// `{"type": ["state"], "label": ["tier=web"]}`. Different keys must all match, values of one
/// key any.
struct EventFilter: Sendable {
    static let keys = ["type", "action", "target", "container", "label", "cgroup", "lease"]
    var clauses: [String: [String]]

    init(json: String?) throws(ArgumentError) {
        guard let json, !json.isEmpty else {
            clauses = [:]
            return
        }
        let parsed: [String: [String]]
        do {
            parsed = try JSONDecoder().decode([String: [String]].self, from: Data(json.utf8))
        } catch {
            throw ArgumentError("filters must be a JSON object of string lists, e.g. {\"type\": [\"state\"]}; got \(json)")
        }
        for key in parsed.keys where !Self.keys.contains(key) {
            throw ArgumentError("unknown filter \"\(key)\"; filters are \(Self.keys.joined(separator: ", "))")
        }
        clauses = parsed
    }

    func matches(_ event: Event) -> Bool {
        clauses.allSatisfy { key, values in
            values.contains { value in
                switch key {
                case "type": return event.type.rawValue == value
                case "action": return event.action == value
                case "target": return event.target == value
                case "container": return event.name == value || (event.id?.hasPrefix(value) ?? false)
                case "label":
                    let parts = value.split(separator: "=", maxSplits: 1).map(String.init)
                    guard let actual = event.labels?[parts[0]] else { return false }
                    return parts.count == 1 || actual == parts[1]
                case "cgroup": return event.cgroupPath.map { $0 == value || $0.hasPrefix(value.hasSuffix("/") ? value : value + "/") } ?? false
                case "lease": return event.lease == value
                default: return false
                }
            }
        }
    }
}
