import CamCore
import CamProtocol
import Testing

private func stats(_ actions: [AgentAction]) -> [StatsReport] {
    sentMessages(actions, on: .endpoint).compactMap { if case .agentStats(let report) = $0 { return report } else { return nil } }
}

private func commandResults(_ actions: [AgentAction]) -> [(UInt32, ErrorCode?, String)] {
    sentMessages(actions, on: .endpoint).compactMap {
        if case .commandResult(let id, let code, let text) = $0 { return (id, code, text) } else { return nil }
    }
}

private func storedStates(_ actions: [AgentAction]) -> [AgentState] {
    var states: [AgentState] = []
    for case .storeState(let state) in actions { states.append(state) }
    return states
}

extension Harness {
    /// Authenticated and registered at sp1, with sp2 as the backup.
    mutating func registerWithBackup() -> [AgentAction] {
        _ = authenticate()
        let backup = StreampointOffer(streampointID: "sp2", host: "127.0.0.1", port: 7200, ticket: [2], tls: false)
        _ = receive(.endpoint, [.streampointAssign(streampointID: "sp1", host: "127.0.0.1", port: 7100, ticket: ticket(), backup: backup)])
        _ = core.connected(.streampoint(.a), now: now)
        _ = receive(.streampoint(.a), [.helloAck(version: 1, server: "sp1")], upgrade: true)
        return receive(.streampoint(.a), [.streamRegistered(streampointID: "sp1")])
    }

    mutating func register(_ slot: StreampointSlot, as id: String) -> [AgentAction] {
        _ = core.connected(.streampoint(slot), now: now)
        _ = receive(.streampoint(slot), [.helloAck(version: 1, server: id)], upgrade: true)
        return receive(.streampoint(slot), [.streamRegistered(streampointID: id)])
    }

    /// Opens tunnel `id` on `slot` up to splicing.
    mutating func openTunnel(_ id: UInt32, on slot: StreampointSlot) {
        let token = [UInt8](repeating: 7, count: 16)
        _ = receive(.streampoint(slot), [.tunnelOpen(tunnelID: id, host: "127.0.0.1", port: 8554, bindToken: token)])
        _ = core.connected(.tunnelTarget(id), now: now)
        _ = core.connected(.tunnelData(id), now: now)
        _ = receive(.tunnelData(id), [.helloAck(version: 1, server: "sp")], upgrade: true)
    }
}

@Suite struct StreampointFailoverTests {
    @Test func lostStreampointMovesToTheBackupAtOnceAndTellsTheEndpoint() {
        var h = Harness()
        let first = h.registerWithBackup()
        #expect(stats(first).first?.streampointID == "sp1")
        let lost = h.core.closed(.streampoint(.a), reason: "closed by peer", now: h.now)
        // No backoff wait after a working session: the backup is dialled in the same step.
        #expect(connects(lost).map(\.1) == [ServerAddress(host: "127.0.0.1", port: 7200)])
        #expect(logs(lost).contains { $0.contains("lost sp1") && $0.contains("backup sp2") })
        let registered = h.register(.a, as: "sp2")
        let report = try? #require(stats(registered).first)
        #expect(report?.reason == .streampointChanged && report?.streampointID == "sp2")
        #expect(h.core.currentStreampointID == "sp2")
    }

    @Test func unreachableMainAlternatesWithTheBackupUnderBackoff() {
        var h = Harness()
        _ = h.authenticate()
        let backup = StreampointOffer(streampointID: "sp2", host: "127.0.0.1", port: 7200, ticket: [2], tls: false)
        let assigned = h.receive(.endpoint, [.streampointAssign(streampointID: "sp1", host: "127.0.0.1", port: 7100,
                                                                ticket: h.ticket(), backup: backup)])
        #expect(connects(assigned).map(\.1.port) == [7100])
        var ports: [UInt16] = []
        var lastAttempt = h.now
        var gaps: [Int64] = []
        for _ in 0..<4 {
            let failed = h.core.connectFailed(.streampoint(.a), reason: "refused", now: h.now)
            #expect(connects(failed).isEmpty)  // never redialled in the same step
            for _ in 0..<200 {
                let step = h.advance(100)
                if let next = connects(step).first {
                    ports.append(next.1.port)
                    gaps.append(h.now - lastAttempt)
                    lastAttempt = h.now
                    break
                }
            }
        }
        #expect(ports == [7200, 7100, 7200, 7100])
        #expect(gaps.allSatisfy { $0 >= 500 })
        #expect(gaps.last! > gaps.first!)  // exponential, not a tight loop
    }

