import CSystemd

/// libsystemd is loaded on first use (Sources/CSystemd): why it cannot be, if it cannot.
package enum Libsystemd {
    package static var unavailability: String? {
        var reason: UnsafePointer<CChar>?
        guard csd_available(&reason) == 0 else { return nil }
        return "libsystemd.so.0 cannot be loaded (\(reason.map { String(cString: $0) } ?? "dlopen failed")); install it: apt-get install libsystemd0"
    }
}
