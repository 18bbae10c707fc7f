import CamNIO
import CamProtocol
import Foundation
import NIOCore
import ServerMetrics

/// The endpoint's side of the shared registry: keeping its copy current,
/// presence rows for its sessions, and what happens while the store is away.
/// All on the endpoint's event loop; the store itself runs on RegistryWorker.
extension EndpointState {
    /// Brings the copy up to date: one cheap query for the generation, and a
    /// full load only when another endpoint or a CLI command changed something.
    /// Called before every login step that reads the registry, so a unit
    /// activated or revoked elsewhere is known here at its next login.
    /// Requests that arrive while a refresh runs share the next one, which
    /// starts after it: none is answered by a read older than itself.
    public func refreshRegistry() -> EventLoopFuture<Void> {
        eventLoop.preconditionInEventLoop()
        guard refreshInFlight != nil else { return startRefresh() }
        if let queued = refreshQueued { return queued.futureResult }
        let queued = eventLoop.makePromise(of: Void.self)
        refreshQueued = queued
        return queued.futureResult
    }

    /// How long a login waits for the registry: well inside the agent's 10 s
    /// handshake deadline, so a hung database gives a retryable refusal (and
    /// the agent backs off) rather than a handshake timeout.
    static let loginRegistryWait: TimeAmount = .seconds(3)

    /// The refresh a login needs. While the registry is known to be away the
    /// login is refused at once: queuing it behind the watch's own probe (which
    /// may wait 5 s for a hung server) would only hold the agent's socket.
    func refreshForLogin() -> EventLoopFuture<Void> {
        eventLoop.preconditionInEventLoop()
        if let problem = registryProblem { return eventLoop.makeFailedFuture(RegistryUnavailable(problem)) }
        return boundedForLogin(refreshRegistry(), while: "refreshing the registry")
    }

    /// `future`, or a RegistryUnavailable after loginRegistryWait. The work
    /// itself goes on (a late presence row is harmless: its lease runs out).
    func boundedForLogin<T>(_ future: EventLoopFuture<T>, while what: String) -> EventLoopFuture<T> {
        let promise = eventLoop.makePromise(of: T.self)
        var settled = false
        let timer = eventLoop.scheduleTask(in: Self.loginRegistryWait) {
            guard !settled else { return }
            settled = true
            let error = RegistryUnavailable("no answer within \(Self.loginRegistryWait.nanoseconds / 1_000_000_000) s while \(what) for a login")
            self.registryFailed(error)
            promise.fail(error)
        }
        future.hop(to: eventLoop).whenComplete { result in
            guard !settled else { return }
            settled = true
            timer.cancel()
            promise.completeWith(result)
        }
        return promise.futureResult
    }

    private func startRefresh() -> EventLoopFuture<Void> {
        let cached = registryGeneration
        let refresh = registryWorker.run(on: eventLoop) { store -> (registry: Registry, generation: Int64)? in
            try store.prepare()
            if let cached, try store.generation() == cached { return nil }
            return try store.snapshot()
        }.map { loaded -> Void in
            if let loaded { self.adopt(loaded.registry, generation: loaded.generation) }
            self.registryAnswered()
        }
        refreshInFlight = refresh
        refresh.whenComplete { result in
            if case .failure(let error) = result { self.registryFailed(error) }
            self.refreshInFlight = nil
            if let queued = self.refreshQueued {
                self.refreshQueued = nil
                self.startRefresh().cascade(to: queued)
            }
        }
        return refresh
    }

    private func adopt(_ loaded: Registry, generation: Int64) {
        let first = registryGeneration == nil
        registry = loaded
        registryGeneration = generation
        if first {
            ServerLog.info(component, "registry \(registryWorker.store.displayName): \(loaded.agents.count) agents, \(loaded.units.count) units")
        } else {
            ServerLog.debug(component, "registry changed (generation \(generation)); reloaded \(loaded.agents.count) agents")
        }
        closeRevokedSessions()
        publishRevokedSet()
        loadViewerKeys()
        loadCameraMedia()
    }

    /// Reads every camera target's media settings and hands them to the hub,
    /// which sends them down every streampoint channel if they changed. Runs
    /// after every reload, so a change made by the CLI or another endpoint is
    /// picked up within the 1 s watch. Logs counts only: they hold passwords.
    func loadCameraMedia() {
        guard let streampointHub, let store = registryWorker.store as? CameraMediaStore else { return }
        registryWorker.run(on: eventLoop) { _ in try store.cameraMediaSettings() }.whenComplete { result in
            switch result {
            case .success(let records):
                let before = streampointHub.cameraMedia?.count
                streampointHub.publishCameraMedia(records.map(\.settings))
                if before != records.count {
                    ServerLog.info(component, "camera media settings: \(records.count) target(s), \(records.filter { $0.settings.credentials != nil }.count) with credentials")
                }
            case .failure(let error):
                self.registryFailed(error)
            }
        }
    }

