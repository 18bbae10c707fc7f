// Client side of RTSP authentication (RFC 2326 borrows HTTP's: RFC 7617 Basic,
// RFC 2617/7616 Digest). The hash is a parameter so that CamMedia needs no
// MD5 of its own: the host passes swift-crypto's.

/// One `WWW-Authenticate` challenge.
public enum RTSPAuthChallenge: Sendable, Equatable {
    case basic(realm: String?)
    case digest(DigestChallenge)

    public struct DigestChallenge: Sendable, Equatable {
        public var realm: String
        public var nonce: String
        public var opaque: String?
        /// As sent ("MD5", "MD5-sess", "SHA-256"...); nil means MD5.
        public var algorithm: String?
        /// The qop options offered, e.g. ["auth", "auth-int"]; empty for RFC 2069 servers.
        public var qop: [String]
        /// The nonce expired but the credentials were right: retry without asking the user.
        public var stale: Bool

        public init(realm: String, nonce: String, opaque: String? = nil, algorithm: String? = nil,
                    qop: [String] = [], stale: Bool = false) {
            self.realm = realm
            self.nonce = nonce
            self.opaque = opaque
            self.algorithm = algorithm
            self.qop = qop
            self.stale = stale
        }

        /// Whether the answer hashes with MD5 (nil, "MD5" or "MD5-sess").
        public var usesMD5: Bool {
            guard let algorithm else { return true }
            return textEqualsIgnoringASCIICase(algorithm, "MD5") || textEqualsIgnoringASCIICase(algorithm, "MD5-sess")
        }

        var isSessionVariant: Bool {
            guard let algorithm else { return false }
            let bytes = Array(algorithm.utf8)
            return bytes.count >= 5 && bytesEqualIgnoringASCIICase(bytes[(bytes.count - 5)...], "-sess")
        }
    }

    /// Parses one header value; nil for other schemes or a Digest challenge
    /// without realm or nonce.
    public init?(_ headerValue: String) {
        let bytes = Array(headerValue.utf8)
        let trimmed = trimmedASCIISpaces(bytes[...])
        let schemeEnd = trimmed.firstIndex(where: isASCIISpace) ?? trimmed.endIndex
        let scheme = trimmed[..<schemeEnd]
        let parameters = Self.parseParameters(trimmed[schemeEnd...])
        func parameter(_ name: StaticString) -> String? {
            for item in parameters where bytesEqualIgnoringASCIICase(Array(item.name.utf8)[...], name) { return item.value }
            return nil
        }
        if bytesEqualIgnoringASCIICase(scheme, "Basic") {
            self = .basic(realm: parameter("realm"))
        } else if bytesEqualIgnoringASCIICase(scheme, "Digest") {
            guard let realm = parameter("realm"), let nonce = parameter("nonce") else { return nil }
            let qop = parameter("qop").map { value in
                splitTrimmed(Array(value.utf8)[...], on: 0x2C).filter { !$0.isEmpty }.map { string($0) }
            } ?? []
            let stale = parameter("stale").map { textEqualsIgnoringASCIICase($0, "true") } ?? false
            self = .digest(DigestChallenge(realm: realm, nonce: nonce, opaque: parameter("opaque"),
                                           algorithm: parameter("algorithm"), qop: qop, stale: stale))
        } else {
            return nil
        }
    }

    /// The challenge to answer among a 401's `WWW-Authenticate` headers: MD5
    /// Digest first, then Basic; nil if none is usable.
    public static func preferred(in headers: RTSPHeaders) -> RTSPAuthChallenge? {
        var basic: RTSPAuthChallenge?
        for field in headers.fields where asciiCaseInsensitiveEqual(field.name, "WWW-Authenticate") {
            switch RTSPAuthChallenge(field.value) {
            case .digest(let challenge)? where challenge.usesMD5: return .digest(challenge)
            case .basic(let realm)?: if basic == nil { basic = .basic(realm: realm) }
            default: break
            }
        }
        return basic
    }

    /// `name=value` and `name="quoted \"value\""` pairs separated by commas.
    static func parseParameters(_ bytes: ArraySlice<UInt8>) -> [(name: String, value: String)] {
        var result: [(name: String, value: String)] = []
        var index = bytes.startIndex
        let end = bytes.endIndex
        while index < end {
            while index < end && (isASCIISpace(bytes[index]) || bytes[index] == 0x2C) { index += 1 }
            let nameStart = index
            while index < end && bytes[index] != 0x3D && bytes[index] != 0x2C { index += 1 }
            let name = trimmedASCIISpaces(bytes[nameStart..<index])
            guard index < end, bytes[index] == 0x3D else {
                if !name.isEmpty { result.append((name: string(name), value: "")) }
                continue
            }
            index += 1
            while index < end && isASCIISpace(bytes[index]) { index += 1 }
            var value: [UInt8] = []
            if index < end && bytes[index] == 0x22 {
                index += 1
                while index < end && bytes[index] != 0x22 {
                    if bytes[index] == 0x5C && index + 1 < end { index += 1 }
                    value.append(bytes[index])
                    index += 1
                }
                index += 1
            } else {
                let valueStart = index
                while index < end && bytes[index] != 0x2C { index += 1 }
                value = Array(trimmedASCIISpaces(bytes[valueStart..<index]))
            }
            if !name.isEmpty { result.append((name: string(name), value: String(decoding: value, as: UTF8.self))) }
        }
        return result
    }
}

