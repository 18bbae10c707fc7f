import CamCore
import CamProtocol
import Testing

@Suite struct StreampointSessionTests {
    @Test func assignmentDialsAndRegistersWithTicketAndTargets() {
        var h = Harness()
        _ = h.authenticate()
        let ticket = h.ticket()
        let assigned = h.receive(.endpoint, [.streampointAssign(streampointID: "sp1", host: "127.0.0.1", port: 7100, ticket: ticket)])
        #expect(connects(assigned).map(\.0) == [.streampoint(.a)])
        let hello = h.core.connected(.streampoint(.a), now: h.now)
        #expect(sentMessages(hello, on: .streampoint(.a)) == [.hello(version: 1, role: .streampointControl, software: AgentVersion.software)])
        let register = h.receive(.streampoint(.a), [.helloAck(version: 1, server: "sp1")], upgrade: true)
        #expect(sentMessages(register, on: .streampoint(.a)) == [.streamRegister(ticket: ticket, targets: testConfig().targets)])
        _ = h.receive(.streampoint(.a), [.streamRegistered(streampointID: "sp1")])
        #expect(h.core.isStreampointUp)
    }

    @Test func tunnelRequestBeforeRegistrationIsRefused() {
        var h = Harness()
        _ = h.authenticate()
        _ = h.receive(.endpoint, [.streampointAssign(streampointID: "sp1", host: "127.0.0.1", port: 7100, ticket: h.ticket())])
        _ = h.core.connected(.streampoint(.a), now: h.now)
        let early = h.receive(.streampoint(.a), [.helloAck(version: 1, server: "sp1"),
                                             .tunnelOpen(tunnelID: 1, host: "127.0.0.1", port: 8554, bindToken: [UInt8](repeating: 0, count: 16))],
                              upgrade: true)
        #expect(!connects(early).contains { $0.0 == .tunnelTarget(1) })
        #expect(closes(early) == [.streampoint(.a)])
    }

    @Test func reassignmentIsMakeBeforeBreak() {
        var h = Harness()
        _ = h.registerWithStreampoint()
        let moved = h.receive(.endpoint, [.streampointAssign(streampointID: "sp2", host: "127.0.0.1", port: 7200, ticket: [1])])
        // The old link keeps serving while the new one is dialled in the other slot.
        #expect(closes(moved).isEmpty)
        #expect(connects(moved).map(\.0) == [.streampoint(.b)])
        #expect(connects(moved).first?.1 == ServerAddress(host: "127.0.0.1", port: 7200))
        #expect(h.core.isSwitchingStreampoint && h.core.currentStreampointID == "sp1")
        _ = h.core.connected(.streampoint(.b), now: h.now)
        _ = h.receive(.streampoint(.b), [.helloAck(version: 1, server: "sp2")], upgrade: true)
        let registered = h.receive(.streampoint(.b), [.streamRegistered(streampointID: "sp2")])
        // Only now is the old control link closed, and the endpoint hears of the change.
        #expect(closes(registered) == [.streampoint(.a)])
        #expect(h.core.currentStreampointID == "sp2" && !h.core.isSwitchingStreampoint)
        guard case .agentStats(let report)? = sentMessages(registered, on: .endpoint).first else {
            Issue.record("no AGENT_STATS after the switch"); return
        }
        #expect(report.reason == .streampointChanged && report.streampointID == "sp2" && report.streampointState == .registered)
        #expect(report.counter(.streampointChanges) == 1)
        // The same streampoint again only refreshes the ticket.
        var same = Harness()
        _ = same.registerWithStreampoint()
        let refreshed = same.receive(.endpoint, [.streampointAssign(streampointID: "sp1", host: "127.0.0.1", port: 7100, ticket: [9])])
        #expect(closes(refreshed).isEmpty && connects(refreshed).isEmpty)
    }

