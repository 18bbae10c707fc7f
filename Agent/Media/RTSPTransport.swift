/// One alternative of a Transport header (RFC 2326 §12.39), e.g.
/// `RTP/AVP/TCP;unicast;interleaved=0-1` or `RTP/AVP;unicast;client_port=5000-5001`.
public struct RTSPTransport: Sendable, Equatable {
    public enum LowerTransport: Sendable, Equatable { case udp, tcp }

    /// A pair of interleaved channels or ports: RTP on the first, RTCP on the second.
    public struct Pair: Sendable, Equatable {
        public var rtp: Int
        public var rtcp: Int
        public init(rtp: Int, rtcp: Int) {
            self.rtp = rtp
            self.rtcp = rtcp
        }
    }

    /// "RTP/AVP" (or "RTP/SAVP"), without the lower transport.
    public var profile: String
    public var lowerTransport: LowerTransport
    public var isMulticast: Bool
    public var interleaved: Pair?
    public var clientPort: Pair?
    public var serverPort: Pair?
    public var ssrc: UInt32?
    public var mode: String?

    public init(profile: String = "RTP/AVP", lowerTransport: LowerTransport, isMulticast: Bool = false,
                interleaved: Pair? = nil, clientPort: Pair? = nil, serverPort: Pair? = nil,
                ssrc: UInt32? = nil, mode: String? = nil) {
        self.profile = profile
        self.lowerTransport = lowerTransport
        self.isMulticast = isMulticast
        self.interleaved = interleaved
        self.clientPort = clientPort
        self.serverPort = serverPort
        self.ssrc = ssrc
        self.mode = mode
    }

    /// Every alternative the header offers, in preference order; alternatives
    /// that do not parse are left out.
    public static func parseList(_ header: String) -> [RTSPTransport] {
        Array(header.utf8).split(separator: 0x2C).compactMap { parse($0) }
    }

    public static func parse(_ spec: String) -> RTSPTransport? { parse(Array(spec.utf8)[...]) }

    static func parse(_ spec: ArraySlice<UInt8>) -> RTSPTransport? {
        let params = splitTrimmed(spec, on: 0x3B)
        guard let protocolSpec = params.first else { return nil }
        let protocolParts = protocolSpec.split(separator: 0x2F, omittingEmptySubsequences: false)
        guard protocolParts.count == 2 || protocolParts.count == 3,
            bytesEqualIgnoringASCIICase(protocolParts[0], "RTP")
        else { return nil }
        var lower = LowerTransport.udp
        if protocolParts.count == 3 {
            if bytesEqualIgnoringASCIICase(protocolParts[2], "TCP") {
                lower = .tcp
            } else if !bytesEqualIgnoringASCIICase(protocolParts[2], "UDP") {
                return nil
            }
        }
        var transport = RTSPTransport(
            profile: string(protocolParts[0]) + "/" + string(protocolParts[1]), lowerTransport: lower)
        for param in params.dropFirst() {
            let nameEnd = param.firstIndex(of: 0x3D) ?? param.endIndex
            let name = trimmedASCIISpaces(param[..<nameEnd])
            let value = nameEnd < param.endIndex ? trimmedASCIISpaces(param[(nameEnd + 1)...]) : param[param.endIndex...]
            if bytesEqualIgnoringASCIICase(name, "multicast") {
                transport.isMulticast = true
            } else if bytesEqualIgnoringASCIICase(name, "interleaved") {
                // A single channel means RTCP on the next one (RFC 2326 §12.39).
                guard let pair = parsePair(value, max: 255) else { return nil }
                transport.interleaved = pair
            } else if bytesEqualIgnoringASCIICase(name, "client_port") {
                transport.clientPort = parsePair(value, max: 65535)
            } else if bytesEqualIgnoringASCIICase(name, "server_port") {
                transport.serverPort = parsePair(value, max: 65535)
            } else if bytesEqualIgnoringASCIICase(name, "ssrc") {
                transport.ssrc = parseHex32(value)
            } else if bytesEqualIgnoringASCIICase(name, "mode") {
                var mode = value
                if mode.count >= 2 && mode.first == 0x22 && mode.last == 0x22 { mode = mode.dropFirst().dropLast() }
                transport.mode = string(mode)
            }
        }
        return transport
    }

