import CamNIO
import NIOCore

extension EndpointState {
    /// How long a new link has for its TLS handshake, upgrade, HELLO and login.
    static let handshakeTimeout: TimeAmount = .seconds(10)

    /// Sets up one accepted agent link: --max-pending admission first (a link
    /// over the cap is closed at once), then [TLS] → LinkKeepaliveHandler →
    /// LinkDecoder → EndpointLinkHandler. The server's child channel
    /// initializer, and what the handler tests put on an EmbeddedChannel.
    public func initializeAgentLink(_ channel: Channel, tls: AgentLinkTLS?) -> EventLoopFuture<Void> {
        let remote = describeRemote(channel.remoteAddress)
        guard let slot = admission.pendingLinks.admit(channel, component: component) else {
            return channel.close()
        }
        let keepalive = LinkKeepaliveHandler(component: component, handshakeTimeout: Self.handshakeTimeout,
                                             heartbeatInterval: .seconds(Int64(settings.link.heartbeatSeconds)),
                                             peerTimeout: .seconds(Int64(settings.link.peerTimeoutSeconds)),
                                             pendingSlot: slot)
        return channel.eventLoop.makeCompletedFuture {
            try tls?.addHandlers(to: channel, component: component)
            try channel.pipeline.syncOperations.addHandler(keepalive)
            try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(LinkDecoder()))
            try channel.pipeline.syncOperations.addHandler(EndpointLinkHandler(state: self, keepalive: keepalive, remote: remote))
        }
    }
}