    /// Reads the viewer-token keys (making the first one on a fresh registry)
    /// and hands them to the hub: they sign tokens issued here and go down
    /// every streampoint channel. Runs after every reload, so a rotation made
    /// by the CLI or another endpoint is picked up within the 1 s watch.
    func loadViewerKeys() {
        guard let streampointHub, let store = registryWorker.store as? ViewerKeyStore else { return }
        let at = isoTimestamp()
        registryWorker.run(on: eventLoop) { _ in
            try store.ensureViewerTokenKey(secret: ViewerKeys.newSecret(), at: at)
        }.whenComplete { result in
            switch result {
            case .success(let records):
                let before = streampointHub.viewerKeys?.first?.id
                streampointHub.publishViewerKeys(records.map(\.key))
                if let newest = records.first?.key.id, newest != before {
                    ServerLog.info(component, "viewer tokens are signed with key \(newest) (\(records.count) key(s) accepted)")
                }
            case .failure(let error):
                self.registryFailed(error)
            }
        }
    }

    /// Hands the streampoints the full set of revoked agents (agents revoked
    /// themselves or through their unit); the hub sends it only if it changed.
    /// Runs after every reload, so a revocation made at another endpoint sharing
    /// the registry reaches this endpoint's streampoints within the 1 s watch.
    func publishRevokedSet() {
        guard let streampointHub else { return }
        var revoked = Set<String>()
        for agent in registry.agents.values where registry.revocation(ofAgent: agent.id) != nil { revoked.insert(agent.id) }
        for unit in registry.units.values where registry.revocation(of: unit) != nil { revoked.insert(unit.agentID) }
        streampointHub.publishRevoked(Array(revoked))
    }

    private func registryAnswered() {
        EndpointMetrics.registryAnswers(true)
        if let problem = registryProblem {
            registryProblem = nil
            ServerLog.info(component, "registry \(registryWorker.store.displayName) answers again (was: \(problem)); logins resume")
        }
    }

    /// Logged once per outage, not once per login.
    func registryFailed(_ error: Error) {
        EndpointMetrics.registryAnswers(false)
        let problem = "\(error)"
        if registryProblem == nil {
            ServerLog.error(component, "registry unavailable: \(problem); logins are refused (retry later) until it answers, agents online stay online")
        }
        registryProblem = problem
    }

    /// Every second: pick up changes made elsewhere (a revocation then closes
    /// the live session here). Every PresenceRecord.renewSeconds: renew the
    /// leases of this endpoint's sessions.
    public func startRegistryWatch() {
        eventLoop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { [weak self] _ in
            _ = self?.refreshRegistry()
            // The first key read failed (registry away at start): try again until it works.
            if let self, let hub = streampointHub, hub.viewerKeys == nil, registryGeneration != nil { loadViewerKeys() }
            if let self, let hub = streampointHub, hub.cameraMedia == nil, registryGeneration != nil { loadCameraMedia() }
        }
        let renew = TimeAmount.seconds(PresenceRecord.renewSeconds)
        eventLoop.scheduleRepeatedTask(initialDelay: renew, delay: renew) { [weak self] _ in
            guard let self else { return }
            let endpointID = settings.endpointID
            registryWorker.run(on: eventLoop) { store in
                try store.renewPresence(endpointID: endpointID, now: unixNow())
            }.whenFailure { error in self.registryFailed(error) }
        }
    }

    /// A login whose proof was right: the store checks the revocation (made at
    /// any endpoint), looks for the same agent online from elsewhere, and
    /// records this session's presence.
    func claimSession(agentID: String, host: String, remote: String) -> EventLoopFuture<SessionClaim> {
        eventLoop.preconditionInEventLoop()
        if let problem = registryProblem { return eventLoop.makeFailedFuture(RegistryUnavailable(problem)) }
        let context = PresenceContext(endpointID: settings.endpointID, remoteHost: host, now: unixNow())
        let claim = registryWorker.run(on: eventLoop) { store in
            try store.claimSession(agentID: agentID, presence: context)
        }
        return boundedForLogin(claim, while: "claiming the session of \(agentID)").map { change in
            self.registry.merge(change.records)
            if let clone = change.result.cloneOf {
                let place = clone.endpointID == self.settings.endpointID ? "here" : "at endpoint \(clone.endpointID)"
                ServerLog.warn(component, "agent \(agentID) authenticated from \(remote) while online \(place) from \(clone.remoteHost): two units with one identity? clone suspected")
            }
            return change.result
        }
    }

    func releasePresence(of agentID: String) {
        let endpointID = settings.endpointID
        registryWorker.run(on: eventLoop) { store in
            try store.releasePresence(agentID: agentID, endpointID: endpointID)
        }.whenFailure { error in
            // The lease runs out on its own.
            ServerLog.debug(component, "agent \(agentID): presence not released: \(error)")
        }
    }

    /// Graceful stop: this endpoint's agents are online nowhere until they log in elsewhere.
    public func releaseAllPresence() -> EventLoopFuture<Void> {
        let endpointID = settings.endpointID
        return registryWorker.run(on: eventLoop) { store in try store.releaseAllPresence(endpointID: endpointID) }
    }
}

/// Unix seconds, for presence leases (wall clock: leases are compared across hosts).
func unixNow() -> Int64 {
    Int64(Date().timeIntervalSince1970)
}
