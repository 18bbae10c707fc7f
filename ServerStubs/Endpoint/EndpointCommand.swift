import ArgumentParser
import CamNIO
import CamProtocol
import Dispatch
import EndpointCore
import Foundation
import NIOCore
import NIOPosix
import ServerMetrics

/// The endpoint's log lines carry this; EndpointCore's use the same.
let component = "endpoint"

struct EndpointCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "camagent-endpoint",
        abstract: "The camagent management server: authenticates cameras and tells each one which streampoint to use.",
        discussion: """
            Cameras running camagent dial out to the endpoint (they have no listening
            port of their own). Over one long-lived link per camera the endpoint:
              1. proves mutually with the camera that both know its device key
                 (HMAC challenge-response; the endpoint stores only a verifier
                 derived from the key, never the key);
              2. names the camera's streampoint (streaming server) and hands it a
                 short-lived ticket signed with the ticket key shared with the
                 streampoints, which check tickets without calling the endpoint;
              3. keeps the link alive with heartbeats, and moves the camera to
                 another streampoint the moment an operator asks (admin API);
              4. names a backup streampoint the camera moves to on its own if its
                 streampoint dies, and may push the list of endpoints to use;
              5. keeps each camera's latest report (counters, current streampoint,
                 LAN address) and relays operator commands: disconnect, reboot,
                 reset (admin API).
            A factory-fresh unit first activates: it proves its factory activation
            secret and receives its agent id and a fresh per-device key (`add-unit`,
            `import-units`). An operator can `revoke` an agent.

            The registry (--registry) is a SQLite file, or a PostgreSQL server that
            several endpoints share (main and backup, or any number behind one name).

            Typical use:
              camagent-endpoint enroll --registry registry.sqlite --id cam-1 \\
                  --key-file cam-1.key
              camagent-endpoint serve --registry registry.sqlite --ticket-key-file ticket.key \\
                  --tls-cert endpoint.pem --tls-key endpoint.key \\
                  --streampoint sp1=tls://sp1.example.net:7100 \\
                  --streampoint sp2=tls://sp2.example.net:7100

            Key files hold hex, at least 16 bytes (`openssl rand -hex 32 > cam-1.key`).
            `serve` is the default subcommand. More: `camagent-endpoint help serve`,
            `camagent-endpoint help enroll`, `help add-unit`, `help import-units`,
            `help revoke`, `help unrevoke`, `help import-registry`, `help token`, `help operator`,
            `help camera media`.

            API: everything under http://ADMIN/api/ needs a bearer token made with
              camagent-endpoint token add --registry registry.sqlite --name ops > ops.token
            (role admin by default; role streampoint for a streampoint's channel),
            or a web console session (http://ADMIN/console/, operators made with
              camagent-endpoint operator add --registry registry.sqlite --name alice).
            """,
        subcommands: [Serve.self, Enroll.self, AddUnit.self, ImportUnits.self, Revoke.self, Unrevoke.self, ImportRegistry.self, TokenCommand.self,
                      OperatorCommand.self, ViewerKeyCommand.self, CameraCommand.self],
        defaultSubcommand: Serve.self
    )
}

// MARK: serve

struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the endpoint: accept agent links and serve the token-protected API under /api/.",
        discussion: """
            AGENT LINKS (--listen): agents send `GET /camagent/v1` with `Connection:
            Upgrade`, then framed messages (docs/PROTOCOL.md): HELLO, mutual
            authentication against the registry, then STREAMPOINT_ASSIGN naming a
            streampoint with a signed ticket. Only enrolled agents get in; a newer
            session of an agent replaces the older one. Unauthenticated connections
            must finish the handshake within 10 s (TLS included) and are capped by
            --max-pending. --heartbeat and --peer-timeout are also told to agents
            (AUTH_OK), which use them on their side of the link.

            After AUTH_OK the endpoint sends STREAMPOINT_ASSIGN (main and backup
            streampoint, each with its own ticket) and, with --agent-endpoint,
            CONFIG_PUSH. The agent answers with AGENT_INFO and AGENT_STATS, reports
            again on every streampoint change, every 60 s and when asked, and
            answers commands with COMMAND_RESULT. An agent on a backup endpoint
            checks now and then whether this one answers (HELLO, then close); such
            checks are logged at debug level only and count as no failed attempt.

            TLS (--tls-cert and --tls-key, PEM, both or neither): every agent link
            speaks TLS 1.2 or later; agents check the certificate against the CA
            flashed into them and against the host name in their `endpoint = https://…`.
            A failed TLS handshake (garbage, plain HTTP, a client that refuses the
            certificate) is logged with the client's address and closes only that
            connection. Without both options agent links are plain TCP, for lab use
            only (logged at startup). The API listener (--admin) is always plain HTTP.

            STREAMPOINTS (--streampoint, repeatable; the first is the default):
              ID=HOST:PORT        plain TCP to that streampoint
              ID=tls://HOST:PORT  TLS; the streampoint runs with --tls-cert/--tls-key
            HOST:PORT is the streampoint's agent-facing address (its --listen as
            agents reach it) and goes to agents as given, in STREAMPOINT_ASSIGN.
            With tls:// agents verify the streampoint's certificate against HOST,
            so HOST must be a DNS name in that certificate (e.g. localhost in
            tests), not an IP address.
            Each agent's backup is the --streampoint after its main one, wrapping
            (sp1 -> sp2, sp2 -> sp3, the last -> the first), unless the operator
            chose one; with a single --streampoint there is none. An agent whose
            streampoint dies registers at the backup by itself and reports it.

            ENDPOINT LIST (--agent-endpoint URL, repeatable, main first): the
            endpoints agents should use, possibly including this one, e.g.
              --agent-endpoint https://ep1.example.net:7000 \\
              --agent-endpoint https://ep2.example.net:7000 --main-recheck 300
            Sent in CONFIG_PUSH after every login; agents keep it in their state
            file and try the entries in order when the link drops. An agent on a
            backup endpoint checks every --main-recheck seconds (0: its own
            default) whether the main one answers again, and moves back if so.
            http:// entries reach only agents with allow_plaintext = yes.

            API (--admin), JSON over HTTP (Hummingbird). Everything lives under /api/
            and needs `Authorization: Bearer <token>`; tokens are made with
            `camagent-endpoint token add` (see `help token`) and kept in the registry
            as SHA-256 hashes, so every endpoint sharing the registry accepts them.
            Without a valid token: 401 {"error": …} with WWW-Authenticate: Bearer.
            Roles: an `admin` token opens every route below; a `streampoint` token
            opens only /api/streampoint-channel (403 elsewhere, and an admin token
            gets 403 there). Errors are always JSON {"error": "…"}. The listener is
            plain HTTP: keep it on loopback or a private network (or behind TLS).
              GET  /health                     {"status":"ok"}, no token needed
              curl -H "Authorization: Bearer $(cat ops.token)" http://127.0.0.1:7001/api/agents
              GET  /api/agents                 all enrolled agents, sorted by id:
                                               {id, online, streampoint, backupStreampoint,
                                                currentStreampoint, streampointState,
                                                lastSeen, remoteAddress, software,
                                                buildTarget, serial, mac, model}
                                               streampoint/backupStreampoint: assigned;
                                               currentStreampoint/streampointState: as the
                                               agent last reported (state none, connecting
                                               or registered); serial/mac/model: null for
                                               fixed-identity agents; ?include=stats adds
                                               each one's "stats" (as below)
              GET  /api/agents/ID              one agent (404 if not enrolled), plus
                                               "stats": its latest report or null:
                                               {reason, receivedAt, uptimeSeconds,
                                                secondsSinceChange, endpoint,
                                                streampoint, streampointState,
                                                localAddress, counters:{name: value}}
              POST /api/agents/ID/streampoint  body {"streampoint":"sp2"} or
                                               {"streampoint":"sp2","backup":"sp1"}:
                                               reassign, save to the registry, and if the
                                               agent is online move it at once (it
                                               registers at the new one before leaving
                                               the old one)
              POST /api/agents/ID/revoke       body {"reason":"stolen"}: refuse the agent
                                               from now on (ERROR revoked with the reason,
                                               told only after a correct proof), save, and
                                               close its live session
              POST /api/agents/ID/unrevoke     lift the revocation
              POST /api/agents/ID/viewer-token body {"target":"rtsp","ttl_seconds":3600,
                                               "label":"…"} (ttl 60-86400, default 3600;
                                               label optional): a viewer token for that
                                               camera target, signed offline-checkable
                                               (docs/PROTOCOL.md §16): {token, agent,
                                               target, key_id, label, issued_at,
                                               expires_at, expires_at_unix, streampoint,
                                               urls:{play, live, rtsp}} (paths after the
                                               streampoint's viewer base); 404 unknown
                                               agent, 409 revoked; the token is never
                                               logged (`viewer-key rotate` changes keys)
            Commands to an online agent; each waits up to 5 s for its answer and
            returns {agent, command, ok, message}: 200 done, 502 the agent refused
            (message: its reason), 504 no answer, 409 agent offline, 404 unknown agent:
              POST /api/agents/ID/disconnect   optional body {"seconds":N} (0-3600; 0 = the
                                               agent's short default): it closes every link
                                               and tunnel, stays away N s, reconnects
              POST /api/agents/ID/reboot       the agent runs its reboot_command (502 if it
                                               has none)
              POST /api/agents/ID/reset        the unit drops its issued identity and
                                               activates again at once as its serial (a new
                                               device key; fixed-identity agents refuse)
              POST /api/agents/ID/stats        asks for a fresh report; the answer carries
                                               it as "stats"
              GET  /api/streampoints           each --streampoint and each streampoint
                                               connected over the channel: {id, host, port,
                                               tls, connected, name (its token's),
                                               remoteAddress, connectedAt, load:{agents,
                                               tunnels, viewers, bytesToViewers,
                                               bytesFromViewers} or null, loadReceivedAt}
              GET  /api/streampoint-channel    (streampoint token) the WebSocket a
                                               streampoint keeps here: revocations and
                                               viewer-token keys down, load up
                                               (docs/PROTOCOL.md §15, §16)
              GET  /metrics                    Prometheus text format (agents online,
                                               logins and failures by reason,
                                               activations, commands, handshake and
                                               database latency...; docs/METRICS.md);
                                               no token: bind --admin to a private address
              GET  /api/units                  factory units, sorted by serial: {serial,
                                               agentID, model, mac, state, activations,
                                               lastActivation, cloneSuspected, online,
                                               revoked}; no secrets or verifiers
              POST /api/units                  a provisioning CSV (Content-Type: text/csv,
                                               at most 8 MiB), imported as `import-units`
                                               does, all rows or none: {imported, units}
              GET|PUT|DELETE /api/agents/ID/targets/TARGET/media
                                               how streampoints pull a camera target: PUT
                                               {path, username, password} (password
                                               omitted: the stored one stays); answers
                                               {agent, target, path, username,
                                               hasPassword, updatedAt}, never the
                                               password (`help camera media`)
              GET  /api/audit?limit=N          the audit trail, newest first (N 1-5000,
                                               default 200): {at, actor, action, target,
                                               result}
            Agent views also carry "revoked": {reason, at} or null.
            Every state-changing /api/ request is recorded in the registry's audit
            trail and logged (`audit: NAME ACTION TARGET from ADDRESS: RESULT`), under
            the operator's name or the token's; so are console logins and logouts.
            docs/api/openapi.yaml describes the API.

            WEB CONSOLE: http://ADMIN/console/ on the same listener; its page, script
            and style sheet are built into the binary (nothing comes from the
            internet). Operators are kept in the registry (`camagent-endpoint operator
            add`, see `help operator`; PBKDF2-SHA256, 210,000 rounds). A login sets the
            cookie camagent_session (HttpOnly, SameSite=Strict, Path=/, 12 hours; the
            registry keeps only its SHA-256, so every endpoint sharing the registry
            knows the session). The session opens /api/ like an admin token; every
            state-changing request of a session must also send the session's CSRF
            token in X-CSRF-Token, else 403. Failed logins: 5 for one name or 20 from
            one address within 60 s refuse further logins (429, Retry-After) for 60 s.
              POST /console/login              {"name":"alice","password":"…"} as
                                               application/json: {operator, csrfToken,
                                               expiresAt} and the cookie; 401 if wrong
              GET  /console/session            the same for the cookie sent (401 if none)
              POST /console/logout             ends the session (needs X-CSRF-Token)
            Pages: cameras (filter by state, id, serial, model, firmware, endpoint,
            streampoint, LAN address, last seen, bytes, errors), one camera's report
            and commands (reboot, disconnect, reset, switch streampoint, revoke,
            unrevoke, each showing the COMMAND_RESULT), factory units with the CSV
            upload, streampoints and their load, and the audit trail.

            ACTIVATION (docs/PROTOCOL.md §5.6): a unit added with `add-unit` or
            `import-units` sends ACTIVATE_BEGIN instead of AUTH_BEGIN. After a correct
            proof of its activation secret the endpoint issues a fresh 32-byte device
            key (only its verifier is stored, under the unit's agent id) and closes;
            the unit then logs in with AUTH_BEGIN. Rules, each logged (ERROR code, text):
              unknown serial or wrong proof   authentication-failed, "activation failed"
              revoked unit or agent           revoked, "agent revoked by operator: …"
              agent of that serial online     identity-conflict; unit flagged
                                              cloneSuspected; the online unit stays
              already active, agent offline   re-activation (factory reset): new key, the
                                              old key stops working, activations + 1
              unit confirmed a reset (admin   re-activation, once, within 120 s, even
              POST /api/agents/ID/reset)      if its old session still looks online
            An agent authenticating from a second address while online replaces the
            older session and flags its unit cloneSuspected.

            RATE LIMITS on failed attempts (wrong proofs, unknown ids or serials):
              per agent id or serial  10 failures within 10 s -> refused for 15 s
              per source address      30 failures within 10 s -> refused for 15 s
                                      (IPv6: per /64)
            A refused attempt gets ERROR rate-limited "too many failed attempts; retry
            later" without its proof being checked, and does not lengthen the block.
            The address that last authenticated an id is exempt from that id's block,
            so an attacker elsewhere cannot lock a known agent out. Each table keeps
            at most 4096 entries (expired ones, then the oldest, are dropped).

            REGISTRY (--registry): where agents, factory units, revocations and
            assignments live; `enroll`, `add-unit`, `import-units`, `revoke` and the
            endpoint itself each change it in a transaction of their own, safely while
            endpoints run.
              /var/lib/camagent/registry.sqlite   SQLite (created if missing; WAL, so
                                                  a main and a backup endpoint on one
                                                  host may share the file)
              postgres://USER[:PASSWORD]@HOST[:PORT]/DB
              postgres://USER@/DB?host=/var/run/postgresql   (unix socket)
                                                  PostgreSQL, for endpoints on several
                                                  hosts sharing one registry
            The schema is migrated at start; a registry written by a newer
            camagent-endpoint is refused. Old JSON registries (agents.json) are
            imported once with `import-registry`.
            Endpoints share the registry, not their sessions: each records the agents
            online at it as presence rows with a lease (renewed every 10 s, lapsing
            after 30 s), so a unit activates once even when two endpoints race, a clone
            is seen whichever endpoint it reaches, and a killed endpoint's agents are
            free to log in elsewhere. A change made elsewhere reaches this endpoint's
            copy within a second and at every login (a revocation closes the live
            session). If the registry cannot be reached, agents online stay online
            and new logins are refused with a retryable error until it answers.
            Agents without a streampoint (or with one not given on this command line)
            go to the first --streampoint.

            Once bound, two lines go to stdout (port 0 picks a free port):
              endpoint: agents listening on 127.0.0.1:7000
              endpoint: admin listening on 127.0.0.1:7001
            Logs go to stderr. Keys, verifiers, proofs, nonces and tickets are never logged.

            Example:
              camagent-endpoint serve --registry registry.sqlite --ticket-key-file ticket.key \\
                  --tls-cert endpoint.pem --tls-key endpoint.key \\
                  --streampoint sp1=tls://sp1.example.net:7100 \\
                  --streampoint sp2=tls://sp2.example.net:7100
              camagent-endpoint token add --registry registry.sqlite --name ops > ops.token
              auth="Authorization: Bearer $(cat ops.token)"
              curl -s -H "$auth" http://127.0.0.1:7001/api/agents
              curl -s -H "$auth" -X POST -d '{"streampoint":"sp2"}' \\
                  http://127.0.0.1:7001/api/agents/cam-1/streampoint
              curl -s -H "$auth" -X POST http://127.0.0.1:7001/api/agents/cam-1/stats
              curl -s -H "$auth" -X POST -d '{"seconds":60}' \\
                  http://127.0.0.1:7001/api/agents/cam-1/disconnect
            """
    )

    @Option(help: ArgumentHelp("Address for agent links (port 0 = any free port).", valueName: "host:port"))
    var listen: String = "127.0.0.1:7000"

    @Option(help: ArgumentHelp("Address for /health and the JSON API under /api/ (bearer tokens: `token add`; port 0 = any free port).", valueName: "host:port"))
    var admin: String = "127.0.0.1:7001"

    @Option(help: ArgumentHelp(RegistryLocation.help, valueName: "file|postgres-url"))
    var registry: String

    @Option(help: ArgumentHelp("This endpoint's name in the shared registry's presence rows (default: --name, the host name and a random suffix).", valueName: "id"))
    var endpointId: String?

    @Option(help: ArgumentHelp("File with the hex ticket-signing key shared with all streampoints (at least 16 bytes).", valueName: "file"))
    var ticketKeyFile: String

    @Option(help: ArgumentHelp(
        "A streampoint agents can be sent to: ID=HOST:PORT (plain) or ID=tls://HOST:PORT (TLS; HOST must be a DNS name in its certificate). Its agent-facing address; repeatable, the first is the default.",
        valueName: "id=[tls://]host:port"))
    var streampoint: [String] = []

    @Option(help: ArgumentHelp(
        "An endpoint agents should use, pushed to them after login (CONFIG_PUSH): https://HOST:PORT or http://HOST:PORT. Repeatable (at most 8), the main endpoint first; may include this one. Without it agents keep the endpoints of their config.",
        valueName: "url"))
    var agentEndpoint: [String] = []

    @Option(help: ArgumentHelp(
        "Seconds between an agent's checks, while on a backup endpoint, whether the main --agent-endpoint answers again (0 = the agent's default). Needs --agent-endpoint.",
        valueName: "seconds"))
    var mainRecheck: Int = 0

    @Option(help: ArgumentHelp("How long a streampoint ticket stays valid.", valueName: "seconds"))
    var ticketLifetime: Int = 300

    @Option(help: "Server name sent to agents in HELLO_ACK.")
    var name: String = "endpoint"

    @OptionGroup(title: "Agent links")
    var link: LinkOptions

    func validate() throws {
        do { _ = try RegistryLocation(argument: registry) } catch { throw ValidationError("\(error)") }
        if let endpointId, !Identifier.isValid(endpointId) { throw ValidationError("--endpoint-id must be \(Identifier.rule)") }
        guard HostPort(listen) != nil else { throw ValidationError("--listen \(listen): expected HOST:PORT, e.g. 127.0.0.1:7000") }
        guard HostPort(admin) != nil else { throw ValidationError("--admin \(admin): expected HOST:PORT, e.g. 127.0.0.1:7001") }
        guard !streampoint.isEmpty else {
            throw ValidationError("give at least one --streampoint \(StreampointInfo.syntax) (the first is the default)")
        }
        var seen = Set<String>()
        for text in streampoint {
            let sp: StreampointInfo
            do { sp = try StreampointInfo(argument: text) } catch { throw ValidationError("\(error)") }
            guard seen.insert(sp.id).inserted else { throw ValidationError("--streampoint id \(sp.id) is given twice") }
        }
        guard ticketLifetime >= 1 else { throw ValidationError("--ticket-lifetime must be at least 1 second") }
        guard !name.isEmpty, name.utf8.count <= 255 else { throw ValidationError("--name must be 1 to 255 bytes") }
        do { _ = try AgentEndpointOption.parseList(agentEndpoint) } catch { throw ValidationError("\(error)") }
        guard (0...Int(UInt16.max)).contains(mainRecheck) else {
            throw ValidationError("--main-recheck must be 0 to 65535 seconds (0: the agent's default)")
        }
        guard mainRecheck == 0 || !agentEndpoint.isEmpty else {
            throw ValidationError("--main-recheck is sent with the endpoint list: give --agent-endpoint too")
        }
    }

    func run() throws {
        link.startLogging()
        ServerMetrics.bootstrap(.endpoint)
        // One descriptor per agent link: a fleet needs more than the usual 1024.
        OpenFileLimit.raise(to: OpenFileLimit.serverWanted)
        let listenAddress = HostPort(listen)!
        let adminAddress = HostPort(admin)!
        let streampoints = try streampoint.map { try StreampointInfo(argument: $0) }
        let ticketKey = try readHexSecret(path: ticketKeyFile)
        let tls = try AgentLinkTLS.load(certificateFile: link.tlsCert, keyFile: link.tlsKey)
        let store = try SQLRegistryStore(RegistryLocation(argument: registry))
        do {
            try store.prepare()
        } catch let error as RegistryUnavailable {
            // Never a crash for a database that is away: serve, refuse logins
            // (retryable), and try again every second.
            ServerLog.error(component, "registry unavailable at start: \(error); serving anyway, logins are refused until it answers")
        }
        let registryWorker = RegistryWorker(store: store)
        let endpointID = endpointId ?? Self.defaultEndpointID(name: name)

        // One thread: links, timers and the admin API share the state without locks.
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let agentEndpoints = try AgentEndpointOption.parseList(agentEndpoint)
        let settings = EndpointState.Settings(
            endpointID: endpointID, streampoints: streampoints, ticketKey: ticketKey,
            ticketLifetime: UInt64(ticketLifetime),
            serverName: name, heartbeatSeconds: UInt16(link.heartbeat), peerTimeoutSeconds: UInt16(link.peerTimeout),
            agentEndpoints: agentEndpoints, mainRecheckSeconds: UInt16(mainRecheck), maxPending: link.maxPending)
        let state = EndpointState(eventLoop: loop, settings: settings, registryWorker: registryWorker)
        let hub = StreampointHub()
        state.streampointHub = hub
        // The first copy, bounded: PostgresDatabase.timeout per statement.
        _ = try? loop.flatSubmit { state.refreshRegistry() }.wait()
        ServerLog.info(component, "registry \(store.displayName) (schema \(SQLRegistryStore.schemaVersion)); this endpoint is \(endpointID) in its presence rows")
        state.startRegistryWatch()

        let agentChannel: Channel
        do {
            agentChannel = try ServerBootstrap(group: group)
                .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
                .serverChannelOption(ChannelOptions.backlog, value: 256)
                .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
                .childChannelInitializer { channel in state.initializeAgentLink(channel, tls: tls) }
                .bind(host: listenAddress.host, port: listenAddress.port).wait()
        } catch {
            try? group.syncShutdownGracefully()
            throw ValidationFailure("cannot listen for agents on \(listenAddress): \(error)")
        }
        let tokens = BearerTokenAuthenticator(worker: registryWorker, loop: loop)
        // The admin listener is plain HTTP today; a TLS listener would set secureCookies.
        let console = ConsoleAuthenticator(store: store, secureCookies: false,
                                           logger: ServerLogHandler.logger(component))
        let consoleRoutes = ConsoleRoutes<APIRequestContext>(authenticator: console, remoteHost: { _, context in
            context.remoteAddress.map { FailureLimiter.addressKey(host: $0.ipAddress ?? "\($0)") } ?? "unknown"
        })
        // Bearer tokens first; a console session only for requests without one.
        let api = APIServer(component: component, authenticators: [tokens, ConsoleSessionAuthenticator(routes: consoleRoutes)])
        api.router.add(middleware: APIAuditMiddleware(authenticator: console))
        consoleRoutes.add(to: api.router)
        AuditRoute.add(to: api.router, authenticator: console)
        AdminAPI(state: state, hub: hub).addRoutes(to: api.router)
        ViewerTokenAPI.add(to: api.router, hub: hub) { agentID in try await state.viewerTokenAgent(agentID) }
        CameraMediaAPI.add(to: api.router, worker: registryWorker, loop: loop,
                           agentExists: { agentID in try await state.agentExists(agentID) },
                           changed: { await state.registryChanged() })
        StreampointChannel.install(on: api, hub: hub, tokens: tokens)
        let adminBound: SocketAddress
        do {
            // On SIGINT/SIGTERM: tell online agents the endpoint is going, end the
            // streampoint channels, release this endpoint's presence rows, then close
            // the listener; the HTTP server stops after it.
            let links = ListenerService(channel: agentChannel) { [state, hub, agentChannel] in
                let loop = state.eventLoop
                loop.execute {
                    ServerLog.info(component, "shutting down: closing agent sessions and streampoint channels")
                    state.shutdownSessions()
                    hub.closeAll()
                    _ = state.releaseAllPresence()
                    // Give the ERROR frames a moment to leave before the listener closes.
                    loop.scheduleTask(in: .milliseconds(100)) {
                        agentChannel.close(promise: nil)
                    }
                }
            }
            adminBound = try blockingAwait {
                try await api.start(host: adminAddress.host, port: adminAddress.port, group: group, services: [links],
                                    gracefulShutdownSignals: [.sigterm, .sigint])
            }
        } catch {
            agentChannel.close(promise: nil)
            try? group.syncShutdownGracefully()
            throw ValidationFailure("cannot listen for the admin API on \(adminAddress): \(error)")
        }
        announceListening(component, "agents", agentChannel)
        announceListening(component, "admin", address: adminBound)
        AgentLinkTLS.logMode(component, tls)
        ServerLog.info(component, "streampoints: " + streampoints.map { "\($0.id)=\($0.address)" }.joined(separator: ", ")
                       + " (default \(streampoints[0].id)); heartbeat \(link.heartbeat) s, peer timeout \(link.peerTimeout) s, tickets \(ticketLifetime) s")
        if !agentEndpoints.isEmpty {
            ServerLog.info(component, "pushing endpoint list to agents: "
                           + agentEndpoints.map(AgentEndpointOption.display).joined(separator: ", ")
                           + (mainRecheck > 0 ? "; main rechecked every \(mainRecheck) s" : "; main recheck: the agents' default"))
        }
        for sp in streampoints where sp.tls && sp.hostIsIPAddress {
            ServerLog.warn(component, "streampoint \(sp.id): tls:// with the IP address \(sp.host); agents check the certificate against this name, so use the DNS name in the streampoint's certificate")
        }
        for sp in streampoints where tls != nil && !sp.tls {
            ServerLog.warn(component, "streampoint \(sp.id) at \(sp.address) is plain TCP although agent links here use TLS: tickets go to it unencrypted; use \(sp.id)=tls://HOST:PORT")
        }

        // Until SIGINT/SIGTERM (the agent listener's ListenerService), or the agent listener fails.
        try? blockingAwait { await api.wait() }
        ServerLog.debug(component, "stopped: HTTP server and agent listener")
        // The registry's threads first: a query still waiting on a hung database
        // completes its future on the event loop, which must still be running.
        registryWorker.shutdown()
        try? group.syncShutdownGracefully()
        ServerLog.debug(component, "stopped: registry and event loops")
    }

    static func defaultEndpointID(name: String) -> String {
        var host = [CChar](repeating: 0, count: 256)
        gethostname(&host, host.count - 1)
        let hostName = String(cString: host).filter { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == ".") }
        let suffix = String(UInt32.random(in: .min ... .max), radix: 16)
        let candidate = "\(name)-\(hostName.prefix(30))-\(suffix)"
        return Identifier.isValid(candidate) ? candidate : "endpoint-\(suffix)"
    }
}


