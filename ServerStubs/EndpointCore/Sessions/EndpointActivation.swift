import CamNIO
import CamProtocol
import Foundation
import NIOCore
import ServerMetrics

/// Monotonic seconds for the failure limiter (never the wall clock: a clock
/// step must not lift or stretch a block).
func monotonicSeconds() -> Double {
    Double(NIODeadline.now().uptimeNanoseconds) / 1e9
}

/// The link state machine's view of the running endpoint.
struct LiveDirectory: EndpointDirectory {
    let state: EndpointState

    func verifier(agentID: String) -> [UInt8]? { state.verifier(for: agentID) }

    func revocation(agentID: String) -> Revocation? {
        state.registry.revocation(ofAgent: agentID)
    }

    func activationVerifier(serial: String) -> [UInt8]? {
        state.registry.activationVerifier(serial: serial)
    }

    func block(for subject: AttemptSubject) -> FailureLimiter.Block? {
        state.admission.failures.block(for: subject, now: monotonicSeconds())
    }

    func randomBytes(_ count: Int) -> [UInt8] { state.randomBytes(count) }
}

/// Activation, revocation, clone detection and failure accounting: the parts of
/// the endpoint's state that issue 3 added. All on the endpoint's event loop.
extension EndpointState {
    func attemptFailed(_ subject: AttemptSubject) {
        let now = monotonicSeconds()
        let wasBlocked = admission.failures.block(for: subject, now: now)
        admission.failures.recordFailure(subject, now: now)
        if wasBlocked == nil, let block = admission.failures.block(for: subject, now: now) {
            let what = block == .address ? "address \(subject.address)" : subject.description
            ServerLog.warn(component, "too many failed attempts: refusing \(what) for \(Int(admission.failures.retryAfter(subject, now: now).rounded(.up))) s")
        }
    }

    /// A correct AUTH_PROOF: not a guessing attempt. (The clone check is the
    /// store's, in claimSession: it sees sessions at every endpoint.)
    func authenticationSucceeded(agentID: String, host: String) {
        eventLoop.preconditionInEventLoop()
        admission.failures.recordSuccess(AttemptSubject(kind: .agent, id: agentID, host: host), now: monotonicSeconds())
    }

    /// Decides an activation whose proof was correct, in one store transaction
    /// (SQLRegistryStore.activate), before the unit hears of its new identity.
    /// A store that cannot be reached refuses it, retryably: never hand out a
    /// key the registry does not know, or the unit would be locked out.
    func activate(_ request: ActivationRequest, subject: AttemptSubject, remote: String) -> EventLoopFuture<ActivationOutcome> {
        eventLoop.preconditionInEventLoop()
        // The proof was right: whatever follows, this is not a guessing attempt.
        admission.failures.recordSuccess(subject, now: monotonicSeconds())
        // A unit that confirmed a reset activates again while its old session
        // may still look online: that once is not a clone.
        let afterReset = admission.resetAllowances.consume(serial: request.serial, now: monotonicSeconds())
        let onlineHere = registry.units[request.serial].map { isOnline($0.agentID) } ?? false
        let presence = PresenceContext(endpointID: settings.endpointID, remoteHost: HostPort(remote)?.host ?? remote, now: unixNow())
        // No login deadline here, unlike claimSession: an activation the store
        // recorded after we gave up would leave the unit's new key unknown to
        // it. A known outage still refuses at once.
        if let problem = registryProblem {
            return eventLoop.makeSucceededFuture(.refused(code: .internalError, text: "activation could not be recorded; retry later",
                                                          reason: "unit \(request.serial): registry unavailable (\(problem))"))
        }
        let newKey = randomBytes(32)
        let at = isoTimestamp()
        return registryWorker.run(on: eventLoop) { store in
            try store.activate(request, newKey: newKey, at: at, presence: presence, onlineHere: onlineHere, afterReset: afterReset)
        }.map { change -> ActivationOutcome in
            self.registry.merge(change.records)
            if afterReset, case .issued(let agentID, _, _) = change.result {
                ServerLog.info(component, "\(remote): unit \(request.serial) re-activates after its reset")
                self.session(of: agentID)?.closeQuietly(reason: "the unit re-activated after its reset")
            }
            return change.result
        }.recover { error in
            self.registryFailed(error)
            ServerLog.error(component, "\(remote): unit \(request.serial): activation not recorded: \(error)")
            return .refused(code: .internalError, text: "activation could not be recorded; retry later",
                            reason: "unit \(request.serial): registry unavailable")
        }
    }

    /// Ends the live sessions of agents the registry now says are revoked
    /// (a `camagent-endpoint revoke` from another process).
    func closeRevokedSessions() {
        for agentID in onlineAgentIDs {
            guard let revocation = registry.revocation(ofAgent: agentID), let session = session(of: agentID) else { continue }
            ServerLog.warn(component, "agent \(agentID) revoked (\(bounded(revocation.reason))): closing its session from \(session.remote)")
            session.closeWithError(.revoked, revocation.errorText)
        }
    }

    enum RevocationError: Error {
        case unknownAgent
        case registryUnwritable(String)
    }

    /// Operator revocation (admin API): persist, then close the live session with
    /// ERROR(revoked). Other endpoints close theirs at their next refresh
    /// (within a second) and refuse the agent at its next login. The future
    /// tells whether a session here was closed.
    func revoke(agentID: String, reason: String) -> EventLoopFuture<Bool> {
        eventLoop.preconditionInEventLoop()
        let at = isoTimestamp()
        return registryWorker.run(on: eventLoop) { store in
            try store.revoke(agentID: agentID, reason: reason, at: at)
        }.flatMapErrorThrowing { error in
            throw RevocationError.registryUnwritable("\(error)")
        }.flatMapThrowing { change in
            guard change.result != .unknown else { throw RevocationError.unknownAgent }
            EndpointMetrics.revocation(.revoke)
            self.registry.merge(change.records)
            self.publishRevokedSet()
            ServerLog.warn(component, "agent \(agentID) revoked by operator: \(bounded(reason))")
            guard let session = self.session(of: agentID) else { return false }
            session.closeWithError(.revoked, Revocation(reason: reason, at: nil).errorText)
            return true
        }
    }

    func unrevoke(agentID: String) -> EventLoopFuture<Void> {
        eventLoop.preconditionInEventLoop()
        return registryWorker.run(on: eventLoop) { store in
            try store.unrevoke(agentID: agentID)
        }.flatMapErrorThrowing { error in
            throw RevocationError.registryUnwritable("\(error)")
        }.flatMapThrowing { change in
            guard change.result != .unknown else { throw RevocationError.unknownAgent }
            EndpointMetrics.revocation(.unrevoke)
            self.registry.merge(change.records)
            self.publishRevokedSet()
            if change.result == .changed { ServerLog.info(component, "agent \(agentID): revocation lifted by operator") }
        }
    }
}
