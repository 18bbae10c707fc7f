import CamProtocol
import Foundation

/// What the endpoint knows about an agent besides its registry record. In memory only.
struct AgentStatus {
    var lastSeen: Date?
    var remoteAddress: String?
    var software: String?
    var buildTarget: String?
    /// From AGENT_INFO; nil when the agent sent none (a unit with a fixed identity).
    var serial: String?
    var mac: String?
    var model: String?
    /// The agent's latest AGENT_STATS.
    var stats: ReceivedStats?
}

/// An AGENT_STATS report and when it arrived.
struct ReceivedStats {
    var report: StatsReport
    var receivedAt: Date
}

/// The agents online at this endpoint (one live session each) and what they
/// told it. In memory only; the registry's presence rows are what other
/// endpoints see. Generic over the session so tests need no channel.
struct SessionTable<Session: AnyObject> {
    private(set) var sessions: [String: Session] = [:]
    private var status: [String: AgentStatus] = [:]

    var count: Int { sessions.count }

    func session(of agentID: String) -> Session? { sessions[agentID] }

    func isOnline(_ agentID: String) -> Bool { sessions[agentID] != nil }

    var onlineAgentIDs: [String] { Array(sessions.keys) }

    func status(of agentID: String) -> AgentStatus? { status[agentID] }

    /// Makes `session` the agent's live one; the caller then ends the one it replaces.
    mutating func authenticated(agentID: String, session: Session, remote: String, now: Date) {
        sessions[agentID] = session
        var entry = status[agentID] ?? AgentStatus()
        entry.lastSeen = now
        entry.remoteAddress = remote
        status[agentID] = entry
    }

    /// True if `session` was the agent's live one (a replaced session's end changes nothing).
    mutating func closed(agentID: String, session: Session, now: Date) -> Bool {
        guard sessions[agentID] === session else { return false }
        sessions[agentID] = nil
        status[agentID]?.lastSeen = now
        return true
    }

    mutating func seen(agentID: String, session: Session, now: Date) {
        guard sessions[agentID] === session else { return }
        status[agentID, default: AgentStatus()].lastSeen = now
    }

    mutating func recordInfo(agentID: String, software: String, buildTarget: String, serial: String, mac: String, model: String) {
        var entry = status[agentID, default: AgentStatus()]
        entry.software = software
        entry.buildTarget = buildTarget
        entry.serial = serial.isEmpty ? nil : serial
        entry.mac = mac.isEmpty ? nil : mac
        entry.model = model.isEmpty ? nil : model
        status[agentID] = entry
    }

    /// Keeps the latest AGENT_STATS; returns the report it replaces.
    mutating func recordStats(agentID: String, report: StatsReport, now: Date) -> StatsReport? {
        let previous = status[agentID]?.stats?.report
        status[agentID, default: AgentStatus()].stats = ReceivedStats(report: report, receivedAt: now)
        return previous
    }
}
