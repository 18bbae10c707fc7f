// Writes the committed seed corpus (Tests/Fuzz/corpus/<target>/) from the real
// encoders, so the seeds stay valid when the wire format changes:
//   Scripts/fuzz --make-seeds
// The config seeds are also the test fixtures, copied by the script.
import CamCore
import CamMedia
import CamProtocol
#if canImport(Glibc)
import Glibc
#endif

func bytes(_ count: Int, from start: UInt8) -> [UInt8] { (0..<count).map { start &+ UInt8(truncatingIfNeeded: $0) } }

let nonce = bytes(ProtocolConstants.nonceSize, from: 0x10)
let proof = bytes(ProtocolConstants.proofSize, from: 0x40)
let bindToken = bytes(ProtocolConstants.bindTokenSize, from: 0x80)
let ticket = bytes(ProtocolConstants.ticketNonceSize + 48, from: 0xA0)
let targets = [
    TunnelTarget(name: "rtsp", host: "127.0.0.1", port: 554),
    TunnelTarget(name: "http", host: "::1", port: 80),
]

/// One of each message type, with realistic field sizes.
let everyMessage: [Message] = [
    .hello(version: ProtocolConstants.version, role: .endpointControl, software: "camagent 0.1 armv5"),
    .hello(version: ProtocolConstants.version, role: .tunnelData, software: "camagent"),
    .helloAck(version: ProtocolConstants.version, server: "camagent-endpoint"),
    .error(code: .authenticationFailed, message: "authentication failed"),
    .error(code: .unknown, message: ""),
    .heartbeat,
    .authBegin(agentID: "XM_3518.unit-42", clientNonce: nonce),
    .authChallenge(serverNonce: nonce),
    .authProof(proof: proof),
    .authOK(serverProof: proof, heartbeatSeconds: 10, peerTimeoutSeconds: 30),
    .agentInfo(software: "camagent 0.1", buildTarget: "armv5"),
    .activateBegin(serial: "SN0001", mac: "00:11:22:33:44:55", model: "XM-3518", firmware: "1.2.3", clientNonce: nonce),
    .activateProof(proof: proof),
    .activated(serverProof: proof, agentID: "unit-0001", wrappedKey: bytes(32, from: 0x20)),
    .streampointAssign(streampointID: "sp-1", host: "sp1.example.net", port: 7444, ticket: ticket, tls: true),
    .streampointAssign(streampointID: "sp-2", host: "127.0.0.1", port: 7445, ticket: ticket, tls: false),
    .ticketRequest,
    .streamRegister(ticket: ticket, targets: targets),
    .streamRegistered(streampointID: "sp-1"),
    .tunnelOpen(tunnelID: 7, host: "127.0.0.1", port: 554, bindToken: bindToken),
    .tunnelOpenFailed(tunnelID: 7, code: .targetUnreachable, message: "connection refused"),
    .tunnelBind(tunnelID: 7, bindToken: bindToken),
    // The appended RTSP paths (PROTOCOL §4.3): one per target, empty for none.
    .streamRegister(ticket: ticket, targets: [
        TunnelTarget(name: "rtsp", host: "127.0.0.1", port: 554, path: "/Streaming/Channels/101"),
        TunnelTarget(name: "rtsp-sub", host: "127.0.0.1", port: 554, path: "/Streaming/Channels/102?transportmode=unicast"),
        TunnelTarget(name: "http", host: "::1", port: 80),
    ]),
]

func write(_ directory: String, _ name: String, _ content: [UInt8]) {
    let path = "\(directory)/\(name)"
    guard let file = fopen(path, "wb") else {
        fputs("make-seeds: cannot write \(path)\n", stderr)
        exit(1)
    }
    _ = content.withUnsafeBufferPointer { fwrite($0.baseAddress, 1, $0.count, file) }
    fclose(file)
}

func fileName(_ message: Message, _ index: Int) -> String {
    "\(index < 10 ? "0" : "")\(index)-\(message.name.lowercased()).bin"
}

guard CommandLine.arguments.count == 2 else {
    fputs("usage: make-seeds CORPUS_DIR (writes CORPUS_DIR/{frame-decoder,link-reader,upgrade-request,config}/)\n", stderr)
    exit(2)
}
let corpus = CommandLine.arguments[1]
let allFrames = everyMessage.flatMap { $0.encoded() }