    @Test func refusedTicketAsksTheEndpointForAFreshOneWithoutSpinning() {
        var h = Harness()
        _ = h.authenticate()
        _ = h.receive(.endpoint, [.streampointAssign(streampointID: "sp1", host: "127.0.0.1", port: 7100, ticket: h.ticket())])
        _ = h.core.connected(.streampoint(.a), now: h.now)
        _ = h.receive(.streampoint(.a), [.helloAck(version: 1, server: "sp1")], upgrade: true)
        let refused = h.receive(.streampoint(.a), [.error(code: .invalidTicket, message: "ticket has expired")])
        #expect(sentMessages(refused, on: .endpoint) == [.ticketRequest])
        // No redial with the stale ticket, however long we wait.
        for _ in 0..<15 {
            _ = h.receive(.endpoint, [.heartbeat])  // the endpoint link stays healthy meanwhile
            #expect(connects(h.advance(20_000)).allSatisfy { $0.0 != .streampoint(.a) })
        }
        #expect(h.core.isEndpointUp)
        let fresh = h.receive(.endpoint, [.streampointAssign(streampointID: "sp1", host: "127.0.0.1", port: 7100, ticket: [2])])
        #expect(connects(fresh).map(\.0) == [.streampoint(.a)])
    }
}

extension StreampointSessionTests {
    /// A streampoint that refuses every ticket (clock skew, wrong ticket key) and
    /// an endpoint that answers every TICKET_REQUEST at once must not spin: the
    /// first fresh ticket is tried at once, every later one after the backoff.
    @Test func ticketRefusalLoopIsPacedByBackoff() {
        var h = Harness()
        _ = h.authenticate()
        _ = h.receive(.endpoint, [.streampointAssign(streampointID: "sp1", host: "127.0.0.1", port: 7100, ticket: h.ticket())])
        var dials = 0
        var waited: [Int64] = []
        let start = h.now
        while h.now - start < 60_000 {
            _ = h.core.connected(.streampoint(.a), now: h.now)
            _ = h.receive(.streampoint(.a), [.helloAck(version: 1, server: "sp1")], upgrade: true)
            let refused = h.receive(.streampoint(.a), [.error(code: .invalidTicket, message: "ticket has expired")])
            #expect(sentMessages(refused, on: .endpoint) == [.ticketRequest])
            let fresh = h.receive(.endpoint, [.streampointAssign(streampointID: "sp1", host: "127.0.0.1", port: 7100,
                                                                 ticket: [3, UInt8(truncatingIfNeeded: dials)])])
            dials += 1
            if dials == 1 {
                #expect(connects(fresh).map(\.0) == [.streampoint(.a)], "the first fresh ticket waits")
                continue
            }
            #expect(connects(fresh).isEmpty, "redialled at once after repeated refusals")
            // Wait for the retry, keeping the endpoint alive meanwhile.
            let refusedAt = h.now
            var redialled = false
            var waits = 0
            while !redialled && waits < 100 {
                waits += 1
                let deadline = h.core.nextDeadline!
                #expect(deadline > h.now)
                h.now = deadline
                _ = h.receive(.endpoint, [.heartbeat])
                redialled = connects(h.core.tick(now: h.now)).contains { $0.0 == .streampoint(.a) }
            }
            if !redialled { Issue.record("never redialled"); break }
            waited.append(h.now - refusedAt)
        }
        // Backoff 1 s doubling to 60 s: a handful of attempts a minute, not thousands.
        #expect(dials <= 8, "\(dials) dials in 60 s")
        #expect(dials >= 3)
        // Each wait at least half its ceiling (the second refusal in a row: ceiling 2 s), and growing.
        #expect(waited.first.map { $0 >= 1000 } ?? false, "\(waited)")
        #expect(zip(waited, waited.dropFirst()).allSatisfy { $0.0 < $0.1 }, "\(waited)")
    }

