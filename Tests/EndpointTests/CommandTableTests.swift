@testable import camagent_endpoint
@testable import EndpointCore
import CamNIO
import CamProtocol
import Testing

/// The pure parts behind commands, reports, backups and the endpoint list:
/// the pending-command table, reset allowances, the backup rule, the
/// --agent-endpoint parser and the link state machine's new messages.
@Suite struct CommandTableTests {
    @Test func commandIDsAreUniqueNonZeroAndTheTableIsBounded() {
        var table = PendingCommands<String>(capacity: 3)
        let a = table.add(agentID: "cam-1", awaiting: .commandResult(.reboot), waiter: "a")
        let b = table.add(agentID: "cam-1", awaiting: .commandResult(.disconnect), waiter: "b")
        let c = table.add(agentID: "cam-2", awaiting: .stats, waiter: "c")
        #expect(a != nil && b != nil && c != nil)
        #expect(Set([a, b, c]).count == 3 && ![a, b, c].contains(0))
        let result1 = table.add(agentID: "cam-3", awaiting: .stats, waiter: "d")
        #expect(result1 == nil, "a full table must refuse")
        #expect(table.count == 3)
        _ = table.remove(commandID: a!)
        let d = table.add(agentID: "cam-3", awaiting: .stats, waiter: "d")
        #expect(d != nil && d != b && d != c)
    }

    @Test func onlyTheAgentACommandWentToCanAnswerIt() {
        var table = PendingCommands<String>()
        let id = table.add(agentID: "cam-1", awaiting: .commandResult(.reset), waiter: "w")!
        let result2 = table.resolveCommand(agentID: "cam-2", commandID: id)
        #expect(result2 == nil)
        let result3 = table.resolveCommand(agentID: "cam-1", commandID: id &+ 1)
        #expect(result3 == nil)
        let entry = table.resolveCommand(agentID: "cam-1", commandID: id)
        #expect(entry?.waiter == "w" && entry?.awaiting == .commandResult(.reset))
        let result4 = table.resolveCommand(agentID: "cam-1", commandID: id)
        #expect(result4 == nil, "answered twice")
        #expect(table.count == 0)
    }

    @Test func aStatsWaiterIsNotACommandAndOneReportAnswersAllOfAnAgent() {
        var table = PendingCommands<Int>()
        let s1 = table.add(agentID: "cam-1", awaiting: .stats, waiter: 1)!
        _ = table.add(agentID: "cam-1", awaiting: .stats, waiter: 2)
        _ = table.add(agentID: "cam-2", awaiting: .stats, waiter: 3)
        _ = table.add(agentID: "cam-1", awaiting: .commandResult(.reboot), waiter: 4)
        let result5 = table.resolveCommand(agentID: "cam-1", commandID: s1)
        #expect(result5 == nil, "COMMAND_RESULT must not answer a stats request")
        let result6 = table.resolveStats(agentID: "cam-1")
        #expect(result6.map(\.waiter) == [1, 2])
        #expect(table.count == 2)
        let result7 = table.removeAll(agentID: "cam-1")
        #expect(result7.map(\.waiter) == [4])
        let result8 = table.removeAll(agentID: "cam-2")
        #expect(result8.map(\.waiter) == [3])
        #expect(table.count == 0)
    }

    @Test func aResetAllowanceIsUsedOnceAndExpires() {
        var allowances = ResetAllowances(lifetime: 120, capacity: 2)
        let result9 = allowances.consume(serial: "XM0001", now: 0)
        #expect(!result9)
        allowances.grant(serial: "XM0001", now: 10)
        #expect(allowances.isGranted(serial: "XM0001", now: 100))
        let result10 = allowances.consume(serial: "XM0001", now: 100)
        #expect(result10)
        let result11 = allowances.consume(serial: "XM0001", now: 101)
        #expect(!result11, "a second activation must need a second reset")
        allowances.grant(serial: "XM0002", now: 10)
        let result12 = allowances.consume(serial: "XM0002", now: 130.5)
        #expect(!result12, "an old grant must not work")
        // Bounded: the oldest outstanding grant makes room.
        allowances.grant(serial: "A", now: 200)
        allowances.grant(serial: "B", now: 201)
        allowances.grant(serial: "C", now: 202)
        #expect(allowances.count == 2)
        #expect(!allowances.isGranted(serial: "A", now: 203) && allowances.isGranted(serial: "C", now: 203))
    }

    @Test func theBackupIsTheNextStreampointWrappingAndNoneForASingleOne() throws {
        let list = try ["sp1=127.0.0.1:1", "sp2=127.0.0.1:2", "sp3=tls://localhost:3"].map { try StreampointInfo(argument: $0) }
        #expect(StreampointInfo.following("sp1", in: list)?.id == "sp2")
        #expect(StreampointInfo.following("sp2", in: list)?.id == "sp3")
        #expect(StreampointInfo.following("sp3", in: list)?.id == "sp1")
        #expect(StreampointInfo.following("sp1", in: Array(list.prefix(1))) == nil)
        #expect(StreampointInfo.following("spX", in: list) == nil)
    }

