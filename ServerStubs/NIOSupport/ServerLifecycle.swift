import Dispatch
import Logging
import NIOCore
import ServiceLifecycle

/// A listening channel as a service of a ServiceGroup: it runs until the
/// channel closes, and on graceful shutdown (SIGINT or SIGTERM, which the
/// group catches) it runs `onShutdown`, which ends with closing the channel.
/// The servers' signal handling is this, not hand-written signal sources.
public struct ListenerService: Service {
    let channel: Channel
    let onShutdown: @Sendable () -> Void

    public init(channel: Channel, onShutdown: @escaping @Sendable () -> Void) {
        self.channel = channel
        self.onShutdown = onShutdown
    }

    public func run() async throws {
        let channel = self.channel, onShutdown = self.onShutdown
        await withGracefulShutdownHandler {
            try? await channel.closeFuture.get()
        } onGracefulShutdown: {
            onShutdown()
        }
    }
}

/// Runs `services` until SIGINT or SIGTERM, or until one of them ends (a
/// listener closed), then shuts the others down in reverse order.
public func runUntilSignalled(_ services: [any Service], component: String) throws {
    let group = ServiceGroup(configuration: .init(
        services: services.map { ServiceGroupConfiguration.ServiceConfiguration(service: $0) },
        gracefulShutdownSignals: [.sigterm, .sigint],
        logger: ServerLogHandler.logger(component, level: .warning)))
    try blockingAwait { try await group.run() }
}

/// Waits on a thread that is not an event loop (the CLI's main thread) for async work.
public func blockingAwait<T>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
    let done = DispatchSemaphore(value: 0)
    nonisolated(unsafe) var result: Result<T, Error>!
    Task {
        do { result = .success(try await body()) } catch { result = .failure(error) }
        done.signal()
    }
    done.wait()
    return try result.get()
}
