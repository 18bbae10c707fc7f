// The SDP subset (RFC 4566) that cameras send in a DESCRIBE answer and that
// simcam and the streampoint's RTSP server write: session and media sections,
// rtpmap/fmtp/control attributes. Parsing keeps every line it understands in
// order, so a parsed description written back out says the same thing.

public enum SDPError: Error, Equatable, Sendable {
    /// The text does not begin with `v=0`.
    case notSDP
    /// An `m=` line without media, port, protocol and format.
    case badMediaLine
    case tooManyMedia
}

/// `a=name` or `a=name:value`.
public struct SDPAttribute: Sendable, Equatable {
    public var name: String
    public var value: String?

    public init(_ name: String, _ value: String? = nil) {
        self.name = name
        self.value = value
    }
}

/// `a=fmtp` parameters: `name=value` pairs separated by `;`. Names compare
/// case-insensitively (RFC 6184 §8.1 and friends).
public struct SDPFormatParameters: Sendable, Equatable {
    public struct Parameter: Sendable, Equatable {
        public var name: String
        public var value: String
        public init(_ name: String, _ value: String) {
            self.name = name
            self.value = value
        }
    }

    public var parameters: [Parameter]

    public init(_ parameters: [Parameter] = []) { self.parameters = parameters }

    init(parsing text: ArraySlice<UInt8>) {
        parameters = []
        for item in splitTrimmed(text, on: 0x3B) where !item.isEmpty {
            // Split at the first `=` only: base64 values end in `=` padding.
            if let equals = item.firstIndex(of: 0x3D) {
                parameters.append(Parameter(string(trimmedASCIISpaces(item[..<equals])),
                                            string(trimmedASCIISpaces(item[(equals + 1)...]))))
            } else {
                parameters.append(Parameter(string(item), ""))
            }
        }
    }

    public subscript(name: String) -> String? {
        for parameter in parameters where asciiCaseInsensitiveEqual(parameter.name, name) { return parameter.value }
        return nil
    }

    public func integer(_ name: String) -> Int? { self[name].flatMap { parseDecimal($0) } }