    @Test func agentEndpointURLsParseLikeTheAgentsEndpointLine() throws {
        #expect(try AgentEndpointOption.parse("https://ep1.example.net:7000") == EndpointEntry(host: "ep1.example.net", port: 7000, tls: true))
        #expect(try AgentEndpointOption.parse("http://127.0.0.1:7000/") == EndpointEntry(host: "127.0.0.1", port: 7000, tls: false))
        #expect(try AgentEndpointOption.parse("https://ep1.example.net") == EndpointEntry(host: "ep1.example.net", port: 443, tls: true))
        #expect(try AgentEndpointOption.parse("https://[::1]:7000") == EndpointEntry(host: "::1", port: 7000, tls: true))
        for bad in ["ep1:7000", "ftp://ep1:7000", "https://:7000", "https://ep1:0", "https://ep1:70000", "https://ep1:7000/x",
                    "https://user@ep1:7000", "https://::1:7000", "https://ep 1:7000"] {
            #expect(throws: ValidationFailure.self, "\(bad) accepted") { try AgentEndpointOption.parse(bad) }
        }
        let nine = (1...9).map { "https://ep\($0).example.net:7000" }
        #expect(throws: ValidationFailure.self) { try AgentEndpointOption.parseList(nine) }
        #expect(throws: ValidationFailure.self) { try AgentEndpointOption.parseList(["https://a:1", "https://a:1/"]) }
        #expect(try AgentEndpointOption.parseList(Array(nine.prefix(8))).count == 8)
    }

    @Test func reportsResultsAndUnitDetailsBecomeActionsOnlyOnceEstablished() {
        let endpoint = TestEndpoint()
        let key = (0..<32).map { UInt8($0) }
        endpoint.registry.upsert(AgentRecord(id: "cam-1", verifier: Hex.encode(Authentication.verifier(deviceKey: key, agentID: "cam-1")),
                                             streampoint: nil))
        let report = StatsReport(reason: .requested, uptimeSeconds: 5, secondsSinceChange: 3, endpoint: "localhost:7000",
                                 streampointID: "sp2", streampointState: .registered, localAddress: "192.168.1.20",
                                 counters: [(StatCounter.tunnelsRequested.rawValue, 4), (200, 9)])
        // Before authentication, each is a protocol violation.
        for early in [Message.agentStats(report), .commandResult(commandID: 1, code: nil, message: "ok")] {
            var machine = endpoint.link()
            guard case .closeWithError(.unexpectedMessage, _, _) = machine.messageReceived(early, directory: endpoint) else {
                Issue.record("\(early.name) accepted before authentication"); continue
            }
        }
        var machine = endpoint.link()
        let clientNonce = [UInt8](repeating: 0xA5, count: 32)
        guard case .send(.authChallenge(let serverNonce)) = machine.messageReceived(.authBegin(agentID: "cam-1", clientNonce: clientNonce),
                                                                                    directory: endpoint) else {
            Issue.record("no challenge"); return
        }
        let proof = Authentication.clientProof(verifier: Authentication.verifier(deviceKey: key, agentID: "cam-1"), agentID: "cam-1",
                                               clientNonce: clientNonce, serverNonce: serverNonce)
        guard case .authenticated = machine.messageReceived(.authProof(proof: proof), directory: endpoint) else {
            Issue.record("not authenticated"); return
        }
        #expect(machine.messageReceived(.agentStats(report), directory: endpoint) == .agentStats(agentID: "cam-1", report: report))
        #expect(machine.messageReceived(.commandResult(commandID: 7, code: .internalError, message: "no reboot_command"), directory: endpoint)
                == .commandResult(agentID: "cam-1", commandID: 7, code: .internalError, message: "no reboot_command"))
        #expect(machine.messageReceived(.agentInfo(software: "camagent 1", buildTarget: "arm", serial: "XM1", mac: "00:11", model: "M"),
                                        directory: endpoint)
                == .agentInfo(agentID: "cam-1", software: "camagent 1", buildTarget: "arm", serial: "XM1", mac: "00:11", model: "M"))
        #expect(!machine.isReachabilityCheck)
    }

    @Test func aHelloOnlyCheckIsRecognisedAndCostsNoFailedAttempt() {
        // Strict limits: a single counted failure would block.
        let endpoint = TestEndpoint(limits: .init(perID: .init(maxFailures: 1, window: 10, penalty: 15),
                                                  perAddress: .init(maxFailures: 1, window: 10, penalty: 15)))
        for _ in 0..<5 {
            var machine = endpoint.link(from: "192.0.2.77")
            #expect(machine.isReachabilityCheck)
            machine.closed()
            #expect(!machine.isReachabilityCheck)
        }
        // Nothing was counted: the address may still log in.
        #expect(endpoint.block(for: AttemptSubject(kind: .agent, id: "cam-1", host: "192.0.2.77")) == nil)
        var upgradedOnly = EndpointLinkStateMachine(configuration: .init(serverName: "t", heartbeatSeconds: 10, peerTimeoutSeconds: 30))
        _ = upgradedOnly.upgradeReceived(path: ProtocolConstants.upgradePath)
        #expect(!upgradedOnly.isReachabilityCheck, "no HELLO yet: not the check")
    }
}
