// The one pull of one camera target: an RTSP client over one tunnel, opened
// when the first viewer arrives and closed a while after the last one leaves
// (MediaMTX's sourceOnDemand), reconnecting with backoff while viewers stay.
//
// Pure: the streampoint's wiring feeds events in with the monotonic time and
// carries out the returned actions. Nothing here touches a socket or a clock.
//
//     idle --viewer--> connecting --tunnelOpened--> negotiating --PLAY 200--> playing
//     negotiating: OPTIONS, DESCRIBE (401: ask the wiring for an authorizer, retry once),
//                  parse the SDP (by the wiring), SETUP per track, PLAY
//     any failure while wanted --> waitingToRetry --backoff over--> connecting
//     last viewer gone --linger--> TEARDOWN, close, idle
//
// What the wiring must do with the actions:
// - `openTunnel(id)`: open a tunnel to the target; answer `tunnelOpened(id)` or
//   `tunnelFailed(id, reason:)`, and later `tunnelClosed(id, reason:)` if it drops.
// - `send(id, request)`: encode and write it on tunnel `id`; hand every decoded
//   response back as `response(id, _)` and every interleaved packet to the RTP
//   depacketiser of its channel (from `publishTracks`), reporting each
//   completed frame as `frameReceived(id)` before passing it to the fan-out.
// - `needAuthorization(id, challenges:)`: parse the WWW-Authenticate values and
//   build an authorizer from the camera's credentials (held per camera by the
//   servers); answer `authorization(id, authorizer)`, or `authorization(id, nil)`
//   when there are no credentials or no challenge it can meet.
// - `parseDescription(id, sdp:, baseURL:)`: parse the SDP into tracks and their
//   control attributes; answer `descriptionParsed(id, description)` or
//   `descriptionParsed(id, nil)` when it is unusable.
// - `publishTracks(tracks, channels:)`: `MediaFanout.sourceStarted(tracks:)`,
//   then route interleaved channel `rtp` to the depacketiser of `track`.
// - `closeTunnel(id)`: write what is queued (a TEARDOWN may be), then close.
// - `stopped`: the pull is over; nothing is owed.
// - Call `handle(.tick, now:)` at `nextDeadline` (re-read it after every call),
//   and once at creation: an always-on pull starts at its first tick.
// Events naming a connection that is no longer current are ignored, so a late
// close or response of an old tunnel cannot disturb the new one.

/// Builds the Authorization header value for one request. Digest needs the
/// method and URI of each request, so the wiring's value depends on both.
public struct RTSPAuthorizer {
    public let authorization: (_ method: String, _ uri: String) -> String

    public init(_ authorization: @escaping (_ method: String, _ uri: String) -> String) {
        self.authorization = authorization
    }
}

/// What the wiring extracts from the DESCRIBE body (SDP) for the machine.
public struct IngestDescription {
    /// Tracks to pull, in SDP media order; `MediaFrame.track` indexes this.
    public var tracks: [TrackDescription]
    /// Each track's `a=control` value, as written (absolute or relative).
    public var trackControls: [String]
    /// The session-level `a=control`, if any (aggregate control for PLAY).
    public var sessionControl: String?

    public init(tracks: [TrackDescription], trackControls: [String], sessionControl: String? = nil) {
        self.tracks = tracks
        self.trackControls = trackControls
        self.sessionControl = sessionControl
    }
}

/// Where a track's RTP and RTCP arrive on the RTSP connection (`$` channels).
public struct InterleavedChannel: Equatable, Sendable {
    public var track: Int
    public var rtp: UInt8
    public var rtcp: UInt8

    public init(track: Int, rtp: UInt8, rtcp: UInt8) {
        self.track = track
        self.rtp = rtp
        self.rtcp = rtcp
    }
}

public struct IngestStateMachine {
    public struct Configuration {
        /// The camera's RTSP URL as the camera sees it (through the tunnel).
        public var url: String
        public var userAgent = "camagent-streampoint"
        /// How long the pull outlives its last viewer (MediaMTX sourceOnDemandCloseAfter).
        public var linger: Double = 20
        /// Keep pulling with no viewers (recording).
        public var alwaysOn = false
        public var connectTimeout: Double = 10
        /// Each RTSP response, and each answer the wiring owes (authorizer, SDP).
        public var responseTimeout: Double = 10
        /// No frame for this long while playing: the camera is gone, reconnect.
        public var mediaTimeout: Double = 10
        /// When the camera's Session header names no timeout (RFC 2326 §12.37).
        public var defaultSessionTimeout: Double = 60
        public var firstBackoff: Double = 0.5
        public var maxBackoff: Double = 30
        /// Playing this long makes the pull healthy again: the next loss starts
        /// the backoff over. Resetting on PLAY alone would let a camera that
        /// drops right after PLAY drive a reconnect every 0.5 s.
        public var stableAfter: Double = 30
        /// Ask OPTIONS first: it tells whether GET_PARAMETER keeps the session alive.
        public var sendOptions = true

