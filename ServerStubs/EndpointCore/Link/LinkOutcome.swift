import CamProtocol
import NIOCore
import ServerMetrics

/// One agent link's login or activation as the metrics see it: when it
/// started, the first refusal, and how it ended. Counts each link once.
struct LinkOutcome {
    private let acceptedAt = NIODeadline.now()
    private var authenticationStartedAt: NIODeadline?
    private var isActivation = false
    private var refusal: EndpointMetrics.Refusal?
    private var counted = false

    mutating func received(_ message: Message) {
        switch message {
        case .authBegin: authenticationStartedAt = .now()
        case .activateBegin: isActivation = true
        default: break
        }
    }

    /// The endpoint refused with an ERROR (or an HTTP error); the first one is the reason.
    mutating func refused(_ reason: EndpointMetrics.Refusal) {
        guard refusal == nil else { return }
        refusal = reason
        if let started = authenticationStartedAt {
            EndpointMetrics.authenticationDecided(ok: false, nanoseconds: (NIODeadline.now() - started).nanoseconds)
        }
    }

    mutating func loggedIn() {
        guard !counted else { return }
        counted = true
        let now = NIODeadline.now()
        EndpointMetrics.loginSucceeded(handshakeNanoseconds: (now - acceptedAt).nanoseconds)
        if let started = authenticationStartedAt {
            EndpointMetrics.authenticationDecided(ok: true, nanoseconds: (now - started).nanoseconds)
        }
    }

    mutating func activated() {
        guard !counted else { return }
        counted = true
        EndpointMetrics.activationIssued()
    }

    /// The link closed without a session (reachability checks are not logins and are not reported here).
    mutating func closedBeforeLogin() {
        guard !counted else { return }
        counted = true
        let reason = refusal ?? .disconnected
        if isActivation { EndpointMetrics.activationFailed(reason) } else { EndpointMetrics.loginFailed(reason) }
    }
}