    /// PROTOCOL.md §6.3: only a new ticket is worth an immediate retry; the
    /// same ticket again waits out the backoff.
    @Test func theSameTicketAgainIsNotDialledAtOnce() {
        var h = Harness()
        _ = h.authenticate()
        let ticket = h.ticket()
        _ = h.receive(.endpoint, [.streampointAssign(streampointID: "sp1", host: "127.0.0.1", port: 7100, ticket: ticket)])
        _ = h.core.connected(.streampoint(.a), now: h.now)
        _ = h.receive(.streampoint(.a), [.helloAck(version: 1, server: "sp1")], upgrade: true)
        _ = h.receive(.streampoint(.a), [.error(code: .invalidTicket, message: "ticket has expired")])
        let same = h.receive(.endpoint, [.streampointAssign(streampointID: "sp1", host: "127.0.0.1", port: 7100, ticket: ticket)])
        #expect(connects(same).isEmpty)
        let deadline = h.core.nextDeadline!
        #expect(deadline >= h.now + 500)  // the refusal's backoff: [I/2, I] with I = 1 s
        _ = h.receive(.endpoint, [.heartbeat])
        h.now = deadline
        #expect(connects(h.core.tick(now: h.now)).map(\.0) == [.streampoint(.a)])
    }

    /// After a registration the next refusal is a first one again.
    @Test func aRegistrationEndsTheRefusalStreak() {
        var h = Harness()
        _ = h.registerWithStreampoint()
        for round in 0..<3 {
            _ = h.core.closed(.streampoint(.a), reason: "closed by peer", now: h.now)
            // A lost session redials within the initial window.
            var redialled = false
            for _ in 0..<20 where !redialled {
                h.now = h.core.nextDeadline!
                _ = h.receive(.endpoint, [.heartbeat])
                redialled = connects(h.core.tick(now: h.now)).contains { $0.0 == .streampoint(.a) }
            }
            #expect(redialled)
            _ = h.core.connected(.streampoint(.a), now: h.now)
            _ = h.receive(.streampoint(.a), [.helloAck(version: 1, server: "sp1")], upgrade: true)
            _ = h.receive(.streampoint(.a), [.error(code: .invalidTicket, message: "ticket has expired")])
            let fresh = h.receive(.endpoint, [.streampointAssign(streampointID: "sp1", host: "127.0.0.1", port: 7100,
                                                                 ticket: [9, UInt8(round)])])
            #expect(connects(fresh).map(\.0) == [.streampoint(.a)], "round \(round)")
            _ = h.core.connected(.streampoint(.a), now: h.now)
            _ = h.receive(.streampoint(.a), [.helloAck(version: 1, server: "sp1")], upgrade: true)
            _ = h.receive(.streampoint(.a), [.streamRegistered(streampointID: "sp1")])
            #expect(h.core.isStreampointUp)
        }
    }
}

extension StreampointSessionTests {
    /// The endpoint cannot downgrade the agent: a plain-TCP streampoint needs the config's consent.
    @Test func plainStreampointIsRefusedUnlessTheConfigAllowsIt() {
        var config = testConfig()
        config.allowPlaintext = false
        var h = Harness(config: config)
        _ = h.authenticate()
        let plain = h.receive(.endpoint, [.streampointAssign(streampointID: "sp1", host: "sp.example", port: 7100, ticket: [1])])
        #expect(connects(plain).isEmpty)
        #expect(logs(plain).contains { $0.contains("allow_plaintext is off") })
        let tls = h.receive(.endpoint, [.streampointAssign(streampointID: "sp1", host: "sp.example", port: 7100, ticket: [1], tls: true)])
        #expect(connects(tls).map(\.1) == [ServerAddress(host: "sp.example", port: 7100, tls: true)])
    }
}

