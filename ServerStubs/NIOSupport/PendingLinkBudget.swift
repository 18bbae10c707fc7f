import NIOCore

/// --max-pending for every camagent server: how many agent links may be
/// mid-handshake at once, in all and from one address. Without the cap idle
/// or slow connections (slowloris) exhaust the server; without the second
/// bound a single address can hold every slot for the whole handshake timeout
/// and lock every camera out. The table holds only addresses with a link
/// mid-handshake, so it is bounded by `limit`. Used from that server's single
/// event loop only.
public final class PendingLinkBudget {
    public enum Refusal: Equatable {
        case full
        case fullForAddress
    }

    public let limit: Int
    public let perAddressLimit: Int
    public private(set) var inUse = 0
    private var byAddress: [String: Int] = [:]

    /// Without `perAddressLimit` one address may take every slot.
    public init(limit: Int, perAddressLimit: Int? = nil) {
        self.limit = limit
        self.perAddressLimit = min(perAddressLimit ?? limit, limit)
    }

    /// Admission of a freshly accepted agent link, called from the child
    /// channel initializer before any handler is added, so a refused link
    /// costs no TLS handshake and reaches no login metric. On refusal it logs
    /// the one line both servers write and returns nil: close the channel.
    public func admit(_ channel: Channel, component: String) -> PendingLinkSlot? {
        let address = channel.remoteAddress?.ipAddress ?? "?"
        if let refusal = admit(address: address) {
            ServerLog.warn(component, "\(describeRemote(channel.remoteAddress)): refused, \(explain(refusal, address: address))")
            return nil
        }
        return PendingLinkSlot(budget: self, address: address)
    }

    public func explain(_ refusal: Refusal, address: String) -> String {
        switch refusal {
        case .full:
            return "already \(limit) connections mid-handshake (--max-pending)"
        case .fullForAddress:
            return "already \(perAddressLimit) connections mid-handshake from \(address) (--max-pending-per-address)"
        }
    }

    /// Takes a slot for `address` (an IP without port), or says why not.
    public func admit(address: String) -> Refusal? {
        guard inUse < limit else { return .full }
        let held = byAddress[address, default: 0]
        guard held < perAddressLimit else { return .fullForAddress }
        inUse += 1
        byAddress[address] = held + 1
        return nil
    }

    public func release(address: String) {
        inUse -= 1
        let held = byAddress[address, default: 1] - 1
        byAddress[address] = held > 0 ? held : nil
    }

    /// Addresses holding a slot now (for tests and the admin view).
    public var addressesHoldingSlots: Int { byAddress.count }
}

/// One admitted link's slot. A link leaves its handshake by several roads
/// (authenticated, turned into a tunnel, closed, torn down) and some take more
/// than one, so releasing twice must give the slot back once.
public final class PendingLinkSlot {
    private var budget: PendingLinkBudget?
    private let address: String

    init(budget: PendingLinkBudget, address: String) {
        self.budget = budget
        self.address = address
    }

    public var isHeld: Bool { budget != nil }

    public func release() {
        guard let budget else { return }
        self.budget = nil
        budget.release(address: address)
    }
}
