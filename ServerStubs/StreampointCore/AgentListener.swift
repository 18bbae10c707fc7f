import CamNIO
import NIOCore
import NIOPosix

/// The agent-facing listener: every accepted link takes a `pendingBudget` slot
/// (--max-pending) or is closed at once, then runs [NIOSSLServerHandler →
/// TLSLinkObserver, with --tls-cert] → LinkKeepaliveHandler → ByteToMessageHandler(LinkDecoder)
/// → AgentLinkHandler.
public func bindAgentListener(group: EventLoopGroup, address: HostPort, config: StreampointConfig,
                       registry: StreampointRegistry, tls: AgentLinkTLS?, pendingBudget: PendingLinkBudget) throws -> Channel {
    try ServerBootstrap(group: group)
        .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
        .serverChannelOption(ChannelOptions.backlog, value: 1024)
        .childChannelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
        .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
        .childChannelInitializer { channel in
            guard let slot = pendingBudget.admit(channel, component: "streampoint") else {
                return channel.close()
            }
            return channel.eventLoop.makeCompletedFuture {
                try tls?.addHandlers(to: channel, component: "streampoint")
                let keepalive = LinkKeepaliveHandler(component: "streampoint",
                                                     heartbeatInterval: config.heartbeat,
                                                     peerTimeout: config.peerTimeout,
                                                     pendingSlot: slot)
                try channel.pipeline.syncOperations.addHandlers([
                    keepalive,
                    ByteToMessageHandler(LinkDecoder()),
                    AgentLinkHandler(registry: registry, keepalive: keepalive),
                ])
            }
        }
        .bind(host: address.host, port: address.port).wait()
}
