import ArgumentParser
import CamNIO
import CamProtocol
import Foundation
import NIOCore
import NIOPosix
import ServerMetrics
import StreampointCore

struct StreampointCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "camagent-streampoint",
        abstract: "The camagent streaming server: lets ordinary video clients reach cameras behind NAT.",
        discussion: """
            Cameras running camagent never accept connections: they dial out. The
            management server (camagent-endpoint) gives each camera a short-lived
            ticket naming this streampoint (--id), signed with a key only the endpoint
            and its streampoints share (--ticket-key-file). The camera connects to
            --listen, presents the ticket and announces its local targets, e.g.
            "rtsp" = 127.0.0.1:554 and "http" = 127.0.0.1:80 on the camera.

            How a viewer reaches a camera:
              1. For every target of a registered camera the streampoint opens a
                 viewer port on --viewer-bind and prints one line to stdout:
                   streampoint: agent cam-0001 target rtsp at rtsp://127.0.0.1:40123/
                 (the same URLs are listed by GET /agents on the admin API).
              2. Point any ordinary client at that address: ffplay, ffprobe, VLC,
                 curl. Add the camera's own path and a viewer token for that camera
                 and target, e.g. rtsp://…:40123/stream1?token=T or
                 http://…:40124/snapshot.jpg?token=T.
                 The streampoint reads the connection's first request (at most
                 16 KiB within 10 s) and checks its token: the URL's token=, else
                 Authorization: Bearer T, else (HTTP) the cookie it set on the
                 first response of an admitted connection (HttpOnly,
                 SameSite=Strict), so that a camera's web pages load their images
                 and scripts too. It takes the token out before the request goes
                 on; only the first request of each connection is read, the rest
                 is spliced untouched. Missing or bad token: 401, no tunnel.
                 Targets named neither http nor rtsp (raw TCP) get no viewer port.
                 --passthrough-open admits anyone, raw TCP included (lab use; it
                 is required without --endpoint-api, which brings the token keys).
              3. For each admitted viewer connection the streampoint asks the camera
                 (TUNNEL_OPEN on its control link) to connect to the target locally
                 and to open a new data connection back to --listen. The bytes are
                 then spliced both ways, with flow control, so the viewer talks to
                 the camera's RTSP or HTTP server as if it were local. Bytes the
                 viewer sends first (an RTSP OPTIONS, say) wait at most 64 KiB and
                 10 s for the camera.
            TLS (--tls-cert and --tls-key, PEM, both or neither): every agent link on
            --listen (control and tunnel data links) speaks TLS 1.2 or later. The
            endpoint must then name this streampoint as ID=tls://HOST:PORT, where HOST
            is a DNS name in this certificate: agents verify the certificate against
            it and the CA flashed into them. A failed TLS handshake is logged with the
            client's address and closes only that connection; the 10 s handshake
            deadline covers TLS too. Without both options agent links are plain TCP,
            for lab use only (logged at startup). The passthrough viewer ports and the
            admin API are always plain; for the media ports see --viewer-tls-cert.

            Media server (--rtsp and --web; they need the streampoint channel, see
            below): the streampoint pulls each camera target once, through one
            tunnel, and serves every viewer from that copy, starting each at the
            last keyframe:
              rtsp://RTSP/<agent-id>/<target>?token=T        VLC, ffplay, NVRs (TCP)
              http://WEB/play/<agent-id>/<target>?token=T    player page (browsers)
              ws://WEB/live/<agent-id>/<target>?token=T      fMP4 over WebSocket
            With --viewer-tls-cert and --viewer-tls-key (PEM, both or neither) those
            two ports speak TLS only: rtsps://RTSP/…, https://WEB/play/… and
            wss://WEB/live/… (a plain client there is refused by the failed
            handshake; a handshake must finish within 10 s).
            T is a viewer token from the endpoint (POST /api/agents/<id>/viewer-token),
            checked here with the keys the channel brings; without a valid token
            for that camera and target a viewer gets 401. The pull stops
            --pull-linger seconds after the last viewer leaves and reconnects with
            backoff if the camera drops while viewers remain. A viewer that falls
            behind skips to the next keyframe; it never slows the others.
            docs/MEDIA.md has the details.

            When a camera disconnects, its viewer ports close; running tunnels end
            on their own. The URLs use --public-host, so set it to the name viewers
            use when --viewer-bind is 0.0.0.0.

            stdout carries only the lines scripts parse:
              streampoint: agents listening on HOST:PORT
              streampoint: admin listening on HOST:PORT
              streampoint: rtsp listening on HOST:PORT     (with --rtsp)
              streampoint: web listening on HOST:PORT      (with --web)
              streampoint: agent <agent-id> target <name> at <url>
            Logs go to stderr. Tickets, tunnel bind tokens and viewer tokens are never logged.

            Admin API (JSON): GET /health, /agents, /agents/<id>, /tunnels.
            GET /metrics answers in the Prometheus text format: agents registered,
            registrations, tunnels open, total and failed by reason, bytes to and
            from viewers, viewers, handshake durations (docs/METRICS.md). Neither
            it nor the JSON API asks for a token: bind --admin to a private address.

            Streampoint channel (--endpoint-api and --endpoint-token-file): one
            WebSocket to the endpoint's API, GET /api/streampoint-channel with the
            token made by `camagent-endpoint token add --role streampoint`. Up go
            hello and this streampoint's load every 5 s; down comes the set of
            revoked agents. An agent in that set loses its control link (ERROR
            revoked), every tunnel and viewer connection and its viewer ports at
            once, and its STREAM_REGISTER is refused with ERROR revoked until the
            endpoint lifts the revocation. Endpoints are tried in the order given;
            a lost channel is redialled with backoff (1 s to 30 s, with jitter),
            the next endpoint on each failure, and the last revoked set stays in
            force meanwhile. Without --endpoint-api there is no channel: a revoked
            agent keeps its session until it drops.

            Example:
              camagent-streampoint --id sp1 --ticket-key-file /etc/camagent/ticket.key \\
                  --tls-cert /etc/camagent/sp1.pem --tls-key /etc/camagent/sp1.key \\
                  --listen 0.0.0.0:7100 --viewer-bind 0.0.0.0 \\
                  --public-host sp1.example.net --viewer-port-base 20000 \\
                  --endpoint-api http://ep1.example.net:7001 --endpoint-token-file /etc/camagent/sp1.token
              curl -s http://127.0.0.1:7101/agents
              ffplay -rtsp_transport tcp "rtsp://sp1.example.net:20000/stream1?token=T"
            """
    )

    @Option(help: "This streampoint's id; tickets must name it.")
    var id: String = "sp1"

    @Option(help: ArgumentHelp("Address agents connect to (port 0 = pick a free port).", valueName: "host:port"))
    var listen: String = "127.0.0.1:7100"

    @Option(help: ArgumentHelp("Address of the JSON admin API.", valueName: "host:port"))
    var admin: String = "127.0.0.1:7101"

    @Option(help: ArgumentHelp("File with the ticket key in hex, shared with the endpoint (at least 16 bytes).", valueName: "file"))
    var ticketKeyFile: String

    @Option(help: ArgumentHelp("Address the per-target viewer listeners bind.", valueName: "host"))
    var viewerBind: String = "127.0.0.1"

    @Option(help: ArgumentHelp("Host name written into viewer URLs (default: --viewer-bind).", valueName: "host"))
    var publicHost: String?

    @Option(help: ArgumentHelp("First viewer port to use; 0 = ephemeral ports. Otherwise the lowest free port from here upward.", valueName: "n"))
    var viewerPortBase: Int = 0

    @Option(help: ArgumentHelp("Most tunnels (pending and open) at once; more viewers are refused.", valueName: "n"))
    var maxTunnels: Int = 500

    @OptionGroup(title: "Agent links")
    var link: LinkOptions

    @Option(help: ArgumentHelp("Most of the --max-pending links from one IP address, so that one address cannot take every slot and lock other cameras out (cameras behind one NAT share an address: refused ones retry with backoff).", valueName: "n"))
    var maxPendingPerAddress: Int = 32

    @Option(name: .customLong("endpoint-api"),
            help: ArgumentHelp("The endpoint's API for the streampoint channel, http://HOST:PORT; repeat for backups, main first.", valueName: "url"))
    var endpointAPI: [String] = []

    @Option(help: ArgumentHelp("File with the bearer token for the streampoint channel (role streampoint).", valueName: "file"))
    var endpointTokenFile: String?

    @Option(help: ArgumentHelp("Address of the RTSP server that re-serves each camera's single pull: rtsp://HOST:PORT/<agent-id>/<target>?token=T (port 0 = pick a free port).", valueName: "host:port"))
    var rtsp: String?

    @Option(help: ArgumentHelp("Address of the viewers' web port: the player page /play/<agent-id>/<target>?token=T and the fMP4 WebSocket /live/<agent-id>/<target>.", valueName: "host:port"))
    var web: String?

    @Flag(help: ArgumentHelp("Let anyone who reaches a passthrough viewer port in without a viewer token, and give raw TCP targets a port (lab use, logged loudly). Needed without --endpoint-api, which brings the keys tokens are checked with."))
    var passthroughOpen = false

    @Option(help: ArgumentHelp("PEM certificate for the media viewer ports (leaf first, then any intermediates). With --viewer-tls-key, --rtsp speaks rtsps and --web https and wss, TLS only; without both they are plain.", valueName: "file"))
    var viewerTlsCert: String?

    @Option(help: ArgumentHelp("PEM private key of --viewer-tls-cert (unencrypted).", valueName: "file"))
    var viewerTlsKey: String?

    @Option(help: ArgumentHelp("Seconds a camera's pull stays open after its last viewer leaves.", valueName: "seconds"))
    var pullLinger: Double = 20

    @Option(help: ArgumentHelp("KiB of video a media viewer may fall behind before it skips to the next keyframe (at most 600 frames either way).", valueName: "KiB"))
    var viewerQueueKib: Int = 8192

    func validate() throws {
        guard !id.isEmpty else { throw ValidationError("--id must not be empty") }
        guard HostPort(listen) != nil else { throw ValidationError("--listen must be HOST:PORT, got \(listen)") }
        guard HostPort(admin) != nil else { throw ValidationError("--admin must be HOST:PORT, got \(admin)") }
        guard (0...65535).contains(viewerPortBase) else { throw ValidationError("--viewer-port-base must be 0...65535") }
        guard maxTunnels > 0 else { throw ValidationError("--max-tunnels must be positive") }
        guard maxPendingPerAddress > 0 else { throw ValidationError("--max-pending-per-address must be positive") }
        do {
            for url in endpointAPI { _ = try EndpointChannelOptions.channelURL(endpointAPI: url) }
        } catch {
            throw ValidationError("\(error)")
        }
        guard endpointAPI.isEmpty == (endpointTokenFile == nil) else {
            throw ValidationError("--endpoint-api and --endpoint-token-file go together")
        }
        if let rtsp, HostPort(rtsp) == nil { throw ValidationError("--rtsp must be HOST:PORT, got \(rtsp)") }
        if let web, HostPort(web) == nil { throw ValidationError("--web must be HOST:PORT, got \(web)") }
        guard pullLinger >= 0, pullLinger <= 3600 else { throw ValidationError("--pull-linger must be 0...3600 seconds") }
        guard (256...262_144).contains(viewerQueueKib) else { throw ValidationError("--viewer-queue-kib must be 256...262144") }
        do {
            try AgentLinkTLS.checkOptions(certificateFile: viewerTlsCert, keyFile: viewerTlsKey, names: Self.viewerTLSNames)
        } catch {
            throw ValidationError("\(error)")
        }
        if viewerTlsCert != nil && rtsp == nil && web == nil {
            throw ValidationError("--viewer-tls-cert and --viewer-tls-key secure --rtsp and --web: give at least one of them")
        }
        if endpointAPI.isEmpty && !passthroughOpen {
            throw ValidationError("the passthrough viewer ports need viewer tokens, checked with keys from the streampoint channel: give --endpoint-api and --endpoint-token-file, or --passthrough-open to let anyone in without a token (lab use)")
        }
        if (rtsp != nil || web != nil) && endpointAPI.isEmpty {
            throw ValidationError("--rtsp and --web need the streampoint channel (--endpoint-api and --endpoint-token-file): viewer tokens are checked with the keys it brings")
        }
    }

    func run() throws {
        link.startLogging()
        ServerMetrics.bootstrap(.streampoint)
        // A descriptor per agent link and per viewer port: a fleet needs more than the usual 1024.
        OpenFileLimit.raise(to: OpenFileLimit.serverWanted)
        let key: [UInt8]
        let tls: AgentLinkTLS?
        let channelToken: String?
        let viewerTLS: AgentLinkTLS?
        do {
            key = try readHexSecret(path: ticketKeyFile)
            tls = try AgentLinkTLS.load(certificateFile: link.tlsCert, keyFile: link.tlsKey)
            viewerTLS = try AgentLinkTLS.load(certificateFile: viewerTlsCert, keyFile: viewerTlsKey, names: Self.viewerTLSNames)
            channelToken = try endpointTokenFile.map(EndpointChannelOptions.readToken(path:))
        } catch let failure as ValidationFailure {
            throw ValidationError(failure.description)
        }
        let listenAddress = HostPort(listen)!
        let adminAddress = HostPort(admin)!
        do {
            _ = try SocketAddress.makeAddressResolvingHost(viewerBind, port: 0)
        } catch {
            throw ValidationError("--viewer-bind \(viewerBind) is not a usable address: \(error)")
        }

        // One event loop: all state lives on it and needs no locks.
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let loop = group.next()
        var config = StreampointConfig(
            streampointID: id, ticketKey: key, viewerBind: viewerBind, publicHost: publicHost ?? viewerBind,
            viewerPortBase: viewerPortBase, heartbeat: link.heartbeatInterval,
            peerTimeout: link.peerTimeoutInterval, maxTunnels: maxTunnels)
        config.mediaLinger = pullLinger
        config.viewerQueueBytes = viewerQueueKib * 1024
        config.passthroughOpen = passthroughOpen
        let registry = StreampointRegistry(config: config, eventLoop: loop)

        let agents: Channel
        do {
            agents = try bindAgentListener(group: group, address: listenAddress, config: config, registry: registry, tls: tls,
                                           pendingBudget: PendingLinkBudget(limit: link.maxPending, perAddressLimit: maxPendingPerAddress))
        } catch {
            throw ValidationFailure("cannot listen for agents on \(listenAddress): \(error)")
        }
        announceListening("streampoint", "agents", agents)

        let adminChannel: Channel
        do {
            adminChannel = try AdminHTTPServer(group: group) { request in
                StreampointAdminAPI.route(request, registry: registry)
            }.bind(host: adminAddress.host, port: adminAddress.port)
        } catch {
            throw ValidationFailure("cannot listen for the admin API on \(adminAddress): \(error)")
        }
        announceListening("streampoint", "admin", adminChannel)
        AgentLinkTLS.logMode("streampoint", tls)
        if passthroughOpen {
            ServerLog.warn("streampoint", "PASSTHROUGH PORTS ARE OPEN (--passthrough-open): anyone who can reach a viewer port gets into the camera's service without a viewer token, raw TCP targets included; lab use only")
        } else {
            ServerLog.info("streampoint", "passthrough ports of http and rtsp targets need a viewer token (URL query, bearer header or the streampoint's cookie); raw TCP targets get no port")
        }
        ServerLog.info("streampoint", "streampoint \(id) ready; viewer listeners on \(viewerBind)"
            + (viewerPortBase == 0 ? " (ephemeral ports)" : " from port \(viewerPortBase)")
            + ", URLs name \(config.publicHost), at most \(maxTunnels) tunnels")

        let channelTask = startEndpointChannel(token: channelToken, registry: registry)
        let mediaChannels: [Channel]
        do {
            mediaChannels = try bindMediaOutputs(group: group, registry: registry, tls: viewerTLS)
        } catch let failure as ValidationFailure {
            throw failure
        }

        // SIGINT/SIGTERM (swift-service-lifecycle): close the listeners and exit cleanly.
        try? runUntilSignalled([
            ListenerService(channel: agents) {
                ServerLog.info("streampoint", "shutting down")
                agents.close(promise: nil)
            },
            ListenerService(channel: adminChannel) { adminChannel.close(promise: nil) },
        ] + mediaChannels.map { channel in ListenerService(channel: channel) { channel.close(promise: nil) } },
        component: "streampoint")
        agents.close(promise: nil)
        adminChannel.close(promise: nil)
        for channel in mediaChannels { channel.close(promise: nil) }
        channelTask?.cancel()
    }

    static let viewerTLSNames = AgentLinkTLS.OptionNames(
        certificate: "--viewer-tls-cert", key: "--viewer-tls-key", purpose: "the media viewer ports")

    /// The RTSP server and the web port, each optional; both serve from the single pull per camera target.
    private func bindMediaOutputs(group: EventLoopGroup, registry: StreampointRegistry, tls: AgentLinkTLS?) throws -> [Channel] {
        var channels: [Channel] = []
        let outputs = MediaOutputs(registry: registry, tls: tls)
        if let tls {
            let formatter = ISO8601DateFormatter()
            ServerLog.info("streampoint", "media viewer ports use TLS only (rtsps, https, wss) with certificate \(tls.certificateFile) (\(tls.names)), valid \(formatter.string(from: tls.notValidBefore)) to \(formatter.string(from: tls.notValidAfter))")
            if tls.notValidAfter < Date() {
                ServerLog.warn("streampoint", "viewer certificate \(tls.certificateFile) expired at \(formatter.string(from: tls.notValidAfter)); players and browsers will refuse it")
            }
        } else if rtsp != nil || web != nil {
            ServerLog.info("streampoint", "media viewer ports are plain (rtsp, http, ws): no --viewer-tls-cert/--viewer-tls-key")
        }
        if let rtsp, let address = HostPort(rtsp) {
            do {
                let channel = try outputs.bindRTSP(host: address.host, port: address.port).wait()
                announceListening("streampoint", "rtsp", channel)
                // (No "token=" here: log redaction would eat the rest of the line.)
                ServerLog.info("streampoint", "RTSP viewers: \(outputs.rtspScheme)://\(urlHost(channel)):\(channel.localAddress?.port ?? 0)/<agent-id>/<target> with a viewer token")
                channels.append(channel)
            } catch {
                throw ValidationFailure("cannot listen for RTSP viewers on \(address): \(error)")
            }
        }
        if let web, let address = HostPort(web) {
            do {
                let channel = try outputs.bindWeb(host: address.host, port: address.port).wait()
                announceListening("streampoint", "web", channel)
                let base = "\(urlHost(channel)):\(channel.localAddress?.port ?? 0)"
                ServerLog.info("streampoint", "browser viewers: \(outputs.webScheme)://\(base)/play/<agent-id>/<target> with a viewer token (fMP4: \(outputs.webSocketScheme)://\(base)/live/...)")
                channels.append(channel)
            } catch {
                throw ValidationFailure("cannot listen for web viewers on \(address): \(error)")
            }
        }
        return channels
    }

    /// The host viewers use in URLs: --public-host, else the bound address.
    private func urlHost(_ channel: Channel) -> String {
        let host = publicHost ?? channel.localAddress?.ipAddress ?? "?"
        return host.contains(":") ? "[\(host)]" : host
    }

    private func startEndpointChannel(token: String?, registry: StreampointRegistry) -> Task<Void, Never>? {
        guard let token else {
            ServerLog.info("streampoint", "no --endpoint-api: no streampoint channel, so revocations reach this streampoint only when sessions drop")
            return nil
        }
        // validate() checked every URL.
        let urls = endpointAPI.compactMap { try? EndpointChannelOptions.channelURL(endpointAPI: $0) }
        let client = EndpointChannelClient(
            configuration: .init(endpoints: urls, streampointID: id), token: token, registry: registry)
        ServerLog.info("streampoint", "streampoint channel to \(endpointAPI.joined(separator: ", "))")
        return Task { await client.run() }
    }
}

StreampointCommand.main()
