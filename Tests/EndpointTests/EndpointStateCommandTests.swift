@testable import EndpointCore
import CamNIO
import CamProtocol
import Foundation
import NIOCore
import NIOPosix
import Testing

/// EndpointState on a real (one-thread) event loop, with sessions whose
/// handlers have no channel: assignments with backups, CONFIG_PUSH, stats,
/// commands and their time limits, and the reset hand-over to activation.
@Suite(.serialized) struct EndpointStateCommandTests {
    let unit = FactoryUnit()

    final class Fixture {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let directory: URL
        let state: EndpointState
        var handlers: [EndpointLinkHandler] = []

        init(streampoints: [String] = ["sp1=127.0.0.1:7101", "sp2=127.0.0.1:7102", "sp3=127.0.0.1:7103"],
             agentEndpoints: [EndpointEntry] = [], commandTimeout: TimeAmount = .seconds(5), registry: Registry = Registry()) throws {
            directory = FileManager.default.temporaryDirectory.appendingPathComponent("endpoint-state-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let store = try SQLRegistryStore.open(.sqlite(path: directory.appendingPathComponent("registry.sqlite").path))
            _ = try store.importRegistry(registry)
            self.store = store
            let settings = EndpointState.Settings(
                endpointID: "test-endpoint", streampoints: try streampoints.map { try StreampointInfo(argument: $0) },
                ticketKey: [UInt8](repeating: 7, count: 32), ticketLifetime: 300,
                serverName: "t", heartbeatSeconds: 10, peerTimeoutSeconds: 30,
                agentEndpoints: agentEndpoints, mainRecheckSeconds: 30, commandTimeout: commandTimeout)
            state = EndpointState(eventLoop: group.next(), settings: settings, registryWorker: RegistryWorker(store: store))
            try state.eventLoop.flatSubmit { [state] in state.refreshRegistry() }.wait()
        }

        let store: SQLRegistryStore

        /// Runs `body` on the loop and waits (here, off the loop) for its future.
        func onLoopFuture<T>(_ body: @escaping () -> EventLoopFuture<T>) throws -> T {
            try state.eventLoop.flatSubmit(body).wait()
        }

        func onLoop<T>(_ body: @escaping () throws -> T) throws -> T {
            try state.eventLoop.submit(body).wait()
        }

        /// Registers a live session (its handler has no channel, so pushes go nowhere).
        func goOnline(_ agentID: String) throws -> EndpointLinkHandler {
            let handler = EndpointLinkHandler(state: state, keepalive: LinkKeepaliveHandler(component: "test", heartbeatInterval: .seconds(10), peerTimeout: .seconds(30)), remote: "192.0.2.5:4000")
            handlers.append(handler)
            try onLoop { self.state.sessionAuthenticated(agentID: agentID, handler: handler, remote: "192.0.2.5:4000") }
            return handler
        }

        /// Call from the test (never from the loop, where closures may drop the last reference).
        func shutdown() {
            try? group.syncShutdownGracefully()
            state.registryWorker.shutdown()
            try? FileManager.default.removeItem(at: directory)
        }
    }

    static func registry(agents: [String]) -> Registry {
        var registry = Registry()
        for id in agents {
            registry.upsert(AgentRecord(id: id, verifier: String(repeating: "ab", count: 32), streampoint: nil))
        }
        return registry
    }