    /// The header value for this alternative, as a server answers a SETUP.
    public var headerValue: String {
        var out: [UInt8] = []
        append(profile, to: &out)
        if lowerTransport == .tcp { append("/TCP", to: &out) }
        append(isMulticast ? ";multicast" : ";unicast", to: &out)
        if let interleaved { appendPair(";interleaved=", interleaved, to: &out) }
        if let clientPort { appendPair(";client_port=", clientPort, to: &out) }
        if let serverPort { appendPair(";server_port=", serverPort, to: &out) }
        if let ssrc {
            append(";ssrc=", to: &out)
            append(HexText.encode([UInt8(truncatingIfNeeded: ssrc >> 24), UInt8(truncatingIfNeeded: ssrc >> 16),
                                   UInt8(truncatingIfNeeded: ssrc >> 8), UInt8(truncatingIfNeeded: ssrc)]), to: &out)
        }
        if let mode {
            append(";mode=\"", to: &out)
            append(mode, to: &out)
            out.append(0x22)
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The channels of the first unicast RTP/AVP/TCP alternative, defaulting to
    /// 0-1 when it names none: what a TCP-only server (simcam, the streampoint)
    /// accepts. Nil when only UDP or multicast was offered: answer 461.
    public static func firstInterleavedChannels(in header: String) -> Pair? {
        for transport in parseList(header) where transport.lowerTransport == .tcp && !transport.isMulticast {
            return transport.interleaved ?? Pair(rtp: 0, rtcp: 1)
        }
        return nil
    }

    private static func parsePair(_ value: ArraySlice<UInt8>, max: Int) -> Pair? {
        let parts = value.split(separator: 0x2D, maxSplits: 1, omittingEmptySubsequences: false)
        guard let first = parts.first.flatMap({ parseDecimal(trimmedASCIISpaces($0)) }), first <= max else { return nil }
        if parts.count > 1, let second = parseDecimal(trimmedASCIISpaces(parts[1])), second <= max {
            return Pair(rtp: first, rtcp: second)
        }
        guard first < max else { return nil }
        return Pair(rtp: first, rtcp: first + 1)
    }

    private static func parseHex32(_ value: ArraySlice<UInt8>) -> UInt32? {
        guard !value.isEmpty, value.count <= 8 else { return nil }
        var result: UInt32 = 0
        for byte in value {
            let digit: UInt8
            switch byte {
            case 0x30...0x39: digit = byte - 0x30
            case 0x41...0x46: digit = byte - 0x41 + 10
            case 0x61...0x66: digit = byte - 0x61 + 10
            default: return nil
            }
            result = result << 4 | UInt32(digit)
        }
        return result
    }

    private func appendPair(_ prefix: StaticString, _ pair: Pair, to out: inout [UInt8]) {
        out.append(contentsOf: UnsafeBufferPointer(start: prefix.utf8Start, count: prefix.utf8CodeUnitCount))
        appendASCIIDecimal(pair.rtp, to: &out)
        out.append(0x2D)
        appendASCIIDecimal(pair.rtcp, to: &out)
    }
}

/// The Session header (RFC 2326 §12.37): `id[;timeout=seconds]`.
public struct RTSPSessionHeader: Sendable, Equatable {
    public var id: String
    /// Seconds; RFC 2326 says 60 when absent.
    public var timeout: Int?

    public init(id: String, timeout: Int? = nil) {
        self.id = id
        self.timeout = timeout
    }

    public init?(_ value: String) {
        let params = splitTrimmed(Array(value.utf8)[...], on: 0x3B)
        guard let id = params.first, !id.isEmpty else { return nil }
        self.id = string(id)
        timeout = nil
        for param in params.dropFirst() where bytesHavePrefixIgnoringASCIICase(param, "timeout=") {
            timeout = parseDecimal(trimmedASCIISpaces(param.dropFirst(8)))
        }
    }

    public var headerValue: String {
        guard let timeout else { return id }
        return id + ";timeout=" + decimalText(timeout)
    }
}
