import Foundation
import Hummingbird
import HummingbirdWebSocket
import Logging

/// The endpoint's side of the streampoint channel (GET /api/streampoint-channel),
/// in process on loopback, for tests that need the streampoint's channel before
/// or without a real endpoint serving it: it checks the bearer token, counts
/// hellos, and pushes the revoked set the test sets to every open channel.
actor FakeChannelEndpoint {
    let token: String
    private(set) var hellos = 0
    private var revoked: [String] = []
    private var writers: [Int: WebSocketOutboundWriter] = [:]
    private var nextWriter = 0

    init(token: String) { self.token = token }

    private var revokedFrame: String {
        #"{"type":"revoked","agents":["# + revoked.map { "\"\($0)\"" }.joined(separator: ",") + "]}"
    }

    /// Replaces the revoked set and sends it down every open channel; returns once written.
    func setRevoked(_ ids: [String]) async {
        revoked = ids
        for writer in writers.values { try? await writer.write(.text(revokedFrame)) }
    }

    private func opened(_ writer: WebSocketOutboundWriter) -> Int {
        nextWriter += 1
        writers[nextWriter] = writer
        return nextWriter
    }

    private func closed(_ id: Int) { writers[id] = nil }

    private func helloReceived(_ writer: WebSocketOutboundWriter) async {
        hellos += 1
        try? await writer.write(.text(revokedFrame))
    }

    /// Starts the server on 127.0.0.1 with an ephemeral port; cancel the task to stop it.
    func start() async throws -> (server: Task<Void, Error>, port: Int) {
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let expected = "Bearer \(token)"
        let app = Application(
            router: Router(),
            server: .http1WebSocketUpgrade { request, _, _ in
                guard request.path == "/api/streampoint-channel", request.headerFields[.authorization] == expected else {
                    return .dontUpgrade
                }
                return .upgrade([:]) { inbound, outbound, _ in
                    let id = await self.opened(outbound)
                    defer { Task { await self.closed(id) } }
                    for try await message in inbound.messages(maxSize: 1 << 16) {
                        if case .text(let text) = message, text.contains(#""type":"hello""#) {
                            await self.helloReceived(outbound)
                        }
                    }
                }
            },
            configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in
                continuation.yield(channel.localAddress?.port ?? 0)
                continuation.finish()
            },
            logger: Logger(label: "fake-endpoint", factory: { _ in SwiftLogNoOpLogHandler() }))
        let server = Task { try await app.runService(gracefulShutdownSignals: []) }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next(), port > 0 else {
            server.cancel()
            throw ClusterError("the fake channel endpoint did not start")
        }
        return (server, port)
    }
}
