import CLinuxSupport
import NIOCore
import NIOPosix

extension Daemon {
    /// Makes NIO's event loops Swift concurrency's global executor, before any task runs: a
    /// request's task then reads, works and answers on the thread its connection's I/O is on.
    /// On Dispatch's pool each request was handed from the loop to a pool thread and back, a
    /// thread wake-up and a context switch each way: a sixth of the daemon's CPU time per
    /// pause+unpause pair (docs/performance.md, "freezectld at the kernel's pace").
    ///
    /// NIO's own `NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor`
    /// finds the runtime's hook with dlsym, which cannot see a runtime linked in statically (the
    /// release binaries); the hook is set through CLinuxSupport instead, to the same end.
    /// Nothing of the daemon blocks a task for long: its waits are Task.sleep, and its poll(2)
    /// loops run on threads of their own (EventsWaiter, TrafficWatcher, WorkerThreads).
    /// Returns whether the hook was set (false: tasks stay on Dispatch's pool, which works too).
    @discardableResult
    public static func runTasksOnEventLoops() -> Bool {
        clinux_set_enqueue_global_hook { job, _ in
            // The current loop when called from one of the group's threads (no thread switch).
            let loop = MultiThreadedEventLoopGroup.singleton.any()
            loop.executor.enqueue(ExecutorJob(unsafeBitCast(job, to: UnownedJob.self)))
        } == 1
    }
}