    @Test func switchKeepsOldTunnelsForTheGracePeriodThenClosesThem() {
        var config = testConfig()
        config.switchGraceMs = 5_000
        var h = Harness(config: config)
        _ = h.registerWithBackup()
        h.openTunnel(1, on: .a)
        #expect(h.core.tunnelCount == 1)
        _ = h.receive(.endpoint, [.streampointAssign(streampointID: "sp3", host: "127.0.0.1", port: 7300, ticket: [3])])
        // A tunnel asked for on the old streampoint during the switch still opens there.
        h.openTunnel(2, on: .a)
        #expect(h.core.tunnelCount == 2)
        let switched = h.register(.b, as: "sp3")
        #expect(closes(switched) == [.streampoint(.a)])
        #expect(!switched.contains(.closeTunnel(1)))
        var closed: [AgentAction] = []
        for _ in 0..<60 { closed += h.advance(100) }
        #expect(closed.contains(.closeTunnel(1)) && closed.contains(.closeTunnel(2)))
        // The runtime closes them and reports back.
        for id: UInt32 in [1, 2] {
            _ = h.core.tunnelFinished(id, bytesToStreampoint: 10, bytesFromStreampoint: 5, reason: "closed by the agent", now: h.now)
        }
        #expect(h.core.tunnelCount == 0)
        // A tunnel on the new streampoint is not touched.
        h.openTunnel(3, on: .b)
        var later: [AgentAction] = []
        for _ in 0..<100 { later += h.advance(100) }
        #expect(!later.contains(.closeTunnel(3)))
    }

    @Test func bothStreampointsMayUseTheSameTunnelIDDuringAGracePeriod() {
        var h = Harness()
        _ = h.registerWithBackup()
        h.openTunnel(1, on: .a)
        _ = h.receive(.endpoint, [.streampointAssign(streampointID: "sp3", host: "127.0.0.1", port: 7300, ticket: [3])])
        _ = h.register(.b, as: "sp3")
        let token = [UInt8](repeating: 8, count: 16)
        let open = h.receive(.streampoint(.b), [.tunnelOpen(tunnelID: 1, host: "127.0.0.1", port: 8554, bindToken: token)])
        #expect(sentMessages(open, on: .streampoint(.b)).isEmpty)  // not refused
        guard let (local, _) = connects(open).first, case .tunnelTarget(let id) = local else {
            Issue.record("no target connect for the second tunnel 1"); return
        }
        #expect(id != 1)
        _ = h.core.connected(.tunnelTarget(id), now: h.now)
        let bind = h.core.connected(.tunnelData(id), now: h.now)
        // The streampoint hears its own id.
        #expect(sentMessages(bind, on: .tunnelData(id)).contains(.tunnelBind(tunnelID: 1, bindToken: token)))
        #expect(h.core.tunnelCount == 2)
    }

    @Test func failedSwitchKeepsTheOldStreampoint() {
        var h = Harness()
        _ = h.registerWithBackup()
        _ = h.receive(.endpoint, [.streampointAssign(streampointID: "sp3", host: "127.0.0.1", port: 7300, ticket: [3])])
        let failed = h.core.connectFailed(.streampoint(.b), reason: "refused", now: h.now)
        #expect(!closes(failed).contains(.streampoint(.a)))
        #expect(h.core.isStreampointUp && h.core.currentStreampointID == "sp1" && h.core.isSwitchingStreampoint)
        // Switching back to the current one cancels the switch.
        let back = h.receive(.endpoint, [.streampointAssign(streampointID: "sp1", host: "127.0.0.1", port: 7100, ticket: h.ticket())])
        #expect(!h.core.isSwitchingStreampoint)
        #expect(connects(back).isEmpty)
    }
}

