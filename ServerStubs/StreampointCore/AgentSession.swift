import CamProtocol
import Foundation
import NIOCore

/// One announced target and the listener viewers use to reach it.
final class TargetListener {
    let target: TunnelTarget
    var channel: Channel?
    var viewerPort: Int?
    var url: String?

    init(target: TunnelTarget) { self.target = target }
}

/// A registered agent: one control link and its viewer listeners.
final class AgentSession {
    let sessionID: UInt64
    let agentID: String
    let remoteAddress: String
    let connectedSince = Date()
    let control: Channel
    let targets: [TargetListener]
    internal(set) var isActive = true
    /// STREAM_REGISTERED has been sent: viewers may now be tunnelled (never TUNNEL_OPEN before it).
    internal(set) var isAnnounced = false

    init(sessionID: UInt64, agentID: String, remoteAddress: String, control: Channel, targets: [TunnelTarget]) {
        self.sessionID = sessionID
        self.agentID = agentID
        self.remoteAddress = remoteAddress
        self.control = control
        self.targets = targets.map(TargetListener.init)
    }

    func send(_ message: Message) {
        let bytes = message.encoded()
        var buffer = control.allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        control.writeAndFlush(buffer, promise: nil)
    }
}