    @Test func theAssignmentNamesTheNextStreampointAsBackupEachWithItsOwnTicket() throws {
        let fixture = try Fixture(registry: Self.registry(agents: ["cam-1"]))
        defer { fixture.shutdown() }
        let key = [UInt8](repeating: 7, count: 32)
        func check(main: String, backup: String?) throws {
            let message = try fixture.onLoop { fixture.state.assignment(for: "cam-1") }
            guard case .streampointAssign(let id, _, let port, let ticket, _, let offer) = message else {
                Issue.record("not an assignment: \(message)"); return
            }
            #expect(id == main && Int(port) == 7100 + Int(main.dropFirst(2))!)
            #expect(offer?.streampointID == backup)
            #expect(try Ticket.verify(ticket, key: key, streampointID: main, now: UInt64(Date().timeIntervalSince1970)).agentID == "cam-1")
            if let offer, let backup {
                #expect(Int(offer.port) == 7100 + Int(backup.dropFirst(2))!)
                #expect(try Ticket.verify(offer.ticket, key: key, streampointID: backup, now: UInt64(Date().timeIntervalSince1970)).agentID == "cam-1")
                #expect(throws: (any Error).self, "a ticket must name its own streampoint") {
                    try Ticket.verify(offer.ticket, key: key, streampointID: main, now: UInt64(Date().timeIntervalSince1970))
                }
            }
        }
        try check(main: "sp1", backup: "sp2")
        _ = try fixture.onLoopFuture { fixture.state.assign(agentID: "cam-1", streampointID: "sp3") }
        try check(main: "sp3", backup: "sp1")
        _ = try fixture.onLoopFuture { fixture.state.assign(agentID: "cam-1", streampointID: "sp2", backupID: "sp1") }
        try check(main: "sp2", backup: "sp1")
        // The choice is saved with the assignment.
        let saved = try fixture.store.snapshot().registry
        #expect(saved["cam-1"]?.streampoint == "sp2" && saved["cam-1"]?.backupStreampoint == "sp1")
        #expect(throws: (any Error).self) { try fixture.onLoopFuture { fixture.state.assign(agentID: "cam-1", streampointID: "sp2", backupID: "sp2") } }
        #expect(throws: (any Error).self) { try fixture.onLoopFuture { fixture.state.assign(agentID: "cam-1", streampointID: "sp2", backupID: "sp9") } }

        let single = try Fixture(streampoints: ["sp1=127.0.0.1:7101"], registry: Self.registry(agents: ["cam-1"]))
        defer { single.shutdown() }
        guard case .streampointAssign(_, _, _, _, _, let none) = try single.onLoop({ single.state.assignment(for: "cam-1") }) else {
            Issue.record("not an assignment"); return
        }
        #expect(none == nil)
    }

    @Test func configPushCarriesTheEndpointListOnlyWhenGiven() throws {
        let without = try Fixture()
        defer { without.shutdown() }
        #expect(try without.onLoop { without.state.configPush } == nil)
        let list = [EndpointEntry(host: "ep1.example.net", port: 7000, tls: true), EndpointEntry(host: "ep2.example.net", port: 7000, tls: true)]
        let with = try Fixture(agentEndpoints: list)
        defer { with.shutdown() }
        #expect(try with.onLoop { with.state.configPush } == .configPush(endpoints: list, mainRecheckSeconds: 30))
    }

    @Test func statsAreKeptAndAnswerAStatsRequest() throws {
        let fixture = try Fixture(registry: Self.registry(agents: ["cam-1"]))
        defer { fixture.shutdown() }
        #expect(refusal(try fixture.onLoop { fixture.state.send(.stats, to: "cam-1") }) == .offline)
        _ = try fixture.goOnline("cam-1")
        let answer = try fixture.onLoop { try fixture.state.send(.stats, to: "cam-1").get() }
        let report = StatsReport(reason: .requested, uptimeSeconds: 12, secondsSinceChange: 4, endpoint: "localhost:7000",
                                 streampointID: "sp2", streampointState: .registered, localAddress: "10.1.2.3",
                                 counters: [(StatCounter.tunnelsEstablished.rawValue, 3), (StatCounter.streampointChanges.rawValue, 1), (99, 5)])
        try fixture.onLoop { fixture.state.statsReceived(agentID: "cam-1", report: report) }
        guard case .stats(let got) = try answer.wait() else { Issue.record("no stats answer"); return }
        #expect(got == report)
        let view = try #require(try fixture.onLoop { fixture.state.statsView(of: "cam-1") })
        #expect(view.counters == ["tunnelsEstablished": 3, "streampointChanges": 1, "counter-99": 5])
        #expect(view.streampoint == "sp2" && view.streampointState == "registered" && view.localAddress == "10.1.2.3")
        let agent = try #require(try fixture.onLoop { fixture.state.view(of: "cam-1") })
        #expect(agent.currentStreampoint == "sp2" && agent.streampointState == "registered" && agent.streampoint == "sp1")
        #expect(agent.backupStreampoint == "sp2")
    }