@Suite struct EndpointFailoverTests {
    @Test func lostMainWalksToTheBackupAndReturnsWhenTheMainAnswers() {
        var config = testConfig()
        config.mainEndpointRecheckMs = 30_000
        var h = Harness(config: config)
        _ = h.authenticate()
        _ = h.core.closed(.endpoint, reason: "closed by peer", now: h.now)
        var dialled: [ServerAddress] = []
        for _ in 0..<100 {
            let step = h.advance(100)
            for (id, address) in connects(step) where id == .endpoint {
                dialled.append(address)
                _ = h.core.connectFailed(.endpoint, reason: "refused", now: h.now)
            }
            if dialled.count == 2 { break }
        }
        // Main first (it may be back already), then the backup.
        #expect(dialled.map(\.host) == ["127.0.0.1", "127.0.0.2"])
        // The main stays down; authenticate on the backup when it is dialled next.
        var onBackup = false
        for _ in 0..<600 where !onBackup {
            for (id, address) in connects(h.advance(100)) where id == .endpoint {
                if address.host == "127.0.0.2" {
                    _ = h.authenticate(dialled: false)
                    onBackup = true
                } else {
                    _ = h.core.connectFailed(.endpoint, reason: "refused", now: h.now)
                }
            }
        }
        #expect(onBackup && h.core.isEndpointUp && h.core.currentEndpoint.host == "127.0.0.2")
        // Every recheck interval it checks the main endpoint, and moves back only when it answers.
        let probe = h.advance(30_100, keepingAlive: [.endpoint])
        #expect(connects(probe).map(\.0) == [.endpointProbe])
        let hello = h.core.connected(.endpointProbe, now: h.now)
        #expect(sentMessages(hello, on: .endpointProbe).first?.kind == .hello)
        let answered = h.receive(.endpointProbe, [.helloAck(version: 1, server: "main")], upgrade: true)
        #expect(closes(answered).contains(.endpointProbe) && closes(answered).contains(.endpoint))
        #expect(connects(answered).map(\.1.host) == ["127.0.0.1"])
    }

    @Test func silentMainIsLeftForTheBackupRatherThanRedialled() {
        var h = Harness()
        _ = h.authenticate()
        var dials: [ServerAddress] = []
        for _ in 0..<400 where dials.isEmpty {
            for (id, address) in connects(h.advance(100)) where id == .endpoint { dials.append(address) }
        }
        // Silence (a dropped path) is not a restart: straight on to the backup.
        #expect(dials.map(\.host) == ["127.0.0.2"])
    }

    @Test func mainThatStaysDownDoesNotDisturbTheBackup() {
        var config = testConfig()
        config.mainEndpointRecheckMs = 10_000
        var h = Harness(config: config)
        _ = h.core.start(now: h.now)
        _ = h.core.connectFailed(.endpoint, reason: "refused", now: h.now)
        for _ in 0..<50 where connects(h.advance(100)).isEmpty {}
        _ = h.authenticate(dialled: false)
        #expect(h.core.currentEndpoint.host == "127.0.0.2")
        var all = h.advance(10_100, keepingAlive: [.endpoint])
        #expect(connects(all).map(\.0) == [.endpointProbe])
        all = h.core.connectFailed(.endpointProbe, reason: "refused", now: h.now)
        #expect(!closes(all).contains(.endpoint) && h.core.isEndpointUp)
        var next = h.advance(9_800, keepingAlive: [.endpoint])
        #expect(connects(next).isEmpty)  // next check only after the full interval
        next = h.advance(300)
        #expect(connects(next).map(\.0) == [.endpointProbe])
    }

