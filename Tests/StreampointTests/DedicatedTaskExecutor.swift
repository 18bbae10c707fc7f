import Dispatch

/// Runs a test server's tasks on a thread of its own. Swift Testing runs
/// synchronous tests (the end-to-end suites, which sleep and wait for child
/// processes) on the cooperative pool, which has one thread per core: two of
/// them at once starve every other task in the process, and a real-time test
/// server then sends nothing for as long as they block. A task executor
/// preference is inherited by child tasks, so the server's connection tasks
/// come here too.
final class DedicatedTaskExecutor: TaskExecutor, @unchecked Sendable {
    private let queue: DispatchQueue

    init(label: String) {
        queue = DispatchQueue(label: label)
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        queue.async { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
