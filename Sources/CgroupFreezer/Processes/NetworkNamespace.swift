import SystemPackage
#if canImport(Glibc)
import Glibc
#endif

/// A process's network namespace as the idle controller sees it: which one it is (a target in
/// the host's cannot be told apart from the host's own traffic) and how many packets its
/// interfaces, loopback included, have received.
public enum NetworkNamespace {
    /// The namespace's inode (nsfs), nil when the process is gone or cannot be inspected.
    public static func identity(of pid: Int32) -> UInt64? {
        identity(at: "/proc/\(pid)/ns/net")
    }

    /// The host's network namespace: PID 1's (the daemon may run in a namespace of its own, as a
    /// DaemonSet's pod without hostNetwork does), else the caller's own where PID 1's cannot be
    /// inspected (a kernel or security module that keeps even root from PID 1's namespaces).
    public static var host: UInt64? { identity(at: "/proc/1/ns/net") ?? identity(at: "/proc/self/ns/net") }

    private static func identity(at path: String) -> UInt64? {
        var info = stat()
        // stat, not lstat: the magic link leads to the namespace's nsfs inode.
        guard stat(path, &info) == 0 else { return nil }
        return UInt64(info.st_ino)
    }

    /// The packets received on every interface of `pid`'s network namespace (/proc/PID/net/dev,
    /// which the kernel prints for the reader's view of that namespace); nil when it cannot be
    /// read. Interface names are the namespace owner's to choose: only the numbers after the
    /// last colon of a line are read, and a sum that would overflow wraps (it is only compared).
    public static func receivedPackets(of pid: Int32) -> UInt64? {
        guard let text = CgroupFile.procFileIfReadable(FilePath("/proc/\(pid)/net/dev")) else { return nil }
        var total: UInt64 = 0
        // Two header lines, then "  name: rx_bytes rx_packets ...".
        for line in text.split(separator: "\n").dropFirst(2) {
            guard let colon = line.lastIndex(of: ":") else { continue }
            let fields = line[line.index(after: colon)...].split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count > 1, let packets = UInt64(fields[1]) else { continue }
            total &+= packets
        }
        return total
    }
}