        public init(url: String) { self.url = url }
    }

    public struct ConnectionID: Hashable, Sendable, CustomStringConvertible {
        public let rawValue: Int
        public init(rawValue: Int) { self.rawValue = rawValue }
        public var description: String { "pull-\(rawValue)" }
    }

    public enum LogLevel: Sendable { case debug, info, warning }

    public enum Event {
        case viewerJoined
        case viewerLeft
        case setAlwaysOn(Bool)
        /// Time passed: deadlines, keep-alives, linger, retries.
        case tick
        case tunnelOpened(ConnectionID)
        case tunnelFailed(ConnectionID, reason: String)
        case tunnelClosed(ConnectionID, reason: String)
        case response(ConnectionID, RTSPResponse)
        case authorization(ConnectionID, RTSPAuthorizer?)
        case descriptionParsed(ConnectionID, IngestDescription?)
        case frameReceived(ConnectionID)
    }

    public enum Action {
        case openTunnel(ConnectionID)
        case closeTunnel(ConnectionID)
        case send(ConnectionID, RTSPRequest)
        case needAuthorization(ConnectionID, challenges: [String])
        case parseDescription(ConnectionID, sdp: [UInt8], baseURL: String)
        case publishTracks([TrackDescription], channels: [InterleavedChannel])
        case stopped
        case log(LogLevel, String)
    }

    /// The request a response answers.
    enum RequestKind: Equatable {
        case options
        case describe
        case setup(track: Int)
        case play
        case keepAlive
        case teardown

        var method: String {
            switch self {
            case .options: return "OPTIONS"
            case .describe: return "DESCRIBE"
            case .setup: return "SETUP"
            case .play: return "PLAY"
            case .keepAlive: return "GET_PARAMETER"
            case .teardown: return "TEARDOWN"
            }
        }
    }

    enum Step: Equatable {
        case awaitingResponse(RequestKind)
        case awaitingAuthorization(retry: RequestKind)
        case awaitingDescription
        case playing
    }

    /// One tunnel and the RTSP session on it.
    struct Connection {
        let id: ConnectionID
        var step: Step
        /// Deadline of the current setup step; while playing, unused.
        var deadline: Double
        var nextCSeq = 1
        var pending: [Int: RequestKind] = [:]
        var authorizer: RTSPAuthorizer?
        var getParameterSupported = false
        var baseURL: String
        var description: IngestDescription?
        var sessionID: String?
        var sessionTimeout: Double
        var channels: [InterleavedChannel] = []
        var playingSince = 0.0
        var lastMediaAt = 0.0
        var nextKeepAliveAt = 0.0
    }

    enum State {
        case idle
        case connecting(ConnectionID, deadline: Double)
        case connected(Connection)
        case waitingToRetry(until: Double)
    }

    public let configuration: Configuration
    private(set) var state = State.idle
    public private(set) var viewers = 0
    public private(set) var alwaysOn: Bool
    /// When the pull stops unless a viewer comes back.
    public private(set) var lingerUntil: Double?
    /// Losses since the pull was last healthy; drives the backoff.
    public private(set) var failures = 0
    /// Tunnels asked for, ever.
    public private(set) var attempts = 0
    public private(set) var framesReceived = 0
    private var nextConnection = 1
    private var random: SplitMix64

    /// `seed` comes from the system's randomness; tests pass a fixed one.
    public init(configuration: Configuration, seed: UInt64) {
        self.configuration = configuration
        self.alwaysOn = configuration.alwaysOn
        self.random = SplitMix64(seed: seed)
    }

    // MARK: - Observation

    public var isIdle: Bool {
        if case .idle = state { return true }
        return false
    }

    public var isPlaying: Bool {
        if case .connected(let connection) = state { return connection.step == .playing }
        return false
    }

    /// The tunnel the pull uses now, if one is open or opening.
    public var currentConnection: ConnectionID? {
        switch state {
        case .connecting(let id, _): return id
        case .connected(let connection): return connection.id
        case .idle, .waitingToRetry: return nil
        }
    }

