@testable import CamCore
import CamProtocol
import Testing

/// The tunnel table on its own: no control links, a manual clock.
@Suite struct TunnelTableTests {
    let streampoint = ServerAddress(host: "127.0.0.1", port: 7100)
    let token = [UInt8](repeating: 0x42, count: 16)
    let now: Int64 = 5_000

    func request(_ id: UInt32, host: String = "127.0.0.1", port: UInt16 = 8554) -> TunnelRequest {
        TunnelRequest(tunnelID: id, host: host, port: port, bindToken: token)
    }

    func refusals(_ out: Output<TunnelEvent>) -> [(StreampointSlot, UInt32, ErrorCode?)] {
        out.events.compactMap {
            guard case .tellStreampoint(let slot, .tunnelOpenFailed(let id, let code, _)) = $0 else { return nil }
            return (slot, id, code)
        }
    }

    /// Open tunnel `id` from `slot` and take it to splicing.
    func splice(_ table: inout TunnelTable, _ id: UInt32, from slot: StreampointSlot = .a) {
        _ = table.open(request(id), from: slot, streampoint: streampoint, now: now)
        _ = table.targetConnected(id, now: now)
        _ = table.dataConnected(id, now: now)
        _ = table.dataReceived(id, bytes: HTTPUpgrade.switchingResponse() + Message.helloAck(version: 1, server: "sp").encoded(),
                               now: now)
    }

    @Test func setupGoesTargetThenDataLinkThenBindThenSplice() {
        var table = TunnelTable(config: testConfig())
        let opened = table.open(request(5), from: .a, streampoint: streampoint, now: now)
        #expect(connects(opened.actions).map(\.0) == [.tunnelTarget(5)])
        #expect(table.inSetup == 1)
        let targetUp = table.targetConnected(5, now: now)
        #expect(connects(targetUp.actions).map(\.1) == [streampoint])
        let bind = table.dataConnected(5, now: now)
        #expect(sentMessages(bind.actions, on: .tunnelData(5))
                == [.hello(version: 1, role: .tunnelData, software: AgentVersion.software), .tunnelBind(tunnelID: 5, bindToken: token)])
        // Bytes for the camera that came in the same read as HELLO_ACK go with the splice.
        let early: [UInt8] = [1, 2, 3]
        let acked = table.dataReceived(5, bytes: HTTPUpgrade.switchingResponse()
                                       + Message.helloAck(version: 1, server: "sp").encoded() + early, now: now)
        #expect(acked.actions.contains(.splice(tunnelID: 5, toTarget: early)))
        #expect(table.inSetup == 0 && table.count == 1)
        #expect(table.stats.tunnelsEstablished == 1)
        let done = table.finished(5, bytesToStreampoint: 10, bytesFromStreampoint: 20, reason: "closed", now: now)
        #expect(logs(done.actions).contains { $0.contains("10 bytes out, 20 bytes in") })
        #expect(table.count == 0 && table.stats.bytesFromStreampoint == 20)
    }

    @Test func targetOutsideTheAllowlistIsRefusedToTheAskingStreampoint() {
        var table = TunnelTable(config: testConfig())
        let out = table.open(request(3, port: 22), from: .b, streampoint: streampoint, now: now)
        #expect(connects(out.actions).isEmpty)
        #expect(refusals(out).map { "\($0.0) \($0.1) \($0.2.map { $0.name } ?? "")" } == ["b 3 target-not-allowed"])
        #expect(table.stats.tunnelsRefused == 1 && table.count == 0)
    }

    @Test func theLimitRefusesTheNextTunnel() {
        var table = TunnelTable(config: testConfig())  // max_tunnels 2
        _ = table.open(request(1), from: .a, streampoint: streampoint, now: now)
        _ = table.open(request(2), from: .a, streampoint: streampoint, now: now)
        let third = table.open(request(3), from: .a, streampoint: streampoint, now: now)
        #expect(refusals(third).map(\.2) == [.internalError])
        #expect(table.count == 2 && table.stats.bufferOverruns == 1)
    }

    @Test func anIDInUseOnTheOtherStreampointGetsALocalIDFromTheUpperHalf() {
        var table = TunnelTable(config: testConfig())
        _ = table.open(request(1), from: .a, streampoint: streampoint, now: now)
        let other = table.open(request(1), from: .b, streampoint: streampoint, now: now)
        #expect(connects(other.actions).map(\.0) == [.tunnelTarget(Tunables.alternateTunnelIDBase + 1)])
        // The streampoint's own id still goes into the bind.
        let id = Tunables.alternateTunnelIDBase + 1
        _ = table.targetConnected(id, now: now)
        #expect(sentMessages(table.dataConnected(id, now: now).actions, on: .tunnelData(id)).last
                == .tunnelBind(tunnelID: 1, bindToken: token))
    }

    @Test func aDuplicateIDFromTheSameStreampointIsRefusedAndLogged() {
        var table = TunnelTable(config: testConfig())
        _ = table.open(request(7), from: .a, streampoint: streampoint, now: now)
        let again = table.open(request(7), from: .a, streampoint: streampoint, now: now)
        #expect(connects(again.actions).isEmpty)
        #expect(refusals(again).map(\.2) == [.unexpectedMessage])
        #expect(again.actions.contains(.log(.warn, "tunnel 7: refused: the streampoint's id is already in use")))
        #expect(table.count == 1 && table.stats.tunnelsFailed == 1)
    }

    @Test func aSetupThatTakesTooLongFailsAndTellsTheStreampoint() {
        var table = TunnelTable(config: testConfig())
        _ = table.open(request(4), from: .a, streampoint: streampoint, now: now)
        #expect(table.nextDeadline == now + Tunables.tunnelSetupTimeoutMs)
        #expect(table.tick(now: now + Tunables.tunnelSetupTimeoutMs - 1).actions.isEmpty)
        let expired = table.tick(now: now + Tunables.tunnelSetupTimeoutMs)
        #expect(closes(expired.actions) == [.tunnelTarget(4)])
        #expect(refusals(expired).map(\.2) == [.timeout])
        #expect(table.count == 0 && table.stats.tunnelsFailed == 1)
    }

    @Test func tunnelsOfAStreampointSwitchedAwayFromCloseAfterTheGrace() {
        var config = testConfig()
        config.switchGraceMs = 30_000
        var table = TunnelTable(config: config)
        splice(&table, 1, from: .a)
        splice(&table, 2, from: .b)
        #expect(table.nextDeadline == nil)
        _ = table.streampointSwitchedAway(from: .a, now: now)
        #expect(table.nextDeadline == now + 30_000)
        #expect(table.tick(now: now + 29_999).actions.isEmpty)
        let over = table.tick(now: now + 30_000)
        #expect(over.actions.contains(.closeTunnel(1)) && !over.actions.contains(.closeTunnel(2)))
        // Splicing tunnels are the runtime's until it reports them finished.
        #expect(table.count == 2)
    }

    @Test func aCameraThatRefusesTheConnectIsReportedAsUnreachable() {
        var table = TunnelTable(config: testConfig())
        _ = table.open(request(6), from: .a, streampoint: streampoint, now: now)
        let failed = table.targetConnectFailed(6, reason: "connect failed: refused", now: now)
        #expect(closes(failed.actions).isEmpty)  // the runtime already closed it
        #expect(refusals(failed).map(\.2) == [.targetUnreachable])
        #expect(table.stats.targetConnectFailures == 1)
    }
}
