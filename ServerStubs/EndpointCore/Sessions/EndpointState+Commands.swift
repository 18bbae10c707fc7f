import CamNIO
import CamProtocol
import Foundation
import NIOCore
import ServerMetrics

/// What an admin request got from the agent.
enum AgentAnswer {
    /// COMMAND_RESULT without an error code.
    case done(message: String)
    /// COMMAND_RESULT with an error code: the agent refused or failed.
    case refused(code: ErrorCode, message: String)
    /// AGENT_STATS after a STATS_REQUEST.
    case stats(StatsReport)
    /// Nothing within the time limit, or the session ended first.
    case noAnswer(String)

    var metricResult: MetricCatalog.CommandResult {
        switch self {
        case .done, .stats: return .ok
        case .refused: return .refused
        case .noAnswer: return .noAnswer
        }
    }
}

/// Why an admin command was not sent.
enum CommandRefusal: Error, Equatable {
    case unknownAgent
    case offline
    /// The pending-command table is full.
    case busy
}

/// Commands and stats requests from the admin API to online agents (COMMAND,
/// STATS_REQUEST) and their answers (COMMAND_RESULT, AGENT_STATS), and the
/// reset hand-over to activation. All on the endpoint's event loop.
extension EndpointState {
    /// Sends COMMAND (or STATS_REQUEST) to the agent's live session; the future
    /// completes with its answer, or `.noAnswer` after `settings.commandTimeout`
    /// or when the session ends first.
    func send(_ awaiting: AwaitedAnswer, to agentID: String, argument: UInt32 = 0)
        -> Result<EventLoopFuture<AgentAnswer>, CommandRefusal>
    {
        eventLoop.preconditionInEventLoop()
        guard registry[agentID] != nil else { return .failure(.unknownAgent) }
        guard let session = session(of: agentID) else {
            EndpointMetrics.command(kind: awaiting.name, result: .offline)
            return .failure(.offline)
        }
        let promise = eventLoop.makePromise(of: AgentAnswer.self)
        guard let commandID = pendingCommands.add(agentID: agentID, awaiting: awaiting, waiter: promise) else {
            EndpointMetrics.command(kind: awaiting.name, result: .busy)
            promise.succeed(.noAnswer("not sent"))
            ServerLog.warn(component, "agent \(agentID): \(awaiting.name) not sent: \(pendingCommands.count) commands already wait for answers")
            return .failure(.busy)
        }
        switch awaiting {
        case .commandResult(let kind):
            ServerLog.info(component, "agent \(agentID): sending command \(kind.name) (id \(commandID)"
                           + (kind == .disconnect ? ", \(argument) s away" : "") + ")")
            session.push(.command(commandID: commandID, kind: kind, argument: argument))
        case .stats:
            ServerLog.debug(component, "agent \(agentID): asking for its stats")
            session.push(.statsRequest)
        }
        let limit = settings.commandTimeout
        eventLoop.scheduleTask(in: limit) { [weak self] in
            guard let self, let entry = self.pendingCommands.remove(commandID: commandID) else { return }
            let seconds = Double(limit.nanoseconds) / 1e9
            ServerLog.warn(component, "agent \(agentID): no answer to \(entry.awaiting.name) within \(seconds) s")
            entry.waiter.succeed(.noAnswer("no answer from the agent within \(seconds) s"))
        }
        promise.futureResult.whenSuccess { EndpointMetrics.command(kind: awaiting.name, result: $0.metricResult) }
        return .success(promise.futureResult)
    }

    /// COMMAND_RESULT from `agentID`. A confirmed reset lets the unit activate
    /// again at once (ResetAllowances), and its old session is closed here so
    /// it does not linger until the peer timeout.
    func commandResultReceived(agentID: String, commandID: UInt32, code: ErrorCode?, message: String) {
        eventLoop.preconditionInEventLoop()
        guard let entry = pendingCommands.resolveCommand(agentID: agentID, commandID: commandID) else {
            ServerLog.debug(component, "agent \(agentID): COMMAND_RESULT for command \(commandID), which nobody waits for (too late?)")
            return
        }
        let what = entry.awaiting.name
        if let code {
            ServerLog.warn(component, "agent \(agentID) refused \(what) (\(code.name)): \(bounded(message))")
            entry.waiter.succeed(.refused(code: code, message: message))
            return
        }
        ServerLog.info(component, "agent \(agentID) confirmed \(what): \(bounded(message))")
        if case .commandResult(.reset) = entry.awaiting {
            allowReactivationAfterReset(agentID: agentID)
        }
        entry.waiter.succeed(.done(message: message))
    }

    /// Called on every AGENT_STATS: answers the stats requests of that agent.
    func answerStatsRequests(of agentID: String) {
        guard let report = status(of: agentID)?.stats?.report else { return }
        for entry in pendingCommands.resolveStats(agentID: agentID) {
            entry.waiter.succeed(.stats(report))
        }
    }

    /// The session ended: nothing it was asked can be answered any more.
    func abandonPendingCommands(of agentID: String) {
        for entry in pendingCommands.removeAll(agentID: agentID) {
            entry.waiter.succeed(.noAnswer("the agent's session closed before it answered"))
        }
    }

    private func allowReactivationAfterReset(agentID: String) {
        guard let unit = registry.unit(agentID: agentID) else {
            ServerLog.warn(component, "agent \(agentID) reset itself, but no factory unit activates as it here; it cannot log in again until one is added (add-unit)")
            session(of: agentID)?.closeQuietly(reason: "the agent reset itself")
            return
        }
        admission.resetAllowances.grant(serial: unit.serial, now: monotonicSeconds())
        ServerLog.info(component, "unit \(unit.serial) (agent \(agentID)) may activate again within \(Int(admission.resetAllowances.lifetime)) s after its reset")
        session(of: agentID)?.closeQuietly(reason: "the agent reset itself and activates again")
    }
}
