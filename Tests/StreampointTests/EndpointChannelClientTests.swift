import CamNIO
import Hummingbird
import Logging
import HummingbirdWebSocket
import NIOCore
import NIOPosix
import XCTest
@testable import StreampointCore

/// A stand-in for the endpoint's channel route, in process on loopback: it
/// checks the bearer token, records what the streampoint sends, sends the
/// revoked set after hello, and closes the first session after its first load.
private actor FakeEndpoint {
    let token: String
    let revoked: [String]
    /// Sent instead of the revoked set in the first session, to see how the client takes a bad frame.
    let firstSessionFrame: String?
    private(set) var upgradeRequests = 0
    private(set) var sessions = 0
    private(set) var hellos: [String] = []
    private(set) var loads: [String] = []

    init(token: String, revoked: [String], firstSessionFrame: String? = nil) {
        self.token = token
        self.revoked = revoked
        self.firstSessionFrame = firstSessionFrame
    }

    func upgradeRequested() { upgradeRequests += 1 }
    func sessionStarted() -> Int {
        sessions += 1
        return sessions
    }
    func received(_ text: String) {
        if text.contains(#""type":"hello""#) { hellos.append(text) } else { loads.append(text) }
    }

    func application() -> (Application<RouterResponder<BasicRequestContext>>, AsyncStream<Int>) {
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let revokedFrame = #"{"type":"revoked","agents":["# + revoked.map { "\"\($0)\"" }.joined(separator: ",") + "]}"
        let expected = "Bearer \(token)"
        let badFrame = firstSessionFrame
        let app = Application(
            router: Router(),
            server: .http1WebSocketUpgrade { request, _, _ in
                await self.upgradeRequested()
                guard request.path == EndpointChannelOptions.path, request.headerFields[.authorization] == expected else {
                    return .dontUpgrade
                }
                return .upgrade([:]) { inbound, outbound, _ in
                    let session = await self.sessionStarted()
                    var sentRevoked = false
                    for try await message in inbound.messages(maxSize: 1 << 16) {
                        guard case .text(let text) = message else { continue }
                        await self.received(text)
                        if !sentRevoked, session == 1, let badFrame {
                            try await outbound.write(.text(badFrame))
                            sentRevoked = true
                        } else if !sentRevoked {
                            try await outbound.write(.text(revokedFrame))
                            try await outbound.write(.text(#"{"type":"from-the-future","x":1}"#))
                            sentRevoked = true
                        } else if session == 1 {
                            return  // hello and a load seen: drop the first session to make the client redial
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
        return (app, ports)
    }
}

private actor Applied {
    private(set) var sets: [Set<String>] = []
    func append(_ set: Set<String>) { sets.append(set) }
}

final class EndpointChannelClientTests: XCTestCase {
    private let sampleLoad = StreampointLoad(agents: 2, tunnels: 1, viewers: 1, bytesToViewers: 10, bytesFromViewers: 3)

    /// Polls `condition` every 50 ms for at most `seconds`.
    private func eventually(_ seconds: Double, _ condition: () async -> Bool) async -> Bool {
        for _ in 0..<Int(seconds * 20) {
            if await condition() { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return await condition()
    }

    private func startFake(_ fake: FakeEndpoint) async throws -> (Task<Void, Error>, Int) {
        let (app, ports) = await fake.application()
        let server = Task { try await app.runService(gracefulShutdownSignals: []) }
        var iterator = ports.makeAsyncIterator()
        let announced = await iterator.next()
        return (server, try XCTUnwrap(announced))
    }

    private func client(port: Int, token: String, applied: Applied) -> EndpointChannelClient {
        let load = sampleLoad
        return EndpointChannelClient(
            configuration: .init(endpoints: ["ws://127.0.0.1:\(port)/api/streampoint-channel"], streampointID: "sp-test"),
            token: token, eventLoopGroup: MultiThreadedEventLoopGroup.singleton,
            load: { load }, applyRevoked: { await applied.append($0) })
    }

    func testHelloLoadRevokedSetAndRedialAfterTheEndpointCloses() async throws {
        let fake = FakeEndpoint(token: "cat_test-token", revoked: ["cam-1", "cam-2"])
        let (server, port) = try await startFake(fake)
        defer { server.cancel() }
        let applied = Applied()
        let channel = client(port: port, token: "cat_test-token", applied: applied)
        let run = Task { await channel.run() }
        defer { run.cancel() }

        let redialled = await eventually(15) {
            let sessions = await fake.sessions
            let sets = await applied.sets
            return sessions >= 2 && sets.count >= 2
        }
        XCTAssertTrue(redialled, "the client did not come back after the fake endpoint closed the channel")
        let hellos = await fake.hellos
        let sessions = await fake.sessions
        let loads = await fake.loads
        let sets = await applied.sets
        let kept = await channel.revoked
        XCTAssertEqual(hellos.first, #"{"streampoint":"sp-test","type":"hello","version":1}"#)
        XCTAssertEqual(hellos.count, sessions, "one hello per session")
        XCTAssertEqual(loads.first,
                       #"{"agents":2,"bytesFromViewers":3,"bytesToViewers":10,"tunnels":1,"type":"load","viewers":1}"#)
        XCTAssertEqual(sets.first, ["cam-1", "cam-2"])
        XCTAssertEqual(kept, ["cam-1", "cam-2"])
    }

    func testTheRevokedSetReachesTheRegistryOnItsEventLoop() async throws {
        let fake = FakeEndpoint(token: "cat_t", revoked: ["cam-9"])
        let (server, port) = try await startFake(fake)
        defer { server.cancel() }
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let registry = StreampointRegistry(config: testConfig(), eventLoop: loop)
        let channel = EndpointChannelClient(
            configuration: .init(endpoints: ["ws://127.0.0.1:\(port)/api/streampoint-channel"], streampointID: "sp1"),
            token: "cat_t", registry: registry)
        let run = Task { await channel.run() }
        defer { run.cancel() }

        let applied = await eventually(10) { (try? await loop.submit { registry.revokedAgents }.get()) == ["cam-9"] }
        XCTAssertTrue(applied)
        let loads = await fake.loads
        XCTAssertEqual(loads.first,
                       #"{"agents":0,"bytesFromViewers":0,"bytesToViewers":0,"tunnels":0,"type":"load","viewers":0}"#)
    }

    func testMalformedAndOversizedFramesCloseTheChannelAndTheClientRedials() async throws {
        let oversized = #"{"type":"revoked","agents":["# + String(repeating: "\"cam-x\",", count: 10_000) + #""cam-1"]}"#
        for bad in ["not json at all", oversized] {
            let fake = FakeEndpoint(token: "cat_t", revoked: ["cam-2"], firstSessionFrame: bad)
            let (server, port) = try await startFake(fake)
            defer { server.cancel() }
            let applied = Applied()
            let channel = client(port: port, token: "cat_t", applied: applied)
            let run = Task { await channel.run() }
            defer { run.cancel() }

            let redialled = await eventually(10) {
                let sessions = await fake.sessions
                let sets = await applied.sets
                return sessions >= 2 && !sets.isEmpty
            }
            let sets = await applied.sets
            XCTAssertTrue(redialled, "frame of \(bad.utf8.count) bytes")
            XCTAssertEqual(sets, [["cam-2"]], "nothing from the bad frame is applied")
        }
    }

    func testAWrongTokenIsRefusedAndRetriedWithoutATightLoop() async throws {
        let fake = FakeEndpoint(token: "cat_right", revoked: ["cam-1"])
        let (server, port) = try await startFake(fake)
        defer { server.cancel() }
        let applied = Applied()
        let channel = client(port: port, token: "cat_wrong", applied: applied)
        let run = Task { await channel.run() }
        defer { run.cancel() }

        let tried = await eventually(5) { await fake.upgradeRequests >= 1 }
        XCTAssertTrue(tried)
        try await Task.sleep(for: .milliseconds(2000))
        let attempts = await fake.upgradeRequests
        let sessions = await fake.sessions
        let sets = await applied.sets
        let connected = await channel.isConnected
        XCTAssertGreaterThanOrEqual(attempts, 2, "a refused channel is retried")
        XCTAssertLessThanOrEqual(attempts, 3, "backoff starts near 1 s: \(attempts) attempts in about 2 s")
        XCTAssertEqual(sessions, 0)
        XCTAssertEqual(sets, [])
        XCTAssertFalse(connected)
    }
}
