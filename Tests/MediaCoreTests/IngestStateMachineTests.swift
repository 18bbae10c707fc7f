import MediaCore
import Testing

typealias Ingest = IngestStateMachine

/// Drives one machine with a manual clock and answers like a camera would.
struct IngestDriver {
    static let url = "rtsp://127.0.0.1:554/Streaming/Channels/101"
    static let base = "rtsp://127.0.0.1:554/Streaming/Channels/101/"
    static let description = IngestDescription(
        tracks: [h264Track, aacTrack],
        trackControls: ["trackID=1", "rtsp://127.0.0.1:554/Streaming/Channels/101/trackID=2"])

    var machine: Ingest
    var now = 0.0
    var log: [(Double, Ingest.Action)] = []

    init(configure: (inout Ingest.Configuration) -> Void = { _ in }, seed: UInt64 = 42) {
        var configuration = Ingest.Configuration(url: Self.url)
        configure(&configuration)
        machine = Ingest(configuration: configuration, seed: seed)
    }

    @discardableResult
    mutating func handle(_ event: Ingest.Event) -> [Ingest.Action] {
        let actions = machine.handle(event, now: now)
        log += actions.map { (now, $0) }
        return actions
    }

    /// Advances to the machine's next deadline (bounded by `limit`) and ticks.
    @discardableResult
    mutating func tickToDeadline(limit: Double = .infinity) -> [Ingest.Action] {
        guard let deadline = machine.nextDeadline, deadline <= limit else {
            now = limit
            return []
        }
        now = max(now, deadline)
        return handle(.tick)
    }

    /// Runs OPTIONS … PLAY on the current tunnel, the camera answering 200 at once.
    mutating func playHappily(sessionHeader: String = "ABCD;timeout=60",
                              public methods: String = "OPTIONS, DESCRIBE, SETUP, PLAY, GET_PARAMETER, TEARDOWN") {
        guard let id = machine.currentConnection else {
            Issue.record("no tunnel to play on")
            return
        }
        var actions = handle(.tunnelOpened(id))
        actions = handle(.response(id, ok(cseq(of: actions), ["Public": methods])))
        actions = handle(.response(id, ok(cseq(of: actions), ["Content-Base": Self.base], body: Array("v=0\r\n".utf8))))
        actions = handle(.descriptionParsed(id, Self.description))
        actions = handle(.response(id, ok(cseq(of: actions), ["Session": sessionHeader,
                                                              "Transport": "RTP/AVP/TCP;unicast;interleaved=0-1"])))
        actions = handle(.response(id, ok(cseq(of: actions), ["Session": sessionHeader])))
        actions = handle(.response(id, ok(cseq(of: actions), ["Session": sessionHeader])))
        #expect(machine.isPlaying)
    }
}

func ok(_ cseq: String, _ headers: KeyValuePairs<String, String> = [:], body: [UInt8] = []) -> RTSPResponse {
    response(200, cseq, headers, body: body)
}

func response(_ status: Int, _ cseq: String, _ headers: KeyValuePairs<String, String> = [:], body: [UInt8] = []) -> RTSPResponse {
    var fields: [(name: String, value: String)] = [("CSeq", cseq)]
    for (name, value) in headers { fields.append((name, value)) }
    return RTSPResponse(status: status, reason: status == 200 ? "OK" : "Error", headers: RTSPHeaders(fields), body: body)
}

func requests(_ actions: [Ingest.Action]) -> [RTSPRequest] {
    actions.compactMap { if case .send(_, let request) = $0 { return request } else { return nil } }
}

func cseq(of actions: [Ingest.Action]) -> String {
    requests(actions).last?.headers["CSeq"] ?? "?"
}

func headerList(_ request: RTSPRequest) -> [String] {
    request.headers.fields.map { "\($0.name): \($0.value)" }
}

func opens(_ actions: [Ingest.Action]) -> [Ingest.ConnectionID] {
    actions.compactMap { if case .openTunnel(let id) = $0 { return id } else { return nil } }
}

func closes(_ actions: [Ingest.Action]) -> [Ingest.ConnectionID] {
    actions.compactMap { if case .closeTunnel(let id) = $0 { return id } else { return nil } }
}