    var text: String {
        var out: [UInt8] = []
        for (index, parameter) in parameters.enumerated() {
            if index > 0 { out.append(0x3B) }
            append(parameter.name, to: &out)
            out.append(0x3D)
            append(parameter.value, to: &out)
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// `a=rtpmap:<pt> <encoding>/<clock rate>[/<channels>]`.
public struct SDPRTPMap: Sendable, Equatable {
    public var encoding: String
    public var clockRate: UInt32
    public var channels: Int

    public init(encoding: String, clockRate: UInt32, channels: Int = 1) {
        self.encoding = encoding
        self.clockRate = clockRate
        self.channels = channels
    }
}

/// One `m=` section.
public struct SDPMedia: Sendable, Equatable {
    /// "video", "audio", "application"...
    public var kind: String
    public var port: Int
    /// "RTP/AVP".
    public var transportProtocol: String
    /// Payload types as written on the m= line; cameras give one per track.
    public var formats: [String]
    public var information: String?
    public var connection: String?
    /// `b=` values as written, e.g. "AS:4096".
    public var bandwidths: [String]
    /// Every `a=` line in order, rtpmap, fmtp and control included.
    public var attributes: [SDPAttribute]

    public init(kind: String, port: Int = 0, transportProtocol: String = "RTP/AVP", formats: [String],
                information: String? = nil, connection: String? = nil, bandwidths: [String] = [],
                attributes: [SDPAttribute] = []) {
        self.kind = kind
        self.port = port
        self.transportProtocol = transportProtocol
        self.formats = formats
        self.information = information
        self.connection = connection
        self.bandwidths = bandwidths
        self.attributes = attributes
    }

    public func attribute(_ name: String) -> String? {
        for attribute in attributes where asciiCaseInsensitiveEqual(attribute.name, name) { return attribute.value ?? "" }
        return nil
    }

    /// The track's payload type: the first format on the m= line.
    public var payloadType: UInt8? {
        guard let first = formats.first, let value = parseDecimal(first), value < 128 else { return nil }
        return UInt8(value)
    }

    public var control: String? { attribute("control") }

    /// `b=AS:` in kbit/s.
    public var bandwidthKbps: Int? {
        for bandwidth in bandwidths where textHasPrefixIgnoringASCIICase(bandwidth, "AS:") {
            return parseDecimal(Array(bandwidth.utf8)[3...])
        }
        return nil
    }

    /// The rtpmap of the track's payload type; for the static G.711 types
    /// (RFC 3551) the implied one when the camera sent none.
    public var rtpMap: SDPRTPMap? {
        guard let payloadType else { return nil }
        if let value = attributeForPayloadType("rtpmap") {
            let parts = Array(value.utf8).split(separator: 0x2F, omittingEmptySubsequences: false)
            if parts.count >= 2, let rate = parseDecimal(trimmedASCIISpaces(parts[1])), rate > 0, rate <= Int(UInt32.max) {
                var channels = 1
                if parts.count >= 3, let count = parseDecimal(trimmedASCIISpaces(parts[2])), count > 0 { channels = count }
                return SDPRTPMap(encoding: string(trimmedASCIISpaces(parts[0])), clockRate: UInt32(rate), channels: channels)
            }
        }
        switch payloadType {
        case 0: return SDPRTPMap(encoding: "PCMU", clockRate: 8000)
        case 8: return SDPRTPMap(encoding: "PCMA", clockRate: 8000)
        default: return nil
        }
    }

    /// The fmtp of the track's payload type (empty when there is none).
    public var formatParameters: SDPFormatParameters {
        guard let value = attributeForPayloadType("fmtp") else { return SDPFormatParameters() }
        return SDPFormatParameters(parsing: Array(value.utf8)[...])
    }

    public var codec: MediaCodec? {
        guard let encoding = rtpMap?.encoding else { return nil }
        if textEqualsIgnoringASCIICase(encoding, "H264") { return .h264 }
        if textEqualsIgnoringASCIICase(encoding, "H265") || textEqualsIgnoringASCIICase(encoding, "HEVC") { return .h265 }
        if textEqualsIgnoringASCIICase(encoding, "MPEG4-GENERIC") { return .aac }
        if textEqualsIgnoringASCIICase(encoding, "PCMU") { return .pcmu }
        if textEqualsIgnoringASCIICase(encoding, "PCMA") { return .pcma }
        return nil
    }

    /// `a=framerate:` as written (e.g. "25" or "29.970").
    public var frameRate: String? { attribute("framerate") }

    /// What a viewer output needs before the first frame; nil for a codec
    /// CamMedia does not carry (MJPEG, LATM, metadata...). Picture size stays 0:
    /// it comes from parsing the SPS.
    public func trackDescription() -> TrackDescription? {
        guard let codec, let payloadType, let map = rtpMap else { return nil }
        var track = TrackDescription(codec: codec, clockRate: map.clockRate, payloadType: payloadType,
                                     channels: codec.isVideo ? 1 : map.channels)
        let parameters = formatParameters
        switch codec {
        case .h264:
            for set in (parameters["sprop-parameter-sets"] ?? "").utf8.split(separator: 0x2C) {
                guard let nal = Base64.decode(string(trimmedASCIISpaces(Array(set)[...]))), let header = nal.first else { continue }
                if header & 0x1F == 7 && track.sps.isEmpty { track.sps = nal }
                if header & 0x1F == 8 && track.pps.isEmpty { track.pps = nal }
            }
        case .h265:
            track.vps = firstParameterSet(parameters["sprop-vps"])
            track.sps = firstParameterSet(parameters["sprop-sps"])
            track.pps = firstParameterSet(parameters["sprop-pps"])
        case .aac:
            track.audioConfig = parameters["config"].flatMap { HexText.decode(trimmedASCIISpaces($0)) } ?? []
        case .pcmu, .pcma:
            break
        }
        return track
    }

    /// The section that describes `track`: rtpmap and fmtp from its codec and
    /// parameter sets, then `extraAttributes` (framerate, framesize...), then the control URL.
    public init(track: TrackDescription, control: String, bandwidthKbps: Int? = nil,
                extraAttributes: [SDPAttribute] = []) {
        let payloadType = decimalText(Int(track.payloadType))
        self.init(kind: track.codec.isVideo ? "video" : "audio", formats: [payloadType])
        if let bandwidthKbps { bandwidths = ["AS:" + decimalText(bandwidthKbps)] }
        let rate = decimalText(Int(track.clockRate))
        let channels = track.channels > 1 ? "/" + decimalText(track.channels) : ""
        var parameters = SDPFormatParameters()
        switch track.codec {
        case .h264:
            attributes.append(SDPAttribute("rtpmap", payloadType + " H264/" + rate))
            parameters.parameters.append(.init("packetization-mode", "1"))
            let sets = [track.sps, track.pps].filter { !$0.isEmpty }.map { Base64.encode($0) }
            if !sets.isEmpty { parameters.parameters.append(.init("sprop-parameter-sets", joined(sets, ","))) }
            if track.sps.count >= 4 {
                parameters.parameters.append(.init("profile-level-id", HexText.encode(Array(track.sps[1...3]))))
            }
        case .h265:
            attributes.append(SDPAttribute("rtpmap", payloadType + " H265/" + rate))
            if !track.vps.isEmpty { parameters.parameters.append(.init("sprop-vps", Base64.encode(track.vps))) }
            if !track.sps.isEmpty { parameters.parameters.append(.init("sprop-sps", Base64.encode(track.sps))) }
            if !track.pps.isEmpty { parameters.parameters.append(.init("sprop-pps", Base64.encode(track.pps))) }
        case .aac:
            attributes.append(SDPAttribute("rtpmap", payloadType + " MPEG4-GENERIC/" + rate + channels))
            // AAC-hbr as RFC 3640 §3.3.6 defines it: 13-bit sizes, 3-bit indices.
            parameters.parameters += [
                .init("streamtype", "5"), .init("profile-level-id", "1"), .init("mode", "AAC-hbr"),
                .init("sizelength", "13"), .init("indexlength", "3"), .init("indexdeltalength", "3"),
                .init("config", HexText.encode(track.audioConfig)),
            ]
        case .pcmu:
            attributes.append(SDPAttribute("rtpmap", payloadType + " PCMU/" + rate + channels))
        case .pcma:
            attributes.append(SDPAttribute("rtpmap", payloadType + " PCMA/" + rate + channels))
        }
        if !parameters.parameters.isEmpty { attributes.append(SDPAttribute("fmtp", payloadType + " " + parameters.text)) }
        attributes += extraAttributes
        attributes.append(SDPAttribute("control", control))
    }

    /// The value of `a=<name>:<pt> <value>` for this track's payload type.
    private func attributeForPayloadType(_ name: String) -> String? {
        guard let payloadType = formats.first else { return nil }
        let wanted = Array(payloadType.utf8)
        for attribute in attributes where asciiCaseInsensitiveEqual(attribute.name, name) {
            let value = Array((attribute.value ?? "").utf8)
            let space = value.firstIndex(where: isASCIISpace) ?? value.endIndex
            if Array(value[..<space]) == wanted { return string(trimmedASCIISpaces(value[space...])) }
        }
        return nil
    }

    private func firstParameterSet(_ value: String?) -> [UInt8] {
        guard let value, let first = value.utf8.split(separator: 0x2C).first else { return [] }
        return Base64.decode(string(trimmedASCIISpaces(Array(first)[...]))) ?? []
    }
}

/// A whole session description.
public struct SessionDescription: Sendable, Equatable {
    public static let maxMedia = 16

    /// `o=` as written: `<user> <session id> <version> IN IP4 <address>`.
    public var origin: String
    public var name: String
    public var information: String?
    public var connection: String?
    public var bandwidths: [String]
    /// `t=`; "0 0" for a live stream.
    public var timing: String
    /// Session-level `a=` lines in order (tool, type, range, control...).
    public var attributes: [SDPAttribute]
    public var media: [SDPMedia]

    public init(origin: String, name: String, information: String? = nil, connection: String? = nil,
                bandwidths: [String] = [], timing: String = "0 0", attributes: [SDPAttribute] = [],
                media: [SDPMedia] = []) {
        self.origin = origin
        self.name = name
        self.information = information
        self.connection = connection
        self.bandwidths = bandwidths
        self.timing = timing
        self.attributes = attributes
        self.media = media
    }

    /// Lines this subset does not model (u=, e=, p=, z=, k=, r=) are skipped;
    /// so are lines that are not `<letter>=`. CRLF and bare LF both end lines.
    public init(parsing text: String) throws(SDPError) {
        self.init(origin: "", name: "")
        var sawVersion = false
        for rawLine in Array(text.utf8).split(separator: 0x0A) {
            let line = rawLine.last == 0x0D ? rawLine.dropLast() : rawLine
            guard line.count >= 2, line[line.startIndex + 1] == 0x3D else {
                if !sawVersion && !trimmedASCIISpaces(line).isEmpty { throw .notSDP }
                continue
            }
            let type = line[line.startIndex]
            let value = line.dropFirst(2)
            if !sawVersion {
                guard type == 0x76, trimmedASCIISpaces(value).elementsEqual([0x30]) else { throw .notSDP }
                sawVersion = true
                continue
            }
            if type == 0x6D {
                guard media.count < Self.maxMedia else { throw .tooManyMedia }
                media.append(try Self.parseMediaLine(value))
                continue
            }
            let text = string(value)
            if media.isEmpty {
                switch type {
                case 0x6F: origin = text
                case 0x73: name = text
                case 0x69: information = text
                case 0x63: connection = text
                case 0x62: bandwidths.append(text)
                case 0x74: timing = text
                case 0x61: attributes.append(Self.parseAttribute(value))
                default: break
                }
            } else {
                let index = media.count - 1
                switch type {
                case 0x69: media[index].information = text
                case 0x63: media[index].connection = text
                case 0x62: media[index].bandwidths.append(text)
                case 0x61: media[index].attributes.append(Self.parseAttribute(value))
                default: break
                }
            }
        }
        guard sawVersion else { throw .notSDP }
    }

    public var control: String? {
        for attribute in attributes where asciiCaseInsensitiveEqual(attribute.name, "control") { return attribute.value ?? "" }
        return nil
    }

    /// One entry per m= section, in order (the index is `MediaFrame.track`);
    /// nil where the codec is not one CamMedia carries.
    public var trackDescriptions: [TrackDescription?] { media.map { $0.trackDescription() } }

    /// The SDP text, CRLF line endings, in RFC 4566 §5 order.
    public var text: String {
        var out: [UInt8] = []
        func line(_ type: StaticString, _ value: String) {
            out.append(contentsOf: UnsafeBufferPointer(start: type.utf8Start, count: type.utf8CodeUnitCount))
            append(value, to: &out)
            append("\r\n", to: &out)
        }
        func attributeLine(_ attribute: SDPAttribute) {
            line("a=", attribute.value.map { attribute.name + ":" + $0 } ?? attribute.name)
        }
        line("v=", "0")
        line("o=", origin)
        line("s=", name)
        if let information { line("i=", information) }
        if let connection { line("c=", connection) }
        for bandwidth in bandwidths { line("b=", bandwidth) }
        line("t=", timing)
        for attribute in attributes { attributeLine(attribute) }
        for section in media {
            line("m=", section.kind + " " + decimalText(section.port) + " " + section.transportProtocol + " "
                    + joined(section.formats, " "))
            if let information = section.information { line("i=", information) }
            if let connection = section.connection { line("c=", connection) }
            for bandwidth in section.bandwidths { line("b=", bandwidth) }
            for attribute in section.attributes { attributeLine(attribute) }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// `o=` for a server-written description: `- <id> 1 IN IP4|IP6 <address>`.
    public static func origin(sessionID: UInt64, address: String) -> String {
        var digits: [UInt8] = []
        var rest = sessionID
        repeat {
            digits.append(UInt8(truncatingIfNeeded: rest % 10) + 0x30)
            rest /= 10
        } while rest > 0
        let isIPv6 = address.utf8.contains(0x3A)
        return "- " + String(decoding: digits.reversed(), as: UTF8.self) + " 1 IN " + (isIPv6 ? "IP6 " : "IP4 ") + address
    }

    private static func parseMediaLine(_ value: ArraySlice<UInt8>) throws(SDPError) -> SDPMedia {
        let parts = value.split(separator: 0x20, omittingEmptySubsequences: true)
        guard parts.count >= 4 else { throw .badMediaLine }
        let portText = parts[1].split(separator: 0x2F, omittingEmptySubsequences: false)[0]
        guard let port = parseDecimal(portText), port <= 65535 else { throw .badMediaLine }
        return SDPMedia(kind: string(parts[0]), port: port, transportProtocol: string(parts[2]),
                        formats: parts[3...].map { string($0) })
    }

    private static func parseAttribute(_ value: ArraySlice<UInt8>) -> SDPAttribute {
        guard let colon = value.firstIndex(of: 0x3A) else { return SDPAttribute(string(trimmedASCIISpaces(value))) }
        return SDPAttribute(string(value[..<colon]), string(value[(colon + 1)...]))
    }
}

func joined(_ pieces: [String], _ separator: String) -> String {
    var out: [UInt8] = []
    for (index, piece) in pieces.enumerated() {
        if index > 0 { append(separator, to: &out) }
        append(piece, to: &out)
    }
    return String(decoding: out, as: UTF8.self)
}