    @Test func pushedListIsStoredWithTheAddressEachEndpointAnsweredOn() {
        var h = Harness()
        _ = h.core.start(now: h.now)
        let connected = h.core.connected(.endpoint, now: h.now, addresses: SocketAddresses(local: "192.168.1.20", peer: "127.0.0.1"))
        // Nothing is kept before the endpoint has proved itself.
        #expect(storedStates(connected).isEmpty)
        let authenticated = h.authenticate(dialled: false, alreadyConnected: true)
        #expect(storedStates(authenticated).first?.configEndpointAddresses.first?.knownAddress == "127.0.0.1")
        #expect(stats(authenticated).first?.localAddress == "192.168.1.20")
        let pushed = h.receive(.endpoint, [.configPush(endpoints: [EndpointEntry(host: "127.0.0.1", port: 7000, tls: false),
                                                                   EndpointEntry(host: "ep3.example.net", port: 7443, tls: true)],
                                                       mainRecheckSeconds: 120)])
        let state = try? #require(storedStates(pushed).first)
        #expect(state?.endpoints.map(\.host) == ["127.0.0.1", "ep3.example.net"])
        #expect(state?.endpoints.first?.knownAddress == "127.0.0.1")
        #expect(state?.mainEndpointRecheckMs == 120_000)
        #expect(StateFile.parse(StateFile.render(state!)) == state)
        // The same list again changes nothing and writes nothing.
        let again = h.receive(.endpoint, [.configPush(endpoints: [EndpointEntry(host: "127.0.0.1", port: 7000, tls: false),
                                                                  EndpointEntry(host: "ep3.example.net", port: 7443, tls: true)],
                                                      mainRecheckSeconds: 120)])
        #expect(storedStates(again).isEmpty)
        // A restart starts from the stored list, not the config's.
        var restarted = AgentCore(config: testConfig(), state: state!, entropy: SeededEntropy(seed: 3))
        #expect(connects(restarted.start(now: 0)).first?.1.knownAddress == "127.0.0.1")
        #expect(restarted.endpointList.map(\.host) == ["127.0.0.1", "ep3.example.net"])
    }

    @Test func dialsAlternateBetweenDNSAndTheKnownAddress() {
        let known = AgentState(configEndpointAddresses: [ServerAddress(host: "127.0.0.1", port: 7000, knownAddress: "10.9.9.9")])
        var config = testConfig()
        config.endpoints = [ServerAddress(host: "127.0.0.1", port: 7000)]
        var core = AgentCore(config: config, state: known, entropy: SeededEntropy(seed: 5))
        var now: Int64 = 0
        var order: [Bool] = []
        var actions = core.start(now: now)
        for _ in 0..<4 {
            guard let dial = connects(actions).first else { Issue.record("no dial"); return }
            #expect(dial.1.knownAddress == "10.9.9.9")
            order.append(dial.1.knownAddressFirst)
            _ = core.connectFailed(.endpoint, reason: "timed out", now: now)
            actions = []
            while connects(actions).isEmpty && now < 1_000_000 { now += 100; actions = core.tick(now: now) }
        }
        #expect(order == [false, true, false, true])
    }

    @Test func firstReconnectsOfAFleetSpreadOverTheWholeWindow() {
        var delays: [Int64] = []
        for n in 0..<200 {
            var config = testConfig()
            config.identity = AgentIdentity(agentID: "cam-\(n)", deviceKey: testKey)
            var h = Harness(config: config, seed: UInt64(n))
            _ = h.authenticate()
            _ = h.core.closed(.endpoint, reason: "closed by peer", now: h.now)
            delays.append(h.core.nextDeadline! - h.now)
        }
        #expect(delays.allSatisfy { $0 >= 0 && $0 < 1000 }, "\(delays.filter { $0 < 0 || $0 >= 1000 })")
        // Every fifth of the window gets part of the fleet: no lockstep, no clump.
        var buckets = [Int](repeating: 0, count: 5)
        for delay in delays { buckets[Int(delay / 200)] += 1 }
        #expect(buckets.allSatisfy { $0 >= 20 && $0 <= 60 }, "\(buckets) \(delays.prefix(20))")
    }
}

