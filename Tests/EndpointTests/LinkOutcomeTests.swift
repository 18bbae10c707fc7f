@testable import EndpointCore
import CamProtocol
import ServerMetrics
import Testing

/// Each agent link counts once, as a login or as an activation, with the
/// first refusal as its reason.
@Suite struct LinkOutcomeTests {
    init() { ServerMetrics.bootstrap(.endpoint) }

    static func value(_ series: String) -> Double {
        ServerMetricsTests.sample(series, in: ServerMetrics.exposition()) ?? -1
    }

    static let activateBegin = Message.activateBegin(serial: "SN1", mac: "", model: "", firmware: "", clientNonce: [1])

    @Test func anActivationRefusedCountsAsAnActivationFailureWithItsFirstReason() {
        let conflict = #"camagent_endpoint_activation_failures_total{reason="identity_conflict"}"#
        let before = Self.value(conflict)
        var outcome = LinkOutcome()
        outcome.received(Self.activateBegin)
        outcome.refused(.identityConflict)
        outcome.refused(.protocolError)
        outcome.closedBeforeLogin()
        outcome.closedBeforeLogin()
        #expect(Self.value(conflict) == before + 1)
    }

    @Test func anIssuedActivationIsNoFailureWhenItsLinkCloses() {
        let issued = "camagent_endpoint_activations_total"
        let disconnected = #"camagent_endpoint_activation_failures_total{reason="disconnected"}"#
        let (issuedBefore, disconnectedBefore) = (Self.value(issued), Self.value(disconnected))
        var outcome = LinkOutcome()
        outcome.received(Self.activateBegin)
        outcome.activated()
        outcome.closedBeforeLogin()
        #expect(Self.value(issued) == issuedBefore + 1)
        #expect(Self.value(disconnected) == disconnectedBefore)
    }

    @Test func aRefusedLoginIsTimedAsRefused() {
        let refusedCount = #"camagent_endpoint_authentication_duration_seconds_count{result="refused"}"#
        let failures = #"camagent_endpoint_login_failures_total{reason="rate_limited"}"#
        let (timedBefore, failedBefore) = (Self.value(refusedCount), Self.value(failures))
        var outcome = LinkOutcome()
        outcome.received(.authBegin(agentID: "cam-1", clientNonce: [1]))
        outcome.refused(.rateLimited)
        outcome.closedBeforeLogin()
        #expect(Self.value(refusedCount) >= timedBefore + 1)
        #expect(Self.value(failures) >= failedBefore + 1)
    }
}
