import CgroupFreezer
import CSystemd
import SystemPackage

/// systemd's manager on the system bus (sd-bus; DBUS_SYSTEM_BUS_ADDRESS is honoured), for
/// `unit:NAME` targets: FreezeUnit and ThawUnit keep systemd's own FreezerState right, and systemd
/// answers only when the freeze is complete.
public struct SystemdManager: Sendable {
    /// What the bus answered, before it is tied to a unit (`Error`).
    private struct BusFailure: Swift.Error {
        var name: String
        var message: String
    }

    /// Every call's bound (sd_bus_call's usec): a hung systemd must not hold a freeze forever.
    public var timeout: Duration

    /// A manager handle (the bus is opened per call); calls are bounded by `timeout`.
    public init(timeout: Duration = CgroupFreezer.defaultTimeout) {
        self.timeout = timeout
    }

    /// `Manager.FreezeUnit(unit)`.
    public func freeze(_ unit: String) throws(Error) { _ = try about(unit) { () throws(BusFailure) in try call("FreezeUnit", unit) } }

    /// `Manager.ThawUnit(unit)`.
    public func thaw(_ unit: String) throws(Error) { _ = try about(unit) { () throws(BusFailure) in try call("ThawUnit", unit) } }

    /// Runs a call about `unit`; what the bus answered becomes an `Error` naming the unit.
    private func about<T>(_ unit: String, _ body: () throws(BusFailure) -> T) throws(Error) -> T {
        do {
            return try body()
        } catch {
            throw Error(unit: unit, name: error.name, text: error.message)
        }
    }

    /// The unit's `FreezerState` (`running`, `freezing`, `frozen`, `thawing`).
    public func freezerState(_ unit: String) throws(Error) -> String {
        try about(unit) { () throws(BusFailure) in try property(unit, interface: "org.freedesktop.systemd1.Unit", name: "FreezerState") }
    }

    /// The unit's `ControlGroup` (relative to the cgroup root), e.g. `/system.slice/web.service`.
    public func controlGroup(_ unit: String) throws(Error) -> String {
        // ControlGroup lives on the unit-type interface (Service, Scope, Slice, Socket, Mount, Swap).
        let suffix = unit.split(separator: ".").last.map(String.init) ?? "service"
        let type = ["service": "Service", "scope": "Scope", "slice": "Slice", "socket": "Socket", "mount": "Mount", "swap": "Swap"][suffix] ?? "Service"
        return try about(unit) { () throws(BusFailure) in try property(unit, interface: "org.freedesktop.systemd1.\(type)", name: "ControlGroup") }
    }

    private func property(_ unit: String, interface: String, name: String) throws(BusFailure) -> String {
        let path = try call("GetUnit", unit, readReply: "o")
        return try call(destination: "org.freedesktop.systemd1", path: path, interface: "org.freedesktop.DBus.Properties",
                        member: "Get", arguments: [interface, name], readReply: "v")
    }

    private func call(_ member: String, _ unit: String, readReply: Character? = nil) throws(BusFailure) -> String {
        try call(destination: "org.freedesktop.systemd1", path: "/org/freedesktop/systemd1",
                 interface: "org.freedesktop.systemd1.Manager", member: member, arguments: [unit], readReply: readReply)
    }

    /// One method call with string arguments; reads one `o`, or a `v` holding an `s`, from the reply.
    private func call(destination: String, path: String, interface: String, member: String,
                      arguments: [String], readReply: Character?) throws(BusFailure) -> String {
        if let reason = Libsystemd.unavailability {
            throw BusFailure(name: "org.freedesktop.DBus.Error.NoServer", message: reason)
        }
        var bus: OpaquePointer?
        var rc = csd_bus_open_system(&bus)
        guard rc >= 0, let bus else {
            throw BusFailure(name: "org.freedesktop.DBus.Error.NoServer", message: "cannot connect to the system bus: \(Errno(rawValue: -rc))")
        }
        defer { csd_bus_flush_close_unref(bus) }
        var message: OpaquePointer?
        rc = csd_bus_message_new_method_call(bus, &message, destination, path, interface, member)
        guard rc >= 0, let message else { throw BusFailure(name: "sd_bus_message_new_method_call", message: "\(Errno(rawValue: -rc))") }
        defer { csd_bus_message_unref(message) }
        for argument in arguments {
            rc = argument.withCString { csd_bus_message_append_basic(message, CChar(UInt8(ascii: "s")), $0) }
            guard rc >= 0 else { throw BusFailure(name: "sd_bus_message_append_basic", message: "\(Errno(rawValue: -rc))") }
        }
        var error = sd_bus_error()
        defer { csd_bus_error_free(&error) }
        var reply: OpaquePointer?
        // systemd answers FreezeUnit when the freeze completed; the bound is the caller's --timeout.
        let usec = UInt64(clamping: max(timeout.nanoseconds / 1000, 0))
        rc = csd_bus_call(bus, message, max(usec, 1), &error, &reply)
        guard rc >= 0 else {
            throw BusFailure(name: error.name.map { String(cString: $0) } ?? "sd_bus_call",
                           message: error.message.map { String(cString: $0) } ?? "\(Errno(rawValue: -rc))")
        }
        defer { csd_bus_message_unref(reply) }
        guard let readReply else { return "" }
        if readReply == "v" {
            rc = csd_bus_message_enter_container(reply, CChar(UInt8(ascii: "v")), "s")
            guard rc >= 0 else { throw BusFailure(name: "sd_bus_message_enter_container", message: "\(Errno(rawValue: -rc))") }
        }
        var value: UnsafePointer<CChar>?
        rc = csd_bus_message_read_basic(reply, CChar(UInt8(ascii: readReply == "o" ? "o" : "s")), &value)
        guard rc >= 0, let value else { throw BusFailure(name: "sd_bus_message_read_basic", message: "\(Errno(rawValue: -rc))") }
        return String(cString: value)
    }
}

extension CgroupDirectory {
    /// The systemd unit this cgroup belongs to, read from its path as systemd lays it out
    /// (`/system.slice/nginx.service/...`): the innermost component that is a service, scope,
    /// socket, mount or swap unit. Nil outside systemd's tree.
    public var systemdUnit: String? {
        let unitSuffixes = [".service", ".scope", ".socket", ".mount", ".swap"]
        return path.components.map(\.string).last { name in unitSuffixes.contains { name.hasSuffix($0) } }
    }
}

