/// Mutual challenge-response over HMAC-SHA256 (docs/PROTOCOL.md §5).
///
/// The endpoint stores only the verifier, an HMAC of the device key bound to
/// the agent id; both proofs are keyed with it. The device key itself never
/// leaves the camera and is never on the wire. Each proof covers both nonces,
/// so a recorded session cannot be replayed against a fresh challenge.
public enum Authentication {
    public static func verifier(deviceKey: [UInt8], agentID: String) -> [UInt8] {
        var message = Array("camagent verifier v1".utf8)
        message.append(0)
        message.append(contentsOf: agentID.utf8)
        return hmacSHA256(key: deviceKey, message: message)
    }

    public static func clientProof(verifier: [UInt8], agentID: String, clientNonce: [UInt8], serverNonce: [UInt8]) -> [UInt8] {
        proof(label: "camagent client proof v1", verifier: verifier, agentID: agentID,
              clientNonce: clientNonce, serverNonce: serverNonce)
    }

    public static func serverProof(verifier: [UInt8], agentID: String, clientNonce: [UInt8], serverNonce: [UInt8]) -> [UInt8] {
        proof(label: "camagent server proof v1", verifier: verifier, agentID: agentID,
              clientNonce: clientNonce, serverNonce: serverNonce)
    }

    private static func proof(label: String, verifier: [UInt8], agentID: String, clientNonce: [UInt8], serverNonce: [UInt8]) -> [UInt8] {
        // The label separates the two directions: a server proof is never a valid client proof.
        var w = ByteWriter(capacity: 128)
        w.string(label)
        w.string(agentID)
        w.raw(clientNonce)
        w.raw(serverNonce)
        return hmacSHA256(key: verifier, message: w.bytes)
    }
}

/// Factory activation (docs/PROTOCOL.md §5.6): the same challenge-response as
/// Authentication, keyed with a verifier of the unit's activation secret, and
/// the new device key sent wrapped in a one-time pad derived from both nonces.
public enum Activation {
    public static func verifier(activationSecret: [UInt8], serial: String) -> [UInt8] {
        var message = Array("camagent activation v1".utf8)
        message.append(0)
        message.append(contentsOf: serial.utf8)
        return hmacSHA256(key: activationSecret, message: message)
    }

    public static func clientProof(verifier: [UInt8], serial: String, clientNonce: [UInt8], serverNonce: [UInt8]) -> [UInt8] {
        derive("camagent activation client proof v1", verifier, serial, clientNonce, serverNonce)
    }

    public static func serverProof(verifier: [UInt8], serial: String, clientNonce: [UInt8], serverNonce: [UInt8]) -> [UInt8] {
        derive("camagent activation server proof v1", verifier, serial, clientNonce, serverNonce)
    }

    /// XOR pad for the 32-byte device key; fresh nonces make it single-use.
    public static func keyPad(verifier: [UInt8], serial: String, clientNonce: [UInt8], serverNonce: [UInt8]) -> [UInt8] {
        derive("camagent activation key wrap v1", verifier, serial, clientNonce, serverNonce)
    }

    public static func xor(_ a: [UInt8], _ b: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        for i in 0..<min(a.count, b.count) { out.append(a[i] ^ b[i]) }
        return out
    }

    private static func derive(_ label: String, _ verifier: [UInt8], _ serial: String,
                               _ clientNonce: [UInt8], _ serverNonce: [UInt8]) -> [UInt8] {
        var w = ByteWriter(capacity: 128)
        w.string(label)
        w.string(serial)
        w.raw(clientNonce)
        w.raw(serverNonce)
        return hmacSHA256(key: verifier, message: w.bytes)
    }
}