    /// When `tick` must come next; nil when nothing is timed.
    public var nextDeadline: Double? {
        var soonest = lingerUntil
        func consider(_ time: Double) { soonest = min(soonest ?? time, time) }
        switch state {
        case .idle:
            break
        case .connecting(_, let deadline):
            consider(deadline)
        case .waitingToRetry(let until):
            consider(until)
        case .connected(let connection):
            if connection.step == .playing {
                consider(connection.lastMediaAt + configuration.mediaTimeout)
                consider(connection.nextKeepAliveAt)
                if failures > 0 { consider(connection.playingSince + configuration.stableAfter) }
            } else {
                consider(connection.deadline)
            }
        }
        return soonest
    }

    private var wanted: Bool { viewers > 0 || alwaysOn }

    // MARK: - Events

    public mutating func handle(_ event: Event, now: Double) -> [Action] {
        switch event {
        case .viewerJoined:
            viewers += 1
            return wantedAgain(now: now)
        case .viewerLeft:
            viewers = max(0, viewers - 1)
            return maybeStartLinger(now: now)
        case .setAlwaysOn(let on):
            alwaysOn = on
            return on ? wantedAgain(now: now) : maybeStartLinger(now: now)
        case .tick:
            return tick(now: now)
        case .tunnelOpened(let id):
            guard case .connecting(id, _) = state else { return [] }
            var connection = Connection(id: id, step: .awaitingResponse(.options), deadline: now,
                                        baseURL: configuration.url,
                                        sessionTimeout: configuration.defaultSessionTimeout)
            var actions: [Action] = [.log(.debug, "\(id): tunnel open")]
            actions.append(send(configuration.sendOptions ? .options : .describe, on: &connection, now: now))
            state = .connected(connection)
            return actions
        case .tunnelFailed(let id, let reason):
            guard currentConnection == id else { return [] }
            return fail("\(id): tunnel failed: \(reason)", now: now, tunnelGone: true)
        case .tunnelClosed(let id, let reason):
            guard currentConnection == id else { return [] }
            return fail("\(id): tunnel closed: \(reason)", now: now, tunnelGone: true)
        case .response(let id, let response):
            guard case .connected(var connection) = state, connection.id == id else { return [] }
            let actions = received(response, on: &connection, now: now)
            if case .connected(let current) = state, current.id == id { state = .connected(connection) }
            return actions
        case .authorization(let id, let authorizer):
            guard case .connected(var connection) = state, connection.id == id,
                  case .awaitingAuthorization(let retry) = connection.step else { return [] }
            guard let authorizer else {
                return fail("\(id): the camera wants credentials and none can answer it", now: now)
            }
            connection.authorizer = authorizer
            let action = send(retry, on: &connection, now: now)
            state = .connected(connection)
            return [action]
        case .descriptionParsed(let id, let description):
            guard case .connected(var connection) = state, connection.id == id,
                  connection.step == .awaitingDescription else { return [] }
            // Two interleaved channels per track must fit the one-byte channel number.
            guard let description, !description.tracks.isEmpty, description.tracks.count <= 127,
                  description.trackControls.count == description.tracks.count else {
                return fail("\(id): the camera's session description has no usable track", now: now)
            }
            connection.description = description
            let action = send(.setup(track: 0), on: &connection, now: now)
            state = .connected(connection)
            return [action]
        case .frameReceived(let id):
            guard case .connected(var connection) = state, connection.id == id,
                  connection.step == .playing else { return [] }
            framesReceived += 1
            connection.lastMediaAt = now
            if failures > 0 && now - connection.playingSince >= configuration.stableAfter { failures = 0 }
            state = .connected(connection)
            return []
        }
    }

    // MARK: - Demand

    private mutating func wantedAgain(now: Double) -> [Action] {
        var actions: [Action] = []
        if lingerUntil != nil {
            lingerUntil = nil
            actions.append(.log(.debug, "viewer back: the pull stays"))
        }
        // While waiting to retry, the backoff stands: a viewer arriving must not
        // turn a failing camera into a tight loop.
        if case .idle = state { actions += connect(now: now) }
        return actions
    }

    private mutating func maybeStartLinger(now: Double) -> [Action] {
        guard !wanted, !isIdle, lingerUntil == nil else { return [] }
        lingerUntil = now + configuration.linger
        return [.log(.debug, "no viewers: the pull stops in \(configuration.linger) s unless one comes back")]
    }

