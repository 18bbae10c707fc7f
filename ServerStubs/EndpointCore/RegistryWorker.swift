import NIOCore
import NIOPosix

/// Runs registry operations off the event loop: on a small thread pool of its
/// own, with results delivered as futures on the caller's loop. The database
/// may be slow or away; the event loop never waits for it.
public final class RegistryWorker: @unchecked Sendable {
    public let store: RegistryStore
    private let pool: NIOThreadPool

    /// `threads` nil: as many as the store can use at once (its connections).
    public init(store: RegistryStore, threads: Int? = nil) {
        self.store = store
        pool = NIOThreadPool(numberOfThreads: threads ?? store.parallelism)
        pool.start()
    }

    public func run<T: Sendable>(on loop: EventLoop, _ body: @escaping @Sendable (RegistryStore) throws -> T) -> EventLoopFuture<T> {
        let store = self.store
        return pool.runIfActive(eventLoop: loop) { try body(store) }
    }

    public func shutdown() {
        try? pool.syncShutdownGracefully()
        store.close()
    }
}