// frame-decoder: each message alone, all of them back to back, and edge cases.
let frames = "\(corpus)/frame-decoder"
for (index, message) in everyMessage.enumerated() { write(frames, fileName(message, index), message.encoded()) }
write(frames, "all-messages.bin", allFrames)
write(frames, "largest-frame.bin", Frame(type: 0x7F, payload: bytes(ProtocolConstants.maxPayload, from: 0)).encoded())
write(frames, "partial-frame.bin", Array(Message.heartbeat.encoded() + Message.authChallenge(serverNonce: nonce).encoded().prefix(9)))
write(frames, "nonzero-flags.bin", [0x04, 0x01, 0x00, 0x00])
write(frames, "oversized-length.bin", [0x04, 0x00, 0xFF, 0xFF])

// link-reader: the server's 101, then what a control or data link receives.
let links = "\(corpus)/link-reader"
let switching = HTTPUpgrade.switchingResponse()
let ack = Message.helloAck(version: ProtocolConstants.version, server: "camagent-streampoint").encoded()
write(links, "control-link.bin", switching + ack + Message.authChallenge(serverNonce: nonce).encoded()
    + Message.authOK(serverProof: proof, heartbeatSeconds: 10, peerTimeoutSeconds: 30).encoded() + Message.heartbeat.encoded())
write(links, "endpoint-session.bin", switching + allFrames)
write(links, "data-link-with-tunnel-bytes.bin", switching + ack + Array("RTSP/1.0 200 OK\r\nCSeq: 1\r\n\r\n".utf8))
write(links, "error-after-upgrade.bin", switching + Message.error(code: .revoked, message: "revoked by operator").encoded())
write(links, "rejected-upgrade.bin", HTTPUpgrade.errorResponse(status: 403, reason: "Forbidden"))
write(links, "http-1.0-upgrade.bin", Array("HTTP/1.0 101 Switching\r\nUpgrade: camagent/1\r\n\r\n".utf8) + ack)

// upgrade-request: what an agent sends a server, then its first frames.
let requests = "\(corpus)/upgrade-request"
let hello = Message.hello(version: ProtocolConstants.version, role: .endpointControl, software: "camagent").encoded()
write(requests, "agent-request.bin", HTTPUpgrade.request(host: "endpoint.example.net:7443") + hello)
write(requests, "agent-request-ipv6.bin", HTTPUpgrade.request(host: "[::1]:7443"))
write(requests, "proxy-style-request.bin", Array(("GET /camagent/v1 HTTP/1.1\r\nHost: sp1\r\nUser-Agent: x\r\n"
    + "Connection: keep-alive, Upgrade\r\nUpgrade: camagent/1\r\nX-Forwarded-For: 10.0.0.1\r\n\r\n").utf8) + hello)
write(requests, "browser-request.bin", Array("GET / HTTP/1.1\r\nHost: camera\r\nAccept: */*\r\n\r\n".utf8))
// config: the fixtures (copied by the script) and a state file.
write("\(corpus)/config", "state-file.conf", Array(StateFile.render(AgentState(
    identity: AgentIdentity(agentID: "unit-0001", deviceKey: bytes(32, from: 0)),
    endpoints: [ServerAddress(host: "ep1.example.net", port: 443, tls: true, knownAddress: "192.0.2.10"),
                ServerAddress(host: "ep2.example.net", port: 8443, tls: true)],
    mainEndpointRecheckMs: 120_000)).utf8))
write("\(corpus)/config", "state-file-known-addresses.conf", Array(StateFile.render(AgentState(
    configEndpointAddresses: [ServerAddress(host: "ep.example.net", port: 443, tls: true, knownAddress: "2001:db8::7")])).utf8))

// rtsp-decoder: a client's requests to a camera and a camera's answers with
// RTP/RTCP interleaved, as simcam and a Hikvision-style camera exchange them.
let rtsp = "\(corpus)/rtsp-decoder"
func request(_ method: String, _ uri: String, _ fields: [(name: String, value: String)], body: [UInt8] = []) -> [UInt8] {
    RTSPEncoder.encode(RTSPRequest(method: method, uri: uri, headers: RTSPHeaders(fields), body: body))
}
func response(_ status: Int, _ reason: String, _ fields: [(name: String, value: String)], body: [UInt8] = []) -> [UInt8] {
    RTSPEncoder.encode(RTSPResponse(status: status, reason: reason, headers: RTSPHeaders(fields), body: body))
}
let sdpTrack = TrackDescription(codec: .h264, clockRate: 90000, payloadType: 96,
                                sps: [0x67, 0x4D, 0x00, 0x2A, 0x9D, 0xA8, 0x1E], pps: [0x68, 0xEE, 0x3C, 0x80])