    private mutating func connect(now: Double) -> [Action] {
        let id = ConnectionID(rawValue: nextConnection)
        nextConnection += 1
        attempts += 1
        state = .connecting(id, deadline: now + configuration.connectTimeout)
        return [.openTunnel(id)]
    }

    private mutating func stop() -> [Action] {
        var actions: [Action] = []
        switch state {
        case .connecting(let id, _):
            actions.append(.closeTunnel(id))
        case .connected(var connection):
            // Cameras limit their sessions; a TEARDOWN frees ours at once instead
            // of at the session timeout.
            if connection.sessionID != nil { actions.append(send(.teardown, on: &connection, now: 0)) }
            actions.append(.closeTunnel(connection.id))
        case .idle, .waitingToRetry:
            break
        }
        state = .idle
        lingerUntil = nil
        failures = 0
        actions.append(.log(.info, "pull stopped: no viewers"))
        actions.append(.stopped)
        return actions
    }

    /// Something broke the pull. Retry after a backoff while it is wanted.
    private mutating func fail(_ reason: String, now: Double, tunnelGone: Bool = false) -> [Action] {
        var actions: [Action] = []
        if !tunnelGone, let id = currentConnection { actions.append(.closeTunnel(id)) }
        guard wanted else {
            state = .idle
            lingerUntil = nil
            failures = 0
            actions.append(.log(.info, "\(reason); no viewers left, pull stopped"))
            actions.append(.stopped)
            return actions
        }
        failures += 1
        let delay = backoff()
        state = .waitingToRetry(until: now + delay)
        actions.append(.log(.warning, "\(reason); retrying in \(Self.tenths(delay)) s (failure \(failures))"))
        return actions
    }

    /// 0.5 s, 1 s, 2 s … capped at 30 s, each spread by ±25 % so that pulls that
    /// broke together (a streampoint restart, an agent's link lost) do not all
    /// come back together. Never below the first step: no tight loop.
    func backoffBase() -> Double {
        let exponent = min(max(failures - 1, 0), 16)
        return min(configuration.maxBackoff, configuration.firstBackoff * Double(1 << exponent))
    }

    private mutating func backoff() -> Double {
        let spread = backoffBase() * (0.75 + 0.5 * random.nextUnit())
        return min(configuration.maxBackoff, max(configuration.firstBackoff, spread))
    }

    // MARK: - Time

    private mutating func tick(now: Double) -> [Action] {
        if let until = lingerUntil, now >= until { return stop() }
        switch state {
        case .idle:
            // An always-on pull starts at the first tick.
            return wanted ? connect(now: now) : []
        case .waitingToRetry(let until):
            guard now >= until else { return [] }
            guard wanted else { return stop() }
            return connect(now: now)
        case .connecting(let id, let deadline):
            guard now >= deadline else { return [] }
            return fail("\(id): tunnel not open after \(Self.tenths(configuration.connectTimeout)) s", now: now)
        case .connected(var connection):
            if connection.step != .playing {
                guard now >= connection.deadline else { return [] }
                return fail("\(connection.id): \(Self.waitingFor(connection.step)) not done after \(Self.tenths(configuration.responseTimeout)) s", now: now)
            }
            if now - connection.lastMediaAt >= configuration.mediaTimeout {
                return fail("\(connection.id): no media for \(Self.tenths(now - connection.lastMediaAt)) s", now: now)
            }
            if failures > 0 && now - connection.playingSince >= configuration.stableAfter { failures = 0 }
            var actions: [Action] = []
            if now >= connection.nextKeepAliveAt {
                actions.append(send(.keepAlive, on: &connection, now: now))
                connection.nextKeepAliveAt = now + keepAliveInterval(connection)
            }
            state = .connected(connection)
            return actions
        }
    }

    private func keepAliveInterval(_ connection: Connection) -> Double {
        max(1, connection.sessionTimeout / 2)
    }

    // MARK: - RTSP

