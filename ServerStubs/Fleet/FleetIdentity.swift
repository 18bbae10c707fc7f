import CamProtocol

/// Who simulated agent number `index` is. `make-registry` and `run` both derive
/// every identity from the seed file, so 10,000 agents need no 10,000 key files
/// and the registry and the fleet always agree.
struct FleetIdentity {
    /// Ids are `<prefix><index>`, zero-padded to six digits: fleet-000001.
    static let defaultPrefix = "fleet-"
    static let maxCount = 999_999

    let seed: [UInt8]
    let prefix: String

    func agentID(_ index: Int) -> String {
        let digits = String(index)
        return prefix + String(repeating: "0", count: max(0, 6 - digits.count)) + digits
    }

    /// A 32-byte device key unique to the agent id; anyone without the seed
    /// cannot compute it (HMAC-SHA256 keyed by the seed).
    func deviceKey(agentID: String) -> [UInt8] {
        hmacSHA256(key: seed, message: Array("camagent-fleet device key v1:\(agentID)".utf8))
    }

    /// What the endpoint stores: the same verifier `camagent-endpoint enroll` computes.
    func verifier(agentID: String) -> [UInt8] {
        Authentication.verifier(deviceKey: deviceKey(agentID: agentID), agentID: agentID)
    }
}