extension StreampointSessionTests {
    /// With http:// endpoints a unit may have no ca_file; a TLS streampoint then
    /// cannot be checked, so the agent says so once instead of failing forever
    /// with "TLS setup failed: Invalid argument" (issue 14, finding 9).
    @Test func tlsStreampointWithoutACAFileIsRefusedWithAClearReason() {
        var config = testConfig()
        config.caFile = nil
        var h = Harness(config: config)
        _ = h.authenticate()
        let tls = h.receive(.endpoint, [.streampointAssign(streampointID: "sp1", host: "sp.example", port: 7100, ticket: [1], tls: true,
                                                           backup: StreampointOffer(streampointID: "sp2", host: "sp2.example", port: 7200,
                                                                                    ticket: [2], tls: true))])
        #expect(connects(tls).isEmpty)
        #expect(logs(tls).contains { $0.contains("speaks TLS, but this unit has no ca_file") })
        let plain = h.receive(.endpoint, [.streampointAssign(streampointID: "sp1", host: "sp.example", port: 7100, ticket: [1])])
        #expect(connects(plain).map(\.1) == [ServerAddress(host: "sp.example", port: 7100)])
    }
}

@Suite struct TunnelTests {
    let token = [UInt8](repeating: 0x77, count: 16)

    /// PROTOCOL §3.2/§4.3: hosts on the wire are unbracketed, so a target
    /// configured as [::1]:8554 is announced and asked for as ::1.
    @Test func ipv6TargetsAreAnnouncedAndMatchedWithoutBrackets() throws {
        let config = try ConfigParser.parse("""
            agent_id = cam-1
            device_key = \(Hex.encode(testKey))
            endpoint = http://127.0.0.1:7000
            allow_plaintext = yes
            target = rtsp=[::1]:8554
            """)
        #expect(config.targets == [TunnelTarget(name: "rtsp", host: "::1", port: 8554)])
        var h = Harness(config: config)
        _ = h.authenticate()
        _ = h.receive(.endpoint, [.streampointAssign(streampointID: "sp1", host: "127.0.0.1", port: 7100, ticket: h.ticket())])
        let register = h.core.connected(.streampoint(.a), now: h.now)
            + h.receive(.streampoint(.a), [.helloAck(version: 1, server: "sp1")], upgrade: true)
        _ = h.receive(.streampoint(.a), [.streamRegistered(streampointID: "sp1")])
        #expect(sentMessages(register, on: .streampoint(.a)).contains {
            if case .streamRegister(_, let targets) = $0 { return targets == config.targets } else { return false }
        })
        let open = h.receive(.streampoint(.a), [.tunnelOpen(tunnelID: 5, host: "::1", port: 8554, bindToken: token)])
        #expect(connects(open).map(\.1) == [ServerAddress(host: "::1", port: 8554)])
        #expect(ServerAddress(host: "::1", port: 8554).display == "[::1]:8554")
    }

    @Test func allowedTunnelConnectsTargetThenDataLinkThenSplices() {
        var h = Harness()
        _ = h.registerWithStreampoint()
        let open = h.receive(.streampoint(.a), [.tunnelOpen(tunnelID: 5, host: "127.0.0.1", port: 8554, bindToken: token)])
        #expect(connects(open).map(\.0) == [.tunnelTarget(5)])
        let targetUp = h.core.connected(.tunnelTarget(5), now: h.now)
        #expect(connects(targetUp).first?.1 == ServerAddress(host: "127.0.0.1", port: 7100))
        let bind = h.core.connected(.tunnelData(5), now: h.now)
        #expect(sentMessages(bind, on: .tunnelData(5)) == [.hello(version: 1, role: .tunnelData, software: AgentVersion.software),
                                                           .tunnelBind(tunnelID: 5, bindToken: token)])
        // HELLO_ACK and the viewer's first bytes arrive in one read.
        var bytes = HTTPUpgrade.switchingResponse() + Message.helloAck(version: 1, server: "sp1").encoded()
        bytes += Array("OPTIONS rtsp://x RTSP/1.0\r\n".utf8)
        let splice = h.core.received(.tunnelData(5), bytes: bytes, now: h.now)
        #expect(splice.contains(.splice(tunnelID: 5, toTarget: Array("OPTIONS rtsp://x RTSP/1.0\r\n".utf8))))
        #expect(h.core.stats.tunnelsEstablished == 1)
        // Splicing tunnels have no deadline and survive the setup timeout.
        #expect(closes(h.advance(11_000)).isEmpty)
        _ = h.core.tunnelFinished(5, bytesToStreampoint: 100, bytesFromStreampoint: 20, reason: "done", now: h.now)
        #expect(h.core.stats.bytesToStreampoint == 100)
        #expect(h.core.tunnelCount == 0)
    }

    @Test(arguments: [("192.168.1.10", UInt16(8554)), ("127.0.0.1", UInt16(22)), ("localhost", UInt16(8554))])
    func targetsOutsideTheConfigAreRefusedAndCounted(_ host: String, _ port: UInt16) {
        var h = Harness()
        _ = h.registerWithStreampoint()
        let open = h.receive(.streampoint(.a), [.tunnelOpen(tunnelID: 9, host: host, port: port, bindToken: token)])
        #expect(connects(open).isEmpty)
        guard case .tunnelOpenFailed(9, .targetNotAllowed, _)? = sentMessages(open, on: .streampoint(.a)).first else {
            Issue.record("no refusal sent"); return
        }
        #expect(h.core.stats.tunnelsRefused == 1)
        #expect(logs(open).contains { $0.contains("refused") })
    }

    @Test func unreachableTargetIsReported() {
        var h = Harness()
        _ = h.registerWithStreampoint()
        _ = h.receive(.streampoint(.a), [.tunnelOpen(tunnelID: 3, host: "127.0.0.1", port: 8554, bindToken: token)])
        let failed = h.core.connectFailed(.tunnelTarget(3), reason: "Connection refused", now: h.now)
        guard case .tunnelOpenFailed(3, .targetUnreachable, _)? = sentMessages(failed, on: .streampoint(.a)).first else {
            Issue.record("no failure report"); return
        }
        #expect(h.core.stats.tunnelsFailed == 1)
    }

    @Test func tunnelLimitIsEnforced() {
        var h = Harness()
        _ = h.registerWithStreampoint()
        for id: UInt32 in 1...2 {
            _ = h.receive(.streampoint(.a), [.tunnelOpen(tunnelID: id, host: "127.0.0.1", port: 8554, bindToken: token)])
        }
        let third = h.receive(.streampoint(.a), [.tunnelOpen(tunnelID: 3, host: "127.0.0.1", port: 8554, bindToken: token)])
        #expect(connects(third).isEmpty)
        guard case .tunnelOpenFailed(3, _, _)? = sentMessages(third, on: .streampoint(.a)).first else {
            Issue.record("limit not reported"); return
        }
    }

    @Test func stalledSetupTimesOutAndClosesBothSockets() {
        var h = Harness()
        _ = h.registerWithStreampoint()
        _ = h.receive(.streampoint(.a), [.tunnelOpen(tunnelID: 4, host: "127.0.0.1", port: 8554, bindToken: token)])
        _ = h.core.connected(.tunnelTarget(4), now: h.now)
        _ = h.core.connected(.tunnelData(4), now: h.now)
        let expired = h.advance(10_000)
        #expect(Set(closes(expired)) == [.tunnelTarget(4), .tunnelData(4)])
        #expect(h.core.tunnelCount == 0)
    }

    @Test func rejectedBindFailsTheTunnel() {
        var h = Harness()
        _ = h.registerWithStreampoint()
        _ = h.receive(.streampoint(.a), [.tunnelOpen(tunnelID: 6, host: "127.0.0.1", port: 8554, bindToken: token)])
        _ = h.core.connected(.tunnelTarget(6), now: h.now)
        _ = h.core.connected(.tunnelData(6), now: h.now)
        let refused = h.receive(.tunnelData(6), [.error(code: .invalidBind, message: "unknown tunnel")], upgrade: true)
        #expect(Set(closes(refused)) == [.tunnelTarget(6), .tunnelData(6)])
        #expect(h.core.stats.tunnelsFailed == 1)
    }
}