    private mutating func send(_ kind: RequestKind, on connection: inout Connection, now: Double) -> Action {
        let cseq = connection.nextCSeq
        connection.nextCSeq += 1
        connection.pending[cseq] = kind
        let method = kind == .keepAlive && !connection.getParameterSupported ? "OPTIONS" : kind.method
        let uri = self.uri(for: kind, connection)
        var headers = RTSPHeaders()
        headers.set("CSeq", String(cseq))
        headers.set("User-Agent", configuration.userAgent)
        if let authorizer = connection.authorizer {
            headers.set("Authorization", authorizer.authorization(method, uri))
        }
        switch kind {
        case .options:
            break
        case .describe:
            headers.set("Accept", "application/sdp")
        case .setup(let track):
            let rtp = 2 * track
            headers.set("Transport", "RTP/AVP/TCP;unicast;interleaved=\(rtp)-\(rtp + 1)")
            if let session = connection.sessionID { headers.set("Session", session) }
        case .play:
            headers.set("Range", "npt=0.000-")
            if let session = connection.sessionID { headers.set("Session", session) }
        case .keepAlive, .teardown:
            if let session = connection.sessionID { headers.set("Session", session) }
        }
        if kind != .keepAlive && kind != .teardown {
            connection.step = .awaitingResponse(kind)
            connection.deadline = now + configuration.responseTimeout
        }
        return .send(connection.id, RTSPRequest(method: method, uri: uri, headers: headers))
    }

    private func uri(for kind: RequestKind, _ connection: Connection) -> String {
        switch kind {
        case .options, .describe:
            return configuration.url
        case .setup(let track):
            let control = connection.description?.trackControls[track] ?? ""
            return Self.resolve(control, base: connection.baseURL)
        case .play, .keepAlive, .teardown:
            if let control = connection.description?.sessionControl {
                return Self.resolve(control, base: connection.baseURL)
            }
            return connection.baseURL
        }
    }

    private mutating func received(_ response: RTSPResponse, on connection: inout Connection, now: Double) -> [Action] {
        let id = connection.id
        guard let cseqText = response.headers["CSeq"], let cseq = Int(Self.trimmed(cseqText)),
              let kind = connection.pending.removeValue(forKey: cseq) else {
            return [.log(.debug, "\(id): ignoring a response (status \(response.status)) that answers no request of ours")]
        }
        let ok = (200..<300).contains(response.status)
        switch kind {
        case .keepAlive:
            // Any answer shows the session is alive; media is the real liveness test.
            if response.status == 454 { return fail("\(id): the camera lost the session (454)", now: now) }
            return []
        case .teardown:
            return []
        case .options, .describe, .setup, .play:
            guard connection.step == .awaitingResponse(kind) else {
                return [.log(.debug, "\(id): ignoring a late \(kind.method) response")]
            }
        }
        if response.status == 401 {
            guard connection.authorizer == nil else {
                return fail("\(id): the camera refused the credentials for \(kind.method) (401)", now: now)
            }
            let challenges = response.headers.fields
                .filter { asciiCaseInsensitiveEqual($0.name, "WWW-Authenticate") }
                .map(\.value)
            guard !challenges.isEmpty else {
                return fail("\(id): \(kind.method) answered 401 without a challenge", now: now)
            }
            connection.step = .awaitingAuthorization(retry: kind)
            connection.deadline = now + configuration.responseTimeout
            return [.needAuthorization(id, challenges: challenges)]
        }
        switch kind {
        case .options:
            // Some cameras refuse OPTIONS yet stream; DESCRIBE decides.
            if ok, let methods = response.headers["Public"] {
                connection.getParameterSupported = Self.lists(methods, "GET_PARAMETER")
            }
            return [send(.describe, on: &connection, now: now)]
        case .describe:
            guard ok else { return fail("\(id): DESCRIBE answered \(response.status)", now: now) }
            guard !response.body.isEmpty else { return fail("\(id): DESCRIBE answered without a description", now: now) }
            // RFC 2326 C.1.1: relative controls resolve against Content-Base, then
            // Content-Location, then the request URL.
            if let base = response.headers["Content-Base"] ?? response.headers["Content-Location"] {
                connection.baseURL = Self.trimmed(base)
            }
            connection.step = .awaitingDescription
            connection.deadline = now + configuration.responseTimeout
            return [.parseDescription(id, sdp: response.body, baseURL: connection.baseURL)]
        case .setup(let track):
            guard ok else { return fail("\(id): SETUP of track \(track) answered \(response.status)", now: now) }
            if let session = response.headers["Session"] {
                let (sessionID, timeout) = Self.parseSession(session)
                if connection.sessionID == nil { connection.sessionID = sessionID }
                if let timeout { connection.sessionTimeout = timeout }
            }
            guard connection.sessionID != nil else {
                return fail("\(id): SETUP answered without a Session", now: now)
            }
            let requested = UInt8(2 * track)
            let (rtp, rtcp) = response.headers["Transport"].flatMap(Self.parseInterleaved) ?? (requested, requested + 1)
            connection.channels.append(InterleavedChannel(track: track, rtp: rtp, rtcp: rtcp))
            let trackCount = connection.description?.tracks.count ?? 0
            return [send(track + 1 < trackCount ? .setup(track: track + 1) : .play, on: &connection, now: now)]
        case .play:
            guard ok else { return fail("\(id): PLAY answered \(response.status)", now: now) }
            connection.step = .playing
            connection.playingSince = now
            connection.lastMediaAt = now
            connection.nextKeepAliveAt = now + keepAliveInterval(connection)
            let tracks = connection.description?.tracks ?? []
            return [.log(.info, "\(id): playing \(tracks.count) track(s)"),
                    .publishTracks(tracks, channels: connection.channels)]
        case .keepAlive, .teardown:
            return []
        }
    }

