import CamNIO
import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import ServiceLifecycle
import UnixSignals

/// The endpoint's HTTP listener (--admin): /health, the JSON API under /api/
/// and the streampoint channel (a WebSocket), on Hummingbird. The executable
/// adds its routes to `router`; this type owns the auth and error handling
/// every route shares, and the server's start and stop.
public final class APIServer: @unchecked Sendable {
    public let router: Router<APIRequestContext>
    private let component: String
    private var serviceGroup: ServiceGroup?
    /// Set by StreampointChannel.install: which upgrade requests become a channel.
    var upgrade: ChannelUpgradeServer.Decide = { _, _ in .refuse(APIError(.badRequest, "no WebSocket here")) }
    private var running: Task<Void, Error>?

    /// Largest request body any route reads (JSON commands, CSV uploads later).
    public static let maxBody = 64 * 1024
    /// The streampoint channel: bigger frames close the channel with 1009.
    public static let maxFrame = 64 * 1024

    /// `authenticators` are asked in order for every /api/ request.
    public init(component: String, authenticators: [any APIAuthenticator]) {
        self.component = component
        router = Router(context: APIRequestContext.self)
        // Outermost first: errors of the auth check become JSON too.
        router.add(middleware: APIErrorMiddleware())
        router.add(middleware: APIAuthMiddleware(authenticators: authenticators))
        router.get("/health") { _, _ in APIResponse.json(["status": "ok"]) }
    }

    /// Binds and serves; returns once listening (the bound address, for port 0)
    /// or throws if the address cannot be bound. `services` run beside the
    /// HTTP server in one ServiceGroup (swift-service-lifecycle): on a signal
    /// in `gracefulShutdownSignals` they are shut down first (in reverse
    /// order), then the HTTP server; the whole stop is bounded.
    public func start(host: String, port: Int, group: EventLoopGroup, services: [any Service] = [],
                      gracefulShutdownSignals: [UnixSignal] = []) async throws -> SocketAddress {
        let (bound, boundContinuation) = AsyncStream.makeStream(of: SocketAddress?.self)
        let upgrade = self.upgrade
        let app = Application(
            router: router,
            server: HTTPServerBuilder { responder in
                ChannelUpgradeServer(responder: responder, decide: upgrade, maxFrameSize: Self.maxFrame,
                                     pingPeriod: .seconds(StreampointChannel.pingSeconds))
            },
            configuration: .init(address: .hostname(host, port: port), serverName: nil, reuseAddress: true),
            onServerRunning: { channel in
                boundContinuation.yield(channel.localAddress)
                boundContinuation.finish()
            },
            eventLoopGroupProvider: .shared(group),
            logger: ServerLogHandler.logger(component, level: .warning))
        var configuration = ServiceGroupConfiguration(
            services: [.init(service: app)] + services.map { .init(service: $0, successTerminationBehavior: .gracefullyShutdownGroup) },
            gracefulShutdownSignals: gracefulShutdownSignals,
            logger: ServerLogHandler.logger(component, level: .warning))
        configuration.maximumGracefulShutdownDuration = .seconds(5)
        let services = ServiceGroup(configuration: configuration)
        serviceGroup = services
        running = Task {
            defer { boundContinuation.finish() }
            try await services.run()
        }
        for await address in bound {
            if let address { return address }
        }
        // The stream ended without an address: the server failed to start.
        try await running?.value
        throw ValidationFailure("the HTTP server stopped before it listened")
    }

    /// Returns when the server and the services beside it have stopped.
    public func wait() async {
        _ = try? await running?.value
    }
}
