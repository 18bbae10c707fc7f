import CamProtocol

/// What the agent keeps across restarts: the identity activation issued and
/// the endpoint list the endpoint last pushed, with the address each endpoint
/// last answered on, so neither a lost identity nor dead DNS strands a unit.
public struct AgentState: Equatable, Sendable {
    /// Only an identity that activation issued; one fixed in the config is not copied.
    public var identity: AgentIdentity?
    /// The list the endpoint pushed (main first). Empty: the config's endpoints apply.
    public var endpoints: [ServerAddress]
    /// While the config's endpoints apply: the addresses they last answered on.
    public var configEndpointAddresses: [ServerAddress]
    public var mainEndpointRecheckMs: Int64?

    public init(identity: AgentIdentity? = nil, endpoints: [ServerAddress] = [], configEndpointAddresses: [ServerAddress] = [],
                mainEndpointRecheckMs: Int64? = nil) {
        self.identity = identity
        self.endpoints = endpoints
        self.configEndpointAddresses = configEndpointAddresses
        self.mainEndpointRecheckMs = mainEndpointRecheckMs
    }

    public static func == (a: AgentState, b: AgentState) -> Bool {
        a.identity == b.identity && a.mainEndpointRecheckMs == b.mainEndpointRecheckMs
            && sameWithAddresses(a.endpoints, b.endpoints) && sameWithAddresses(a.configEndpointAddresses, b.configEndpointAddresses)
    }

    private static func sameWithAddresses(_ a: [ServerAddress], _ b: [ServerAddress]) -> Bool {
        guard a == b else { return false }
        for index in 0..<a.count where a[index].knownAddress != b[index].knownAddress { return false }
        return true
    }

    /// The endpoint list to start with: the pushed one, else the config's with
    /// the addresses they last answered on.
    public func endpointList(config: AgentConfig) -> [ServerAddress] {
        if !endpoints.isEmpty { return endpoints }
        var list = config.endpoints
        for index in 0..<list.count {
            for known in configEndpointAddresses where known == list[index] { list[index].knownAddress = known.knownAddress }
        }
        return list
    }
}

/// The state file, in the config's own `key = value` form so an operator can
/// read it. It may hold the device key: mode 0600, never logged. The last line
/// marks it complete, so a file cut short is refused rather than half-used.
public enum StateFile {
    static let completeLine = "complete = yes"

    public static func render(_ state: AgentState) -> String {
        var text = "# camagent state: written by the agent; do not edit\n"
        if let identity = state.identity {
            text += "agent_id = \(identity.agentID)\ndevice_key = \(Hex.encode(identity.deviceKey))\n"
        }
        for endpoint in state.endpoints {
            text += "endpoint = \(endpoint.url)"
            if let known = endpoint.knownAddress { text += " \(known)" }
            text += "\n"
        }
        for endpoint in state.configEndpointAddresses {
            if let known = endpoint.knownAddress { text += "known_address = \(endpoint.url) \(known)\n" }
        }
        if let recheck = state.mainEndpointRecheckMs { text += "main_endpoint_recheck_ms = \(recheck)\n" }
        return text + completeLine + "\n"
    }

    /// nil if the text is not a complete, valid state file.
    public static func parse(_ text: String) -> AgentState? {
        var agentID: String?
        var key: [UInt8]?
        var state = AgentState()
        var complete = false
        for rawLine in splitText(text, at: 10, omittingEmpty: true) {
            let line = ConfigParser.stripComment(trimmed(rawLine, carriageReturnsToo: true))
            guard !line.isEmpty else { continue }
            let halves = splitText(line, at: 0x3D, maxSplits: 1)
            guard !complete, halves.count == 2 else { return nil }
            let name = trimmed(halves[0], carriageReturnsToo: true)
            let value = trimmed(halves[1], carriageReturnsToo: true)
            switch name {
            case "agent_id" where Identifier.isValid(value): agentID = value
            case "device_key": key = Hex.decode(value)
            case "endpoint":
                guard state.endpoints.count < ProtocolConstants.maxEndpoints, let endpoint = parseEndpoint(value) else { return nil }
                state.endpoints.append(endpoint)
            case "known_address":
                guard state.configEndpointAddresses.count < ProtocolConstants.maxEndpoints, let endpoint = parseEndpoint(value),
                      endpoint.knownAddress != nil else { return nil }
                state.configEndpointAddresses.append(endpoint)
            case "main_endpoint_recheck_ms":
                guard let ms = parseInteger(value), ms >= 1000 else { return nil }
                state.mainEndpointRecheckMs = ms
            case "complete" where value == "yes": complete = true
            default: return nil
            }
        }
        guard complete else { return nil }
        if agentID != nil || key != nil {
            guard let agentID, let key, ConfigParser.secretSizes.contains(key.count) else { return nil }
            state.identity = AgentIdentity(agentID: agentID, deviceKey: key)
        }
        return state
    }

    /// `URL [known-address]`.
    private static func parseEndpoint(_ value: String) -> ServerAddress? {
        let words = splitText(value, at: 0x20, omittingEmpty: true)
        guard words.count == 1 || words.count == 2 else { return nil }
        guard var address = try? ConfigParser.parseServerURL(words[0], fail: { ConfigError(line: 0, key: "endpoint", problem: $0) }) else {
            return nil
        }
        if words.count == 2 {
            guard isNumericAddress(String(words[1])) else { return nil }
            address.knownAddress = String(words[1])
        }
        return address
    }
}

/// A dotted IPv4 or a colon-hex IPv6 literal (characters only: the runtime's
/// resolver has the last word). Keeps names out of the known-address slot.
public func isNumericAddress(_ text: String) -> Bool {
    guard !text.isEmpty, text.utf8.count <= 45 else { return false }
    var colons = 0
    var dots = 0
    for byte in text.utf8 {
        switch byte {
        case 0x30...0x39: continue
        case 0x2E: dots += 1
        case 0x3A: colons += 1
        case 0x61...0x66, 0x41...0x46: if colons == 0 && dots > 0 { return false }
        default: return false
        }
    }
    return colons >= 2 || (dots == 3 && colons == 0)
}
