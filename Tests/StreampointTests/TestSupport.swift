import Foundation
import CamProtocol
import NIOCore
@testable import StreampointCore

let testKey = [UInt8](repeating: 0x42, count: 32)
let testNow: UInt64 = 1_800_000_000

func ticket(for agentID: String, streampoint: String = "sp1", key: [UInt8] = testKey,
            expiresAt: UInt64 = testNow + 300) -> [UInt8] {
    Ticket(agentID: agentID, streampointID: streampoint, expiresAt: expiresAt,
           nonce: [UInt8](repeating: 7, count: 16)).signed(key: key)
}

let rtspTarget = TunnelTarget(name: "rtsp", host: "127.0.0.1", port: 554)

func upgradeRequest(path: String = ProtocolConstants.upgradePath) -> UpgradeRequest {
    var bytes = HTTPUpgrade.request(host: "sp.test")
    if path != ProtocolConstants.upgradePath {
        let text = String(decoding: bytes, as: UTF8.self)
            .replacingOccurrences(of: ProtocolConstants.upgradePath, with: path)
        bytes = Array(text.utf8)
    }
    return try! parseUpgradeRequest(bytes)
}

func testConfig(maxTunnels: Int = 8) -> StreampointConfig {
    StreampointConfig(streampointID: "sp1", ticketKey: testKey, viewerBind: "127.0.0.1", publicHost: "127.0.0.1",
                      viewerPortBase: 0, heartbeat: .seconds(10), peerTimeout: .seconds(30), maxTunnels: maxTunnels)
}

/// The frames in what a server wrote to an agent link, after the 101 head if there is one.
func framesWritten(_ bytes: [UInt8]) -> (httpHead: String?, messages: [Message]) {
    var rest = bytes[...]
    var head: String?
    if bytes.starts(with: Array("HTTP/".utf8)) {
        let end = Array("\r\n\r\n".utf8)
        var i = bytes.startIndex
        while i + 4 <= bytes.endIndex, Array(bytes[i..<i + 4]) != end { i += 1 }
        head = String(decoding: bytes[..<min(i + 4, bytes.endIndex)], as: UTF8.self)
        rest = bytes[min(i + 4, bytes.endIndex)...]
    }
    var decoder = FrameDecoder()
    decoder.append(Array(rest))
    var messages: [Message] = []
    while let frame = try? decoder.nextFrame(), let message = try? Message(frame: frame) {
        messages.append(message)
    }
    return (head, messages)
}
