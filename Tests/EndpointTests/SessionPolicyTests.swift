@testable import EndpointCore
import CamProtocol
import Foundation
import Testing

/// The pieces EndpointState was split into: the assignment policy with its
/// tickets, and the session table. Pure, no loop.
@Suite struct SessionPolicyTests {
    let key = [UInt8](repeating: 9, count: 32)

    func policy(_ arguments: [String]) throws -> StreampointAssignment {
        StreampointAssignment(streampoints: try arguments.map { try StreampointInfo(argument: $0) },
                              ticketKey: key, ticketLifetime: 300)
    }

    @Test func theMainIsTheOperatorsChoiceOnlyIfThisEndpointKnowsIt() throws {
        let policy = try policy(["sp1=127.0.0.1:1", "sp2=127.0.0.1:2"])
        #expect(policy.main(assigned: nil).id == "sp1")
        #expect(policy.main(assigned: "sp2").id == "sp2")
        #expect(policy.main(assigned: "gone").id == "sp1")
    }

    @Test func theBackupIsTheChosenOneElseTheNextAfterTheMain() throws {
        let policy = try policy(["sp1=127.0.0.1:1", "sp2=127.0.0.1:2", "sp3=127.0.0.1:3"])
        let sp2 = try #require(policy.streampoint(id: "sp2"))
        #expect(policy.backup(chosen: nil, main: sp2)?.id == "sp3")
        #expect(policy.backup(chosen: "sp1", main: sp2)?.id == "sp1")
        #expect(policy.backup(chosen: "sp2", main: sp2)?.id == "sp3", "the main cannot be its own backup")
        #expect(policy.backup(chosen: "gone", main: sp2)?.id == "sp3")
        let single = try self.policy(["sp1=127.0.0.1:1"])
        #expect(single.backup(chosen: nil, main: single.defaultStreampoint) == nil)
    }

    @Test func eachStreampointGetsItsOwnSignedTicketWithAFreshNonce() throws {
        let policy = try policy(["sp1=127.0.0.1:1", "sp2=tls://sp2.example.net:7102"])
        var nonces = 0
        let message = policy.message(agentID: "cam-1", main: policy.streampoints[0], backup: policy.streampoints[1],
                                     now: 1_800_000_000, nonce: {
                                         nonces += 1
                                         return [UInt8](repeating: UInt8(nonces), count: ProtocolConstants.ticketNonceSize)
                                     })
        guard case .streampointAssign(let id, _, let port, let ticket, let tls, let backup) = message, let backup else {
            Issue.record("expected an assignment with a backup, got \(message)"); return
        }
        #expect(nonces == 2)
        #expect(id == "sp1" && port == 1 && !tls)
        #expect(backup.streampointID == "sp2" && backup.host == "sp2.example.net" && backup.tls)
        let main = try Ticket.verify(ticket, key: key, streampointID: "sp1", now: 1_800_000_000)
        #expect(main.agentID == "cam-1" && main.expiresAt == 1_800_000_300)
        #expect(throws: Ticket.Rejection.self, "a ticket names its streampoint") {
            try Ticket.verify(ticket, key: key, streampointID: "sp2", now: 1_800_000_000)
        }
        #expect(try Ticket.verify(backup.ticket, key: key, streampointID: "sp2", now: 1_800_000_000).agentID == "cam-1")
    }

    final class Session {}

    @Test func aReplacedSessionsEndLeavesTheNewOneOnline() {
        var table = SessionTable<Session>()
        let old = Session(), new = Session()
        let t0 = Date(timeIntervalSince1970: 1000)
        table.authenticated(agentID: "cam-1", session: old, remote: "192.0.2.1:1", now: t0)
        table.authenticated(agentID: "cam-1", session: new, remote: "192.0.2.2:2", now: t0)
        let oldWasLive = table.closed(agentID: "cam-1", session: old, now: t0)
        #expect(!oldWasLive)
        #expect(table.session(of: "cam-1") === new)
        #expect(table.status(of: "cam-1")?.remoteAddress == "192.0.2.2:2")
        let newWasLive = table.closed(agentID: "cam-1", session: new, now: Date(timeIntervalSince1970: 2000))
        #expect(newWasLive)
        #expect(!table.isOnline("cam-1") && table.count == 0)
        #expect(table.status(of: "cam-1")?.lastSeen == Date(timeIntervalSince1970: 2000), "what it reported outlives the session")
    }
}