let aacTrack = TrackDescription(codec: .aac, clockRate: 16000, payloadType: 97, audioConfig: [0x14, 0x08])
let sdp = Array(SessionDescription(
    origin: SessionDescription.origin(sessionID: 1_109_162_014, address: "192.168.1.64"), name: "Media Presentation",
    connection: "IN IP4 0.0.0.0", attributes: [SDPAttribute("control", "*")],
    media: [SDPMedia(track: sdpTrack, control: "trackID=1", bandwidthKbps: 5000, extraAttributes: [SDPAttribute("framerate", "25")]),
            SDPMedia(track: aacTrack, control: "trackID=2"),
            SDPMedia(track: TrackDescription(codec: .pcmu, clockRate: 8000, payloadType: 0), control: "trackID=3")]).text.utf8)
let rtp = RTSPEncoder.encode(RTSPInterleavedFrame(channel: 0, payload: [0x80, 0x60, 0x30, 0x39, 0, 1, 0x5F, 0x90, 0x2A, 0x1B, 0x3C, 0x4D, 0x65, 0x88]))
let rtcp = RTSPEncoder.encode(RTSPInterleavedFrame(channel: 1, payload: [0x80, 0xC8, 0, 6, 0x2A, 0x1B, 0x3C, 0x4D] + bytes(20, from: 0)))
let url = "rtsp://192.168.1.64:554/Streaming/Channels/101"
write(rtsp, "client-requests.bin",
      request("OPTIONS", url, [(name: "CSeq", value: "1"), (name: "User-Agent", value: "Lavf61.7.100")])
      + request("DESCRIBE", url, [(name: "Accept", value: "application/sdp"), (name: "CSeq", value: "2")])
      + request("SETUP", url + "/trackID=1", [(name: "Transport", value: "RTP/AVP/TCP;unicast;interleaved=0-1"), (name: "CSeq", value: "3")])
      + request("PLAY", url + "/", [(name: "Range", value: "npt=0.000-"), (name: "CSeq", value: "4"), (name: "Session", value: "1273222592")])
      + rtcp
      + request("SET_PARAMETER", url + "/", [(name: "CSeq", value: "5"), (name: "Content-Type", value: "text/parameters")], body: Array("a: 1\r\n".utf8)))
write(rtsp, "camera-answers.bin",
      response(200, "OK", [(name: "CSeq", value: "1"), (name: "Public", value: "OPTIONS, DESCRIBE, PLAY, SETUP, TEARDOWN")])
      + response(401, "Unauthorized", [(name: "CSeq", value: "2"),
          (name: "WWW-Authenticate", value: "Digest realm=\"IP Camera(C1234)\", nonce=\"a1b2c3d4e5f6\", qop=\"auth\", opaque=\"x\", stale=\"FALSE\""),
          (name: "WWW-Authenticate", value: "Basic realm=\"IP Camera(C1234)\"")])
      + response(200, "OK", [(name: "CSeq", value: "3"), (name: "Content-Type", value: "application/sdp"),
          (name: "Content-Base", value: url + "/")], body: sdp)
      + response(200, "OK", [(name: "CSeq", value: "4"), (name: "Session", value: "       1273222592;timeout=60"),
          (name: "Transport", value: "RTP/AVP/TCP;unicast;interleaved=0-1;ssrc=2a1b3c4d;mode=\"play\"")])
      + rtp + rtcp + rtp
      + response(200, "OK", [(name: "CSeq", value: "5")])
      + rtp)
write(rtsp, "sdp.bin", sdp)
write(rtsp, "bare-lf-and-folding.bin", Array("\r\nOPTIONS * RTSP/1.0\nCSeq: 7\nX-Long: a\n  b\n\nRTSP/1.0 200\nCSeq: 7\n\n".utf8))
write(rtsp, "malformed-then-good.bin", Array("OPTIONS rtsp://cam/\r\nCSeq: 1\r\nContent-Length: 2\r\n\r\nxxOPTIONS * RTSP/2.0\r\nCSeq: 2\r\n\r\n".utf8)
      + request("OPTIONS", "*", [(name: "CSeq", value: "3")]))
write(rtsp, "bad-content-length.bin", Array("ANNOUNCE rtsp://cam/ RTSP/1.0\r\nCSeq: 1\r\nContent-Length: 99999\r\n\r\n".utf8))
