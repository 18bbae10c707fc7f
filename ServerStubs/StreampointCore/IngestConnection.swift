import CamNIO
import CamProtocol
import Foundation
import NIOCore
import NIOPosix

/// The streampoint's own connection to a camera target, for the media pull.
///
/// The pull is a tunnel like any viewer's, so it gets the same admission,
/// TUNNEL_OPEN, bind deadline, splice backpressure, revocation and accounting.
/// Its "viewer" is one end of a local socket pair that a ViewerHandler serves;
/// the other end is the pull's RTSP client. One extra local copy per camera
/// (not per viewer) buys a tunnel path with no second implementation.
extension StreampointRegistry {
    public enum IngestRefusal: Error, CustomStringConvertible {
        case agentNotRegistered(String)
        case unknownTarget(agentID: String, target: String)
        case socketPair(Int32)

        public var description: String {
            switch self {
            case .agentNotRegistered(let id): return "agent \(id) is not registered here"
            case .unknownTarget(let id, let target): return "agent \(id) announced no target \(target)"
            case .socketPair(let errno): return "socketpair failed: \(String(cString: strerror(errno)))"
            }
        }
    }

    /// Opens a tunnel to `targetName` of `agentID` and returns the pull's end as a
    /// channel, with `initializer` run on it. The channel closes when the tunnel
    /// ends (agent left, refused, revoked, bind timeout).
    public func openIngestConnection(agentID: String, targetName: String,
                                     initializer: @escaping @Sendable (Channel) -> EventLoopFuture<Void>) -> EventLoopFuture<Channel> {
        eventLoop.assertInEventLoop()
        guard let session = sessions[agentID], session.isActive, session.isAnnounced else {
            return eventLoop.makeFailedFuture(IngestRefusal.agentNotRegistered(agentID))
        }
        guard let target = session.targets.first(where: { $0.target.name == targetName })?.target else {
            return eventLoop.makeFailedFuture(IngestRefusal.unknownTarget(agentID: agentID, target: targetName))
        }
        var fds: [Int32] = [-1, -1]
        let kind = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        guard socketpair(AF_UNIX, kind, 0, &fds) == 0 else {
            return eventLoop.makeFailedFuture(IngestRefusal.socketPair(errno))
        }
        let sessionID = session.sessionID
        let tunnelSide = ClientBootstrap(group: eventLoop)
            .channelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
            .channelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        ViewerHandler(registry: self, sessionID: sessionID, agentID: agentID, target: target,
                                      viewerAddress: "media pull"))
                }
            }
            .withConnectedSocket(fds[0])
        let pullSide = ClientBootstrap(group: eventLoop)
            .channelInitializer(initializer)
            .withConnectedSocket(fds[1])
        tunnelSide.whenFailure { _ in
            pullSide.whenSuccess { $0.close(promise: nil) }
        }
        pullSide.whenFailure { _ in
            tunnelSide.whenSuccess { $0.close(promise: nil) }
        }
        return tunnelSide.and(pullSide).map { $0.1 }
    }
}