func stopped(_ actions: [Ingest.Action]) -> Bool {
    actions.contains { if case .stopped = $0 { return true } else { return false } }
}

@Suite struct IngestStateMachineTests {
    @Test func theHappyPathSendsExactlyTheseRequests() {
        var driver = IngestDriver()
        #expect(driver.machine.isIdle && driver.machine.nextDeadline == nil)
        let open = driver.handle(.viewerJoined)
        #expect(opens(open).count == 1)
        let id = opens(open)[0]
        #expect(driver.machine.nextDeadline == 10)  // connect deadline

        driver.now = 0.2
        var actions = driver.handle(.tunnelOpened(id))
        var sent = requests(actions)
        #expect(sent.map(\.method) == ["OPTIONS"] && sent[0].uri == IngestDriver.url)
        #expect(headerList(sent[0]) == ["CSeq: 1", "User-Agent: camagent-streampoint"])

        actions = driver.handle(.response(id, ok("1", ["Public": "OPTIONS, DESCRIBE, SETUP, PLAY, GET_PARAMETER"])))
        sent = requests(actions)
        #expect(sent.map(\.method) == ["DESCRIBE"] && sent[0].uri == IngestDriver.url)
        #expect(headerList(sent[0]) == ["CSeq: 2", "User-Agent: camagent-streampoint", "Accept: application/sdp"])

        let sdp = Array("v=0\r\nm=video 0 RTP/AVP 96\r\n".utf8)
        actions = driver.handle(.response(id, ok("2", ["Content-Base": IngestDriver.base, "Content-Type": "application/sdp"], body: sdp)))
        guard case .parseDescription(id, let body, let baseURL)? = actions.first, actions.count == 1 else {
            Issue.record("expected the SDP handed to the wiring")
            return
        }
        #expect(body == sdp && baseURL == IngestDriver.base)

        actions = driver.handle(.descriptionParsed(id, IngestDriver.description))
        sent = requests(actions)
        #expect(sent.map(\.method) == ["SETUP"] && sent[0].uri == IngestDriver.base + "trackID=1")
        #expect(headerList(sent[0]) == ["CSeq: 3", "User-Agent: camagent-streampoint",
                                        "Transport: RTP/AVP/TCP;unicast;interleaved=0-1"])

        actions = driver.handle(.response(id, ok("3", ["Session": "ABCD;timeout=60",
                                                       "Transport": "RTP/AVP/TCP;unicast;interleaved=0-1;ssrc=1234"])))
        sent = requests(actions)
        #expect(sent.map(\.method) == ["SETUP"] && sent[0].uri == IngestDriver.base + "trackID=2")
        #expect(headerList(sent[0]) == ["CSeq: 4", "User-Agent: camagent-streampoint",
                                        "Transport: RTP/AVP/TCP;unicast;interleaved=2-3", "Session: ABCD"])

        // The camera may pick other channels than asked: its choice wins.
        actions = driver.handle(.response(id, ok("4", ["Session": "ABCD;timeout=60", "Transport": "RTP/AVP/TCP;interleaved=6-7"])))
        sent = requests(actions)
        #expect(sent.map(\.method) == ["PLAY"] && sent[0].uri == IngestDriver.base)
        #expect(headerList(sent[0]) == ["CSeq: 5", "User-Agent: camagent-streampoint", "Range: npt=0.000-", "Session: ABCD"])
        #expect(!driver.machine.isPlaying)

        driver.now = 0.5
        actions = driver.handle(.response(id, ok("5", ["Session": "ABCD"])))
        let published = actions.compactMap { action -> ([TrackDescription], [InterleavedChannel])? in
            if case .publishTracks(let tracks, let channels) = action { return (tracks, channels) }
            return nil
        }
        #expect(published.count == 1)
        #expect(published.first?.0 == [h264Track, aacTrack])
        #expect(published.first?.1 == [InterleavedChannel(track: 0, rtp: 0, rtcp: 1), InterleavedChannel(track: 1, rtp: 6, rtcp: 7)])
        #expect(driver.machine.isPlaying && driver.machine.attempts == 1)
        #expect(driver.machine.nextDeadline == 10.5)  // no media yet: the media timeout is next
    }

    @Test func aSessionControlAttributeIsThePlayURL() {
        var driver = IngestDriver()
        let id = opens(driver.handle(.viewerJoined))[0]
        var actions = driver.handle(.tunnelOpened(id))
        actions = driver.handle(.response(id, ok(cseq(of: actions))))
        // No Content-Base: relative controls resolve against the request URL.
        _ = driver.handle(.response(id, ok(cseq(of: actions), body: [0x76])))
        actions = driver.handle(.descriptionParsed(id, IngestDescription(tracks: [h264Track], trackControls: ["track1"],
                                                                         sessionControl: "*")))
        #expect(requests(actions).first?.uri == IngestDriver.url + "/track1")
        actions = driver.handle(.response(id, ok(cseq(of: actions), ["Session": " 77;timeout=20"])))
        #expect(requests(actions).first?.uri == IngestDriver.url)
        #expect(requests(actions).first?.headers["Session"] == "77")
    }

    @Test func a401IsAnsweredOnceWithTheWiringsAuthorizer() {
        var driver = IngestDriver()
        let id = opens(driver.handle(.viewerJoined))[0]
        var actions = driver.handle(.tunnelOpened(id))
        actions = driver.handle(.response(id, ok(cseq(of: actions))))
        #expect(requests(actions).first?.headers["Authorization"] == nil)

        actions = driver.handle(.response(id, response(401, "2", ["WWW-Authenticate": "Digest realm=\"cam\", nonce=\"n1\"",
                                                                  "WWW-Authenticate": "Basic realm=\"cam\""])))
        guard case .needAuthorization(id, let challenges)? = actions.first, actions.count == 1 else {
            Issue.record("expected the challenges handed to the wiring")
            return
        }
        #expect(challenges == ["Digest realm=\"cam\", nonce=\"n1\"", "Basic realm=\"cam\""])

        let authorizer = RTSPAuthorizer { method, uri in "Digest m=\(method) u=\(uri)" }
        actions = driver.handle(.authorization(id, authorizer))
        var sent = requests(actions)
        #expect(sent.map(\.method) == ["DESCRIBE"])
        #expect(headerList(sent[0]) == ["CSeq: 3", "User-Agent: camagent-streampoint",
                                        "Authorization: Digest m=DESCRIBE u=\(IngestDriver.url)", "Accept: application/sdp"])

        _ = driver.handle(.response(id, ok("3", body: [0x76])))
        actions = driver.handle(.descriptionParsed(id, IngestDriver.description))
        sent = requests(actions)
        // Every later request is authorised for its own method and URI.
        #expect(sent[0].headers["Authorization"] == "Digest m=SETUP u=\(IngestDriver.url)/trackID=1")
    }

    @Test func aSecond401IsAFailureWithBackoffNotALoop() {
        var driver = IngestDriver()
        let id = opens(driver.handle(.viewerJoined))[0]
        var actions = driver.handle(.tunnelOpened(id))
        actions = driver.handle(.response(id, ok(cseq(of: actions))))
        _ = driver.handle(.response(id, response(401, cseq(of: actions), ["WWW-Authenticate": "Basic realm=\"cam\""])))
        actions = driver.handle(.authorization(id, RTSPAuthorizer { _, _ in "Basic d3Jvbmc6d3Jvbmc=" }))
        driver.now = 1
        actions = driver.handle(.response(id, response(401, cseq(of: actions), ["WWW-Authenticate": "Basic realm=\"cam\""])))
        #expect(closes(actions) == [id])
        #expect(!actions.contains { if case .needAuthorization = $0 { return true } else { return false } })
        #expect(requests(actions).isEmpty)
        #expect(driver.machine.failures == 1)
        let retryAt = driver.machine.nextDeadline ?? 0
        #expect(retryAt >= 1.5 && retryAt <= 1.625)

        // The retry opens a new tunnel and starts without the old authorizer.
        let reopened = driver.tickToDeadline()
        let next = opens(reopened)
        #expect(next.count == 1 && next[0] != id)
        actions = driver.handle(.tunnelOpened(next[0]))
        #expect(requests(actions).first?.headers["Authorization"] == nil)
        #expect(driver.handle(.response(id, ok("1"))).isEmpty)  // the old tunnel's late answer
    }

    @Test func noCredentialsIsAFailure() {
        var driver = IngestDriver { $0.sendOptions = false }
        let id = opens(driver.handle(.viewerJoined))[0]
        let actions = driver.handle(.tunnelOpened(id))
        #expect(requests(actions).map(\.method) == ["DESCRIBE"])
        _ = driver.handle(.response(id, response(401, "1", ["WWW-Authenticate": "Basic realm=\"cam\""])))
        #expect(closes(driver.handle(.authorization(id, nil))) == [id])
        #expect(driver.machine.failures == 1)
    }

    @Test func keepAlivesGoAtHalfTheSessionTimeout() {
        var driver = IngestDriver()
        _ = driver.handle(.viewerJoined)
        driver.playHappily()  // Session timeout 60, GET_PARAMETER listed
        let playAt = driver.now
        let id = driver.machine.currentConnection!
        var keepAlives: [(Double, RTSPRequest)] = []
        for step in 1...130 {
            driver.now = playAt + Double(step) * 0.5
            _ = driver.handle(.frameReceived(id))
            for request in requests(driver.handle(.tick)) { keepAlives.append((driver.now - playAt, request)) }
        }
        #expect(keepAlives.map(\.0) == [30, 60])
        #expect(keepAlives.map(\.1.method) == ["GET_PARAMETER", "GET_PARAMETER"])
        #expect(keepAlives.first.map { headerList($0.1) } == ["CSeq: 6", "User-Agent: camagent-streampoint", "Session: ABCD"])
        #expect(keepAlives.first?.1.uri == IngestDriver.base)
        // Any answer is fine; a late one changes nothing.
        #expect(driver.handle(.response(id, response(501, "6"))).isEmpty)
        #expect(driver.machine.isPlaying)
    }

    @Test func withoutGETPARAMETERTheKeepAliveIsOPTIONSAtTheCamerasTimeout() {
        var driver = IngestDriver()
        _ = driver.handle(.viewerJoined)
        driver.playHappily(sessionHeader: "ABCD;timeout=10", public: "OPTIONS, DESCRIBE, SETUP, PLAY")
        let playAt = driver.now
        let id = driver.machine.currentConnection!
        var times: [Double] = []
        for step in 1...24 {
            driver.now = playAt + Double(step) * 0.5
            _ = driver.handle(.frameReceived(id))
            for request in requests(driver.handle(.tick)) {
                #expect(request.method == "OPTIONS" && request.headers["Session"] == "ABCD")
                times.append(driver.now - playAt)
            }
        }
        #expect(times == [5, 10])
    }

    @Test func noMediaForTenSecondsReconnects() {
        var driver = IngestDriver()
        _ = driver.handle(.viewerJoined)
        driver.playHappily()
        let id = driver.machine.currentConnection!
        driver.now += 3
        _ = driver.handle(.frameReceived(id))
        let lastFrame = driver.now
        #expect(driver.machine.nextDeadline == lastFrame + 10)
        driver.now = lastFrame + 9.9
        #expect(closes(driver.handle(.tick)).isEmpty)
        let actions = driver.tickToDeadline()
        #expect(driver.now == lastFrame + 10)
        #expect(closes(actions) == [id])
        #expect(!driver.machine.isPlaying && driver.machine.failures == 1)
        #expect(opens(driver.tickToDeadline()).count == 1)
    }

    @Test func aSlowCameraAnswerTimesOut() {
        var driver = IngestDriver()
        let id = opens(driver.handle(.viewerJoined))[0]
        driver.now = 1
        _ = driver.handle(.tunnelOpened(id))
        #expect(driver.machine.nextDeadline == 11)
        let actions = driver.tickToDeadline()
        #expect(closes(actions) == [id] && driver.machine.failures == 1)
    }

    @Test func aTunnelThatNeverOpensTimesOut() {
        var driver = IngestDriver()
        let id = opens(driver.handle(.viewerJoined))[0]
        let actions = driver.tickToDeadline()
        #expect(driver.now == 10 && closes(actions) == [id])
    }

    @Test func aDroppedTunnelReconnectsWithBackoffWhileViewersStay() {
        var driver = IngestDriver()
        _ = driver.handle(.viewerJoined)
        _ = driver.handle(.viewerJoined)
        driver.playHappily()
        let first = driver.machine.currentConnection!
        driver.now += 2
        let actions = driver.handle(.tunnelClosed(first, reason: "agent link lost"))
        #expect(closes(actions).isEmpty)  // already gone
        #expect(!stopped(actions) && driver.machine.viewers == 2)
        let retryAt = driver.machine.nextDeadline!
        #expect(retryAt - driver.now >= 0.5 && retryAt - driver.now <= 0.625)
        #expect(opens(driver.handle(.viewerJoined)).isEmpty)  // a viewer arriving does not cut the wait short
        driver.now = retryAt - 0.01
        #expect(opens(driver.handle(.tick)).isEmpty)
        let second = opens(driver.tickToDeadline())
        #expect(second.count == 1 && second[0] != first)
        #expect(driver.handle(.tunnelClosed(first, reason: "late")).isEmpty)
        driver.playHappily()
        #expect(driver.machine.attempts == 2)
    }

    @Test func theBackoffGrowsAndIsForgottenOnlyAfterStablePlay() {
        var driver = IngestDriver()
        _ = driver.handle(.viewerJoined)
        var delays: [Double] = []
        // The camera accepts PLAY, then drops at once, every time.
        for _ in 0..<8 {
            driver.playHappily()
            let id = driver.machine.currentConnection!
            _ = driver.handle(.tunnelClosed(id, reason: "camera reset"))
            delays.append(driver.machine.nextDeadline! - driver.now)
            _ = driver.tickToDeadline()
        }
        #expect(driver.machine.failures == 8)
        let bases = [0.5, 1, 2, 4, 8, 16, 30, 30]
        for (delay, base) in zip(delays, bases) { #expect(delay >= max(0.5, base * 0.75) && delay <= min(30, base * 1.25)) }

        // Thirty seconds of media make it healthy: the next loss starts over.
        driver.playHappily()
        let id = driver.machine.currentConnection!
        let playAt = driver.now
        for step in 1...31 {
            driver.now = playAt + Double(step)
            _ = driver.handle(.frameReceived(id))
            _ = driver.handle(.tick)
        }
        #expect(driver.machine.failures == 0)
        _ = driver.handle(.tunnelClosed(id, reason: "camera reset"))
        #expect(driver.machine.nextDeadline! - driver.now <= 0.625)
    }

    @Test func aFailingCameraIsNotRedialledInATightLoop() {
        var driver = IngestDriver(seed: 7)
        var openTimes: [Double] = []
        var actions = driver.handle(.viewerJoined)
        while driver.now < 600 {
            for id in opens(actions) {
                openTimes.append(driver.now)
                actions = driver.handle(.tunnelFailed(id, reason: "connection refused"))
            }
            actions = driver.tickToDeadline(limit: 600)
        }
        #expect(openTimes.count >= 20 && openTimes.count <= 40)
        for (earlier, later) in zip(openTimes, openTimes.dropFirst()) { #expect(later - earlier >= 0.5) }
        for start in openTimes {
            let inWindow = openTimes.filter { $0 >= start && $0 < start + 60 }.count
            #expect(inWindow <= 10)
        }
        #expect(driver.machine.viewers == 1)
    }

    @Test func thePullStopsExactlyTwentySecondsAfterTheLastViewer() {
        var driver = IngestDriver()
        _ = driver.handle(.viewerJoined)
        _ = driver.handle(.viewerJoined)
        driver.playHappily()
        let id = driver.machine.currentConnection!
        driver.now = 100
        _ = driver.handle(.frameReceived(id))
        _ = driver.handle(.viewerLeft)
        #expect(driver.machine.lingerUntil == nil)
        _ = driver.handle(.viewerLeft)
        #expect(driver.machine.lingerUntil == 120)
        var stopActions: [Ingest.Action] = []
        while driver.now < 130 && !driver.machine.isIdle {
            _ = driver.handle(.frameReceived(id))
            let next = min(driver.machine.nextDeadline ?? 130, driver.now + 1)
            driver.now = next
            let actions = driver.handle(.tick)
            if stopped(actions) { stopActions = actions }
        }
        #expect(driver.now == 120)
        #expect(driver.machine.isIdle)
        let sent = requests(stopActions)
        #expect(sent.map(\.method) == ["TEARDOWN"] && sent.first?.headers["Session"] == "ABCD")
        #expect(closes(stopActions) == [id])
        #expect(driver.machine.nextDeadline == nil)
        // The next viewer starts a new pull at once.
        #expect(opens(driver.handle(.viewerJoined)).count == 1)
    }

    @Test func aViewerComingBackCancelsTheLinger() {
        var driver = IngestDriver()
        _ = driver.handle(.viewerJoined)
        driver.playHappily()
        let id = driver.machine.currentConnection!
        driver.now = 100
        _ = driver.handle(.viewerLeft)
        driver.now = 119
        _ = driver.handle(.frameReceived(id))
        _ = driver.handle(.viewerJoined)
        #expect(driver.machine.lingerUntil == nil)
        for second in 120...200 {
            driver.now = Double(second)
            _ = driver.handle(.frameReceived(id))
            let actions = driver.handle(.tick)
            #expect(!stopped(actions) && closes(actions).isEmpty)
        }
        #expect(driver.machine.isPlaying && driver.machine.attempts == 1)
    }

    @Test func aLossWhileLingeringStopsInsteadOfReconnecting() {
        var driver = IngestDriver()
        _ = driver.handle(.viewerJoined)
        driver.playHappily()
        let id = driver.machine.currentConnection!
        _ = driver.handle(.viewerLeft)
        let actions = driver.handle(.tunnelClosed(id, reason: "camera reset"))
        #expect(stopped(actions) && driver.machine.isIdle && driver.machine.nextDeadline == nil)
    }

    @Test func alwaysOnPullsWithoutViewersAndReconnects() {
        var driver = IngestDriver { $0.alwaysOn = true }
        #expect(opens(driver.handle(.tick)).count == 1)
        driver.playHappily()
        _ = driver.handle(.viewerJoined)
        _ = driver.handle(.viewerLeft)
        #expect(driver.machine.lingerUntil == nil)
        let id = driver.machine.currentConnection!
        _ = driver.handle(.tunnelClosed(id, reason: "camera reset"))
        #expect(!driver.machine.isIdle)
        #expect(opens(driver.tickToDeadline()).count == 1)
        driver.playHappily()
        _ = driver.handle(.setAlwaysOn(false))
        #expect(driver.machine.lingerUntil == driver.now + 20)
    }

    @Test func responsesThatAnswerNothingAreIgnored() {
        var driver = IngestDriver()
        let id = opens(driver.handle(.viewerJoined))[0]
        let actions = driver.handle(.tunnelOpened(id))
        #expect(cseq(of: actions) == "1")
        #expect(requests(driver.handle(.response(id, ok("99")))).isEmpty)
        var noCSeq = ok("1")
        noCSeq.headers = RTSPHeaders()
        #expect(requests(driver.handle(.response(id, noCSeq))).isEmpty)
        #expect(driver.handle(.response(Ingest.ConnectionID(rawValue: 999), ok("1"))).isEmpty)
        #expect(driver.handle(.descriptionParsed(id, IngestDriver.description)).isEmpty)  // not asked for
        // The real answer still works.
        #expect(requests(driver.handle(.response(id, ok("1")))).map(\.method) == ["DESCRIBE"])
        #expect(driver.machine.failures == 0)
    }

    @Test func anUnusableDescriptionOrARefusedSetupFails() {
        var driver = IngestDriver()
        var id = opens(driver.handle(.viewerJoined))[0]
        var actions = driver.handle(.tunnelOpened(id))
        actions = driver.handle(.response(id, ok(cseq(of: actions))))
        _ = driver.handle(.response(id, ok(cseq(of: actions), body: [0x76])))
        #expect(closes(driver.handle(.descriptionParsed(id, nil))) == [id])

        id = opens(driver.tickToDeadline())[0]
        actions = driver.handle(.tunnelOpened(id))
        actions = driver.handle(.response(id, ok(cseq(of: actions))))
        _ = driver.handle(.response(id, ok(cseq(of: actions), body: [0x76])))
        actions = driver.handle(.descriptionParsed(id, IngestDriver.description))
        #expect(closes(driver.handle(.response(id, response(461, cseq(of: actions))))) == [id])
        #expect(driver.machine.failures == 2)
    }
}