/// A request's `Authorization` header as a server (simcam) reads it, to check
/// a client's answer: Basic's user and password, or Digest's parameters.
public enum RTSPAuthorizationOffer: Sendable, Equatable {
    case basic(username: String, password: String)
    case digest(RTSPDigestParameters)

    /// nil for other schemes, or Basic that is not base64 of `user:password`.
    public init?(_ headerValue: String) {
        let bytes = Array(headerValue.utf8)
        let trimmed = trimmedASCIISpaces(bytes[...])
        let schemeEnd = trimmed.firstIndex(where: isASCIISpace) ?? trimmed.endIndex
        let scheme = trimmed[..<schemeEnd]
        if bytesEqualIgnoringASCIICase(scheme, "Basic") {
            guard let decoded = Base64.decode(string(trimmedASCIISpaces(trimmed[schemeEnd...]))),
                  let colon = decoded.firstIndex(of: 0x3A) else { return nil }
            self = .basic(username: string(decoded[..<colon]), password: string(decoded[(colon + 1)...]))
        } else if bytesEqualIgnoringASCIICase(scheme, "Digest") {
            self = .digest(RTSPDigestParameters(RTSPAuthChallenge.parseParameters(trimmed[schemeEnd...])))
        } else {
            return nil
        }
    }
}

/// `name=value` pairs of a Digest header, looked up without regard to case.
public struct RTSPDigestParameters: Sendable, Equatable {
    public var items: [RTSPDigestParameter]

    init(_ pairs: [(name: String, value: String)]) {
        items = pairs.map { RTSPDigestParameter(name: $0.name, value: $0.value) }
    }

    public subscript(name: String) -> String? {
        for item in items where asciiCaseInsensitiveEqual(item.name, name) { return item.value }
        return nil
    }
}

public struct RTSPDigestParameter: Sendable, Equatable {
    public var name: String
    public var value: String
}

public enum RTSPAuthorization {
    /// `Basic base64(user:password)` (RFC 7617).
    public static func basic(username: String, password: String) -> String {
        "Basic " + Base64.encode(Array(username.utf8) + [0x3A] + Array(password.utf8))
    }

    /// The `Authorization` value answering a Digest challenge (RFC 2617 §3.2.2,
    /// RFC 7616 §3.4). `hash` must be the challenge's algorithm (MD5 unless it
    /// names another); `cnonce` should be fresh random text per nonce, and
    /// `nonceCount` counts the requests made with this nonce, from 1. With qop
    /// offered, "auth" is used; without, the RFC 2069 form.
    public static func digest(challenge: RTSPAuthChallenge.DigestChallenge, username: String, password: String,
                              method: String, uri: String, cnonce: String, nonceCount: UInt32,
                              hash: ([UInt8]) -> [UInt8]) -> String {
        func hex(_ text: String) -> String { HexText.encode(hash(Array(text.utf8)), uppercase: false) }
        let usesQop = challenge.qop.contains { textEqualsIgnoringASCIICase($0, "auth") }
        let nc = HexText.encode([UInt8(truncatingIfNeeded: nonceCount >> 24), UInt8(truncatingIfNeeded: nonceCount >> 16),
                                 UInt8(truncatingIfNeeded: nonceCount >> 8), UInt8(truncatingIfNeeded: nonceCount)],
                                uppercase: false)
        var ha1 = hex(username + ":" + challenge.realm + ":" + password)
        if challenge.isSessionVariant { ha1 = hex(ha1 + ":" + challenge.nonce + ":" + cnonce) }
        let ha2 = hex(method + ":" + uri)
        let response = usesQop
            ? hex(ha1 + ":" + challenge.nonce + ":" + nc + ":" + cnonce + ":auth:" + ha2)
            : hex(ha1 + ":" + challenge.nonce + ":" + ha2)

        var value = "Digest username=\"" + quoted(username) + "\", realm=\"" + quoted(challenge.realm)
            + "\", nonce=\"" + quoted(challenge.nonce) + "\", uri=\"" + quoted(uri) + "\""
        if let algorithm = challenge.algorithm { value += ", algorithm=" + algorithm }
        if usesQop { value += ", qop=auth, nc=" + nc + ", cnonce=\"" + quoted(cnonce) + "\"" }
        value += ", response=\"" + response + "\""
        if let opaque = challenge.opaque { value += ", opaque=\"" + quoted(opaque) + "\"" }
        return value
    }

    private static func quoted(_ text: String) -> String {
        var out: [UInt8] = []
        for byte in text.utf8 {
            if byte == 0x22 || byte == 0x5C { out.append(0x5C) }
            out.append(byte)
        }
        return String(decoding: out, as: UTF8.self)
    }
}