    @Test func aCommandIsAnsweredRefusedOrTimesOutAndASessionEndAnswersAtOnce() throws {
        let fixture = try Fixture(commandTimeout: .milliseconds(300), registry: Self.registry(agents: ["cam-1"]))
        defer { fixture.shutdown() }
        #expect(refusal(try fixture.onLoop { fixture.state.send(.commandResult(.reboot), to: "nobody") }) == .unknownAgent)
        let handler = try fixture.goOnline("cam-1")

        let first = try fixture.onLoop { try fixture.state.send(.commandResult(.reboot), to: "cam-1").get() }
        let id = try #require(try fixture.onLoop { fixture.state.pendingCommands.entries.keys.first })
        // Another agent's answer with that id is ignored.
        try fixture.onLoop { fixture.state.commandResultReceived(agentID: "cam-2", commandID: id, code: nil, message: "x") }
        try fixture.onLoop { fixture.state.commandResultReceived(agentID: "cam-1", commandID: id, code: .internalError,
                                                                  message: "reboot_command is not configured") }
        guard case .refused(.internalError, "reboot_command is not configured") = try first.wait() else { Issue.record("not refused"); return }

        let silent = try fixture.onLoop { try fixture.state.send(.commandResult(.disconnect), to: "cam-1", argument: 5).get() }
        let started = Date()
        guard case .noAnswer = try silent.wait() else { Issue.record("answered"); return }
        #expect(Date().timeIntervalSince(started) < 3)
        #expect(try fixture.onLoop { fixture.state.pendingCommands.count } == 0)

        let orphan = try fixture.onLoop { try fixture.state.send(.commandResult(.reboot), to: "cam-1").get() }
        try fixture.onLoop { fixture.state.sessionClosed(agentID: "cam-1", handler: handler) }
        guard case .noAnswer(let why) = try orphan.wait() else { Issue.record("answered"); return }
        #expect(why.contains("session closed"))
    }

    @Test func aConfirmedResetLetsTheUnitReactivateOnceWhileStillOnline() throws {
        var registry = Registry()
        try registry.addUnit(serial: unit.serial, activationSecret: unit.secret, agentID: nil, model: nil, mac: nil)
        let request = ActivationRequest(serial: unit.serial, mac: "", model: "", firmware: "")
        let subject = AttemptSubject(kind: .serial, id: unit.serial, host: "192.0.2.5")
        let fixture = try Fixture(registry: registry)
        defer { fixture.shutdown() }
        let first = try fixture.onLoopFuture { fixture.state.activate(request, subject: subject, remote: "192.0.2.5:1") }
        guard case .issued(let agentID, _, false) = first else { Issue.record("first activation: \(first)"); return }
        _ = try fixture.goOnline(agentID)

        // Online, no reset: a clone.
        let clone = try fixture.onLoopFuture { fixture.state.activate(request, subject: subject, remote: "192.0.2.9:1") }
        guard case .refused(.identityConflict, _, _) = clone else { Issue.record("clone not refused: \(clone)"); return }

        // The agent confirms a reset; its session still looks online (the handler
        // has no channel to close), and the unit activates again.
        let reset = try fixture.onLoop { try fixture.state.send(.commandResult(.reset), to: agentID).get() }
        let id = try #require(try fixture.onLoop { fixture.state.pendingCommands.entries.keys.first })
        try fixture.onLoop { fixture.state.commandResultReceived(agentID: agentID, commandID: id, code: nil, message: "identity dropped") }
        guard case .done = try reset.wait() else { Issue.record("reset not confirmed"); return }
        #expect(try fixture.onLoop { fixture.state.isOnline(agentID) })
        let again = try fixture.onLoopFuture { fixture.state.activate(request, subject: subject, remote: "192.0.2.5:2") }
        guard case .issued(agentID, _, true) = again else { Issue.record("re-activation after reset refused: \(again)"); return }
        #expect(try fixture.onLoop { fixture.state.registry.units[unit.serial]?.activations } == 2)

        // Only once.
        let third = try fixture.onLoopFuture { fixture.state.activate(request, subject: subject, remote: "192.0.2.9:1") }
        guard case .refused(.identityConflict, _, _) = third else { Issue.record("second re-activation allowed: \(third)"); return }

        // A refused reset grants nothing.
        let refused = try fixture.onLoop { try fixture.state.send(.commandResult(.reset), to: agentID).get() }
        let id2 = try #require(try fixture.onLoop { fixture.state.pendingCommands.entries.keys.first })
        try fixture.onLoop { fixture.state.commandResultReceived(agentID: agentID, commandID: id2, code: .unexpectedMessage, message: "no") }
        _ = try refused.wait()
        #expect(try fixture.onLoop { !fixture.state.admission.resetAllowances.isGranted(serial: unit.serial, now: monotonicSeconds()) })
    }
}

/// Why a command was not sent, nil if it was.
func refusal(_ result: Result<EventLoopFuture<AgentAnswer>, CommandRefusal>) -> CommandRefusal? {
    if case .failure(let why) = result { return why }
    return nil
}
