import NIOCore
import NIOPosix

/// Runs registry operations off the event loop: on a small thread pool of its
/// own, with results delivered as futures on the caller's loop. The database
/// may be slow or away; the event loop never waits for it.
public final class RegistryWorker: @unchecked Sendable {
    public let store: RegistryStore
    /// nil: operations run on the caller's loop (`threads: 0`).
    private let pool: NIOThreadPool?

    /// `threads` nil: as many as the store can use at once (its connections).
    /// `threads` 0: no pool, each operation runs at once on the caller's loop;
    /// only for tests on an EmbeddedEventLoop, which no other thread may touch.
    public init(store: RegistryStore, threads: Int? = nil) {
        self.store = store
        let count = threads ?? store.parallelism
        pool = count > 0 ? NIOThreadPool(numberOfThreads: count) : nil
        pool?.start()
    }

    public func run<T: Sendable>(on loop: EventLoop, _ body: @escaping @Sendable (RegistryStore) throws -> T) -> EventLoopFuture<T> {
        let store = self.store
        guard let pool else { return loop.makeCompletedFuture { try body(store) } }
        return pool.runIfActive(eventLoop: loop) { try body(store) }
    }

    public func shutdown() {
        try? pool?.syncShutdownGracefully()
        store.close()
    }
}