@Suite struct CommandTests {
    @Test func disconnectClosesEverythingAndStaysAwayForTheOrderedTime() {
        var h = Harness()
        _ = h.registerWithBackup()
        h.openTunnel(4, on: .a)
        let ordered = h.receive(.endpoint, [.command(commandID: 7, kind: .disconnect, argument: 20)])
        let results = commandResults(ordered)
        #expect(results.count == 1 && results.first?.0 == 7 && results.first?.1 == nil)
        // The answer goes out before the link closes.
        let sendIndex = ordered.firstIndex { if case .send(.endpoint, _) = $0 { return true } else { return false } }!
        let closeIndex = ordered.firstIndex(of: .close(.endpoint))!
        #expect(sendIndex < closeIndex)
        #expect(closes(ordered).contains(.streampoint(.a)))
        #expect(ordered.contains(.closeTunnel(4)))
        var away: [AgentAction] = []
        for _ in 0..<199 { away += h.advance(100) }
        #expect(connects(away).isEmpty)
        #expect(connects(h.advance(200)).map(\.0) == [.endpoint])
    }

    @Test func rebootRunsTheConfiguredCommandOrSaysWhyNot() {
        var h = Harness()
        _ = h.authenticate()
        let refused = h.receive(.endpoint, [.command(commandID: 1, kind: .reboot, argument: 0)])
        #expect(commandResults(refused).first?.1 == .internalError)
        #expect(!refused.contains { if case .runCommand = $0 { return true } else { return false } })

        var config = testConfig()
        config.rebootCommand = "/sbin/reboot -f"
        var r = Harness(config: config)
        _ = r.authenticate()
        let rebooting = r.receive(.endpoint, [.command(commandID: 2, kind: .reboot, argument: 0)])
        #expect(commandResults(rebooting).first?.1 == nil)
        #expect(rebooting.contains(.runCommand("/sbin/reboot -f")))
    }

    @Test func resetDropsTheIssuedIdentityAndActivatesAgain() {
        var config = testConfig()
        config.identity = nil
        config.factory = FactoryIdentity(serial: "XM0001", mac: "", model: "", firmware: "", activationSecret: testKey)
        config.stateFile = "/tmp/state"
        var h = Harness(config: config, issued: AgentIdentity(agentID: "cam-1", deviceKey: testKey))
        _ = h.authenticate()
        let reset = h.receive(.endpoint, [.command(commandID: 3, kind: .reset, argument: 0)])
        #expect(commandResults(reset).first?.1 == nil)
        #expect(storedStates(reset).first?.identity == nil)
        #expect(h.core.identity == nil)
        #expect(connects(reset).map(\.0) == [.endpoint])
        _ = h.core.connected(.endpoint, now: h.now)
        let hello = h.receive(.endpoint, [.helloAck(version: 1, server: "t")], upgrade: true)
        guard case .activateBegin(let serial, _, _, _, _)? = sentMessages(hello, on: .endpoint).first else {
            Issue.record("no ACTIVATE_BEGIN after reset"); return
        }
        #expect(serial == "XM0001")
    }

    @Test func resetOfAFixedIdentityIsRefused() {
        var h = Harness()
        _ = h.authenticate()
        let refused = h.receive(.endpoint, [.command(commandID: 4, kind: .reset, argument: 0)])
        #expect(commandResults(refused).first?.1 == .unexpectedMessage)
        #expect(h.core.isEndpointUp && h.core.identity != nil)
        let unknown = h.receive(.endpoint, [.command(commandID: 5, kind: .unknown, argument: 0)])
        #expect(commandResults(unknown).first?.1 == .unexpectedMessage && h.core.isEndpointUp)
    }

    @Test func statsAnswerRequestsAndGoOutPeriodically() {
        var h = Harness()
        let authenticated = h.authenticate()
        #expect(stats(authenticated).first?.reason == .endpointChanged)
        let answered = h.receive(.endpoint, [.statsRequest])
        let report = try? #require(stats(answered).first)
        #expect(report?.reason == .requested && report?.endpoint == "127.0.0.1:7000")
        #expect(report?.counters.count == StatCounter.allCases.count)
        let periodic = h.advance(60_100, keepingAlive: [.endpoint])
        #expect(stats(periodic).map(\.reason) == [.periodic])
    }
}
