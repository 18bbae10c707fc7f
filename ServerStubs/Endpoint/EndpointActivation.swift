import CamNIO
import CamProtocol
import Foundation
import NIOCore

/// Monotonic seconds for the failure limiter (never the wall clock: a clock
/// step must not lift or stretch a block).
func monotonicSeconds() -> Double {
    Double(NIODeadline.now().uptimeNanoseconds) / 1e9
}

/// Wall-clock time for the registry (lastActivation, revocations).
func isoTimestamp(_ date: Date = Date()) -> String {
    let f = ISO8601DateFormatter()
    f.formatOptions = [.withInternetDateTime]
    return f.string(from: date)
}

/// The link state machine's view of the running endpoint.
struct LiveDirectory: EndpointDirectory {
    let state: EndpointState

    func verifier(agentID: String) -> [UInt8]? { state.verifier(for: agentID) }

    func revocation(agentID: String) -> Revocation? {
        state.refreshRegistryIfChanged()
        return state.registry.revocation(ofAgent: agentID)
    }

    func activationVerifier(serial: String) -> [UInt8]? {
        state.refreshRegistryIfChanged()
        return state.registry.activationVerifier(serial: serial)
    }

    func block(for subject: AttemptSubject) -> FailureLimiter.Block? {
        state.failureLimiter.block(for: subject, now: monotonicSeconds())
    }

    func randomBytes(_ count: Int) -> [UInt8] { state.randomBytes(count) }
}

/// Activation, revocation, clone detection and failure accounting: the parts of
/// the endpoint's state that issue 3 added. All on the endpoint's event loop.
extension EndpointState {
    func attemptFailed(_ subject: AttemptSubject) {
        let now = monotonicSeconds()
        let wasBlocked = failureLimiter.block(for: subject, now: now)
        failureLimiter.recordFailure(subject, now: now)
        if wasBlocked == nil, let block = failureLimiter.block(for: subject, now: now) {
            let what = block == .address ? "address \(subject.address)" : subject.description
            ServerLog.warn(component, "too many failed attempts: refusing \(what) for \(Int(failureLimiter.retryAfter(subject, now: now).rounded(.up))) s")
        }
    }

    /// A correct AUTH_PROOF (before the session is registered). A second address
    /// taking over a live session of the same agent marks its unit as a
    /// suspected clone; the newer session still replaces the older one.
    func authenticationSucceeded(agentID: String, host: String, remote: String) {
        eventLoop.preconditionInEventLoop()
        let subject = AttemptSubject(kind: .agent, id: agentID, host: host)
        failureLimiter.recordSuccess(subject, now: monotonicSeconds())
        guard let old = session(of: agentID) else { return }
        let oldHost = HostPort(old.remote)?.host ?? old.remote
        guard FailureLimiter.addressKey(host: oldHost) != subject.address else { return }
        ServerLog.warn(component, "agent \(agentID) authenticated from \(remote) while online from \(old.remote): two units with one identity? clone suspected")
        var updated = registry
        if updated.flagClone(agentID: agentID) {
            do { try commitRegistry(updated) } catch { ServerLog.error(component, "cannot record the clone suspicion: \(error)") }
        }
    }

    /// Decides an activation whose proof was correct (Registry.activate), issues
    /// the key and saves the registry before the unit hears of its new identity.
    func activate(_ request: ActivationRequest, subject: AttemptSubject, remote: String) -> ActivationOutcome {
        eventLoop.preconditionInEventLoop()
        refreshRegistryIfChanged()
        // The proof was right: whatever follows, this is not a guessing attempt.
        failureLimiter.recordSuccess(subject, now: monotonicSeconds())
        // A unit that confirmed a reset activates again while its old session
        // may still look online: that once is not a clone.
        let afterReset = resetAllowances.consume(serial: request.serial, now: monotonicSeconds())
        var updated = registry
        let outcome = updated.activate(request, newKey: randomBytes(32), isOnline: { !afterReset && self.isOnline($0) },
                                       at: isoTimestamp())
        if updated != registry {
            do {
                try commitRegistry(updated)
            } catch {
                ServerLog.error(component, "\(remote): unit \(request.serial): cannot save the registry: \(error)")
                if case .issued = outcome {
                    // Never hand out a key the registry does not know: the unit would be locked out.
                    return .refused(code: .internalError, text: "activation could not be recorded; retry later",
                                    reason: "unit \(request.serial): registry not saved")
                }
            }
        }
        if afterReset, case .issued(let agentID, _, _) = outcome {
            ServerLog.info(component, "\(remote): unit \(request.serial) re-activates after its reset")
            session(of: agentID)?.closeQuietly(reason: "the unit re-activated after its reset")
        }
        return outcome
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
    /// ERROR(revoked). Returns whether a session was closed.
    func revoke(agentID: String, reason: String) throws -> Bool {
        eventLoop.preconditionInEventLoop()
        refreshRegistryIfChanged()
        var updated = registry
        switch updated.revoke(agentID: agentID, reason: reason, at: isoTimestamp()) {
        case .unknown:
            throw RevocationError.unknownAgent
        case .unchanged:
            break
        case .changed:
            do { try commitRegistry(updated) } catch { throw RevocationError.registryUnwritable("\(error)") }
        }
        ServerLog.warn(component, "agent \(agentID) revoked by operator: \(bounded(reason))")
        guard let session = session(of: agentID) else { return false }
        session.closeWithError(.revoked, Revocation(reason: reason, at: nil).errorText)
        return true
    }

    func unrevoke(agentID: String) throws {
        eventLoop.preconditionInEventLoop()
        refreshRegistryIfChanged()
        var updated = registry
        switch updated.unrevoke(agentID: agentID) {
        case .unknown:
            throw RevocationError.unknownAgent
        case .unchanged:
            return
        case .changed:
            do { try commitRegistry(updated) } catch { throw RevocationError.registryUnwritable("\(error)") }
            ServerLog.info(component, "agent \(agentID): revocation lifted by operator")
        }
    }

    /// Checks the registry file once a second, so a revocation or unit import by
    /// another process takes effect without waiting for the next login.
    func startRegistryWatch() {
        eventLoop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { [weak self] _ in
            self?.refreshRegistryIfChanged()
        }
    }
}
