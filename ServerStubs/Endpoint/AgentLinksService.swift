import CamNIO
import EndpointCore
import NIOCore
import ServiceLifecycle

/// The agent listener as a service of the endpoint's ServiceGroup: on SIGINT
/// or SIGTERM (swift-service-lifecycle) it tells online agents the endpoint
/// is going, ends the streampoint channels, releases this endpoint's presence
/// rows, and closes the listener; the HTTP server stops after it.
struct AgentLinksService: Service {
    let state: EndpointState
    let hub: StreampointHub
    let agentChannel: Channel

    func run() async throws {
        await withGracefulShutdownHandler {
            try? await agentChannel.closeFuture.get()
        } onGracefulShutdown: {
            let loop = state.eventLoop
            let state = self.state, hub = self.hub, agentChannel = self.agentChannel
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
    }
}