// MARK: enroll

struct Enroll: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Add an agent to the registry, or update its key or streampoint.",
        discussion: """
            Reads the agent's device key (the same key the camera holds), derives the
            verifier the endpoint authenticates against, and stores only that verifier
            in the registry. Neither key nor verifier is printed. The change is one
            transaction (a SQLite registry is created if missing); running endpoints
            pick it up within a second.

            Re-enrolling an existing id replaces its verifier; its streampoint is kept
            unless --streampoint is given.

            Example:
              openssl rand -hex 32 > cam-1.key      # the camera gets the same key
              camagent-endpoint enroll --registry registry.sqlite --id cam-1 \\
                  --key-file cam-1.key --streampoint sp1
            Prints `enrolled cam-1`.
            """
    )

    @Option(help: ArgumentHelp(RegistryLocation.help, valueName: "file|postgres-url"))
    var registry: String

    @Option(help: ArgumentHelp("Agent id: 1 to 64 characters of A-Z a-z 0-9 . _ -", valueName: "id"))
    var id: String

    @Option(help: ArgumentHelp("File with the agent's device key as hex (at least 16 bytes).", valueName: "file"))
    var keyFile: String

    @Option(help: ArgumentHelp("Assign this streampoint id (default: the endpoint's first --streampoint).", valueName: "id"))
    var streampoint: String?

    func validate() throws {
        guard Identifier.isValid(id) else { throw ValidationError("--id must be \(Identifier.rule)") }
        if let streampoint, !Identifier.isValid(streampoint) {
            throw ValidationError("--streampoint must be \(Identifier.rule)")
        }
    }

    func run() throws {
        let key = try readHexSecret(path: keyFile)
        let verifier = Authentication.verifier(deviceKey: key, agentID: id)
        try withRegistry(registry) { store in
            _ = try store.enroll(agentID: id, verifierHex: Hex.encode(verifier), streampoint: streampoint)
        }
        print("enrolled \(id)")
    }
}
