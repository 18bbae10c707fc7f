/// Failed console logins, limited per operator name and per source address,
/// so that guessing passwords is slow whichever of the two an attacker varies.
/// Pure and bounded: FailureWindows, the same rule as the agents' FailureLimiter.
public struct LoginThrottle: Sendable {
    public typealias Rule = FailureWindows.Rule

    public static let perName = Rule(maxFailures: 5, window: 60, penalty: 60)
    /// Higher: operators behind one NAT share an address.
    public static let perAddress = Rule(maxFailures: 20, window: 60, penalty: 60)

    private var byName: FailureWindows
    private var byAddress: FailureWindows

    public init(perName: Rule = LoginThrottle.perName, perAddress: Rule = LoginThrottle.perAddress, capacity: Int = 4096) {
        byName = FailureWindows(rule: perName, capacity: capacity)
        byAddress = FailureWindows(rule: perAddress, capacity: capacity)
    }

    /// Seconds until an attempt for `name` from `address` may be checked; 0 means now.
    public func retryAfter(name: String, address: String, now: Double) -> Double {
        max(0, byName.blockedUntil(name) - now, byAddress.blockedUntil(address) - now)
    }

    public mutating func recordFailure(name: String, address: String, now: Double) {
        byName.recordFailure(name, now: now)
        byAddress.recordFailure(address, now: now)
    }

    /// A correct password: the name's failures are forgotten; the address's stay.
    public mutating func recordSuccess(name: String) {
        byName.forget(name)
    }
}
