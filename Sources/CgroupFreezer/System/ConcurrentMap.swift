import Dispatch
import Synchronization

extension Array where Element: Sendable {
    /// `map` spread over the CPUs (Dispatch's `concurrentPerform`), results in order. For the
    /// per-container reads of a large selection (runtime state files, cgroup lookups), which are
    /// independent and together most of a batch's cost.
    package func concurrentMap<T: Sendable>(_ transform: @Sendable (Element) -> T) -> [T] {
        let results = Mutex([T?](repeating: nil, count: count))
        DispatchQueue.concurrentPerform(iterations: count) { index in
            let value = transform(self[index])
            results.withLock { $0[index] = value }
        }
        // Every index was visited exactly once.
        return results.withLock { $0.map { $0! } }
    }
}
