// RTSP 1.0 messages (RFC 2326) as values. The codec that turns bytes into these
// and back lives beside them; the streampoint's ingest client, its RTSP server
// and simcam all speak through these types.

/// Header fields in arrival order; names compare ASCII case-insensitively.
public struct RTSPHeaders: Sendable {
    public var fields: [(name: String, value: String)]

    public init(_ fields: [(name: String, value: String)] = []) { self.fields = fields }

    public subscript(name: String) -> String? {
        for field in fields where asciiCaseInsensitiveEqual(field.name, name) { return field.value }
        return nil
    }

    public mutating func set(_ name: String, _ value: String) {
        fields.removeAll { asciiCaseInsensitiveEqual($0.name, name) }
        fields.append((name: name, value: value))
    }
}

public struct RTSPRequest: Sendable {
    public var method: String
    public var uri: String
    public var headers: RTSPHeaders
    public var body: [UInt8]

    public init(method: String, uri: String, headers: RTSPHeaders = RTSPHeaders(), body: [UInt8] = []) {
        self.method = method
        self.uri = uri
        self.headers = headers
        self.body = body
    }
}

public struct RTSPResponse: Sendable {
    public var status: Int
    public var reason: String
    public var headers: RTSPHeaders
    public var body: [UInt8]

    public init(status: Int, reason: String, headers: RTSPHeaders = RTSPHeaders(), body: [UInt8] = []) {
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body
    }
}

/// Binary data interleaved on the RTSP connection (RFC 2326 §10.12): `$`, the
/// channel, a 16-bit length, then the RTP or RTCP packet.
public struct RTSPInterleavedFrame: Sendable {
    public var channel: UInt8
    public var payload: [UInt8]

    public init(channel: UInt8, payload: [UInt8]) {
        self.channel = channel
        self.payload = payload
    }
}

public enum RTSPMessage: Sendable {
    case request(RTSPRequest)
    case response(RTSPResponse)
    case interleaved(RTSPInterleavedFrame)
}

/// Header names are ASCII; comparing bytes avoids String's Unicode-aware `==`,
/// which pulls normalisation tables into an embedded binary.
@inlinable
public func asciiCaseInsensitiveEqual(_ a: String, _ b: String) -> Bool {
    var left = a.utf8.makeIterator()
    var right = b.utf8.makeIterator()
    while true {
        switch (left.next(), right.next()) {
        case (nil, nil): return true
        case let (x?, y?):
            let lx = (x >= 65 && x <= 90) ? x | 0x20 : x
            let ly = (y >= 65 && y <= 90) ? y | 0x20 : y
            if lx != ly { return false }
        default: return false
        }
    }
}