    // MARK: - Header and URL helpers (ASCII only)

    static func waitingFor(_ step: Step) -> String {
        switch step {
        case .awaitingResponse(let kind): return "\(kind.method) response"
        case .awaitingAuthorization: return "authorization"
        case .awaitingDescription: return "session description"
        case .playing: return "media"
        }
    }

    /// RFC 2326 C.1.1, as ffmpeg and the cameras read it: `*` or nothing is the
    /// base itself; an absolute URL stands; anything else is appended after a `/`.
    static func resolve(_ control: String, base: String) -> String {
        let control = trimmed(control)
        if control.isEmpty || control == "*" { return base }
        if hasPrefixIgnoringCase(control, "rtsp://") || hasPrefixIgnoringCase(control, "rtsps://") { return control }
        return base.utf8.last == UInt8(ascii: "/") ? base + control : base + "/" + control
    }

    /// `12345678;timeout=60` → ("12345678", 60).
    static func parseSession(_ value: String) -> (String, Double?) {
        let parts = value.split(separator: ";", omittingEmptySubsequences: false).map { trimmed(String($0)) }
        var timeout: Double?
        for parameter in parts.dropFirst() where hasPrefixIgnoringCase(parameter, "timeout=") {
            if let seconds = Int(parameter.dropFirst("timeout=".count)), seconds > 0 { timeout = Double(seconds) }
        }
        return (parts.first ?? "", timeout)
    }

    /// The `interleaved=a-b` parameter of a Transport header.
    static func parseInterleaved(_ value: String) -> (UInt8, UInt8)? {
        for parameter in value.split(separator: ";") {
            let text = trimmed(String(parameter))
            guard hasPrefixIgnoringCase(text, "interleaved=") else { continue }
            let range = text.dropFirst("interleaved=".count).split(separator: "-")
            guard let first = range.first.flatMap({ UInt8($0) }) else { return nil }
            let second = range.count > 1 ? UInt8(range[1]) : nil
            return (first, second ?? (first < 255 ? first + 1 : first))
        }
        return nil
    }

    static func lists(_ methods: String, _ method: String) -> Bool {
        methods.split(separator: ",").contains { asciiCaseInsensitiveEqual(trimmed(String($0)), method) }
    }

    static func trimmed(_ text: String) -> String {
        let bytes = Array(text.utf8)
        var start = 0
        var end = bytes.count
        while start < end && (bytes[start] == 0x20 || bytes[start] == 0x09) { start += 1 }
        while end > start && (bytes[end - 1] == 0x20 || bytes[end - 1] == 0x09) { end -= 1 }
        if start == 0 && end == bytes.count { return text }
        return String(decoding: bytes[start..<end], as: UTF8.self)
    }

    static func hasPrefixIgnoringCase(_ text: String, _ prefix: String) -> Bool {
        let bytes = Array(text.utf8.prefix(prefix.utf8.count))
        return bytes.count == prefix.utf8.count && asciiCaseInsensitiveEqual(String(decoding: bytes, as: UTF8.self), prefix)
    }

    static func tenths(_ seconds: Double) -> String {
        let tenths = Int((seconds * 10).rounded())
        return "\(tenths / 10).\(tenths % 10)"
    }
}

/// A small deterministic generator (Steele, Lea and Flood's SplitMix64): the
/// machine draws its jitter from a seed the wiring takes from the system.
struct SplitMix64 {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    mutating func nextUnit() -> Double { Double(next() >> 11) / Double(1 << 53) }
}
