import CamNIO

/// Who may try to log in or activate, before any proof is checked: the cap on
/// links mid-handshake (--max-pending, PendingLinkBudget, the rule the
/// streampoint applies too), failed attempts per id and address
/// (FailureLimiter), and the one re-activation a confirmed reset allows
/// (ResetAllowances). All on the endpoint's event loop.
struct LoginAdmission {
    /// No per-address cap here: cameras behind one NAT log in through one address.
    let pendingLinks: PendingLinkBudget
    var failures = FailureLimiter()
    var resetAllowances = ResetAllowances()

    init(maxPending: Int) {
        pendingLinks = PendingLinkBudget(limit: maxPending)
    }
}
