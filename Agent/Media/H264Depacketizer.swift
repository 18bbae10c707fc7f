// RFC 6184 receiver (packetization-mode 0 and 1): single NAL unit packets,
// STAP-A and FU-A into whole access units.

public struct H264Depacketizer: Sendable {
    /// The cap on one access unit; a 4K intra picture at high quality stays well below it.
    public static let defaultMaxAccessUnitBytes = 4 << 20
    var assembler: VideoAccessUnitAssembler

    /// `sps`/`pps` from the SDP's sprop-parameter-sets, if any; in-band ones replace them.
    public init(track: Int = 0, sps: [UInt8] = [], pps: [UInt8] = [], maxAccessUnitBytes: Int = defaultMaxAccessUnitBytes) {
        assembler = VideoAccessUnitAssembler(codec: .h264, track: track, maxAccessUnitBytes: maxAccessUnitBytes, vps: [], sps: sps, pps: pps)
    }

    public var stats: DepacketizerStats { assembler.receiver.stats }
    public var sequence: RTPSequenceTracker { assembler.receiver.sequence }
    public var ssrc: UInt32? { assembler.receiver.ssrc }
    public var sps: [UInt8] { assembler.sps }
    public var pps: [UInt8] { assembler.pps }
    /// Goes up whenever an in-band SPS or PPS differs from the one held.
    public var parameterSetsVersion: Int { assembler.parameterSetsVersion }

    /// Takes one RTP packet; appends the access units it completes to `frames`.
    /// A thrown error means this packet was unusable (and the picture it belonged
    /// to is dropped); keep feeding the following packets.
    public mutating func push(_ packet: [UInt8], into frames: inout [MediaFrame]) throws(RTPError) {
        guard let packet = try assembler.begin(packet, into: &frames) else { return }
        var failure: RTPError?
        do {
            try depacketize(packet.payload)
        } catch {
            assembler.markMalformed()
            failure = error
        }
        assembler.end(packet, into: &frames)
        if let failure { throw failure }
    }

    /// Emits the access unit still open (its marker never came), e.g. at end of stream.
    public mutating func flush(into frames: inout [MediaFrame]) {
        assembler.finish(into: &frames)
    }

    /// Copies the current parameter sets, and the picture size they give, into `track`.
    public func update(_ track: inout TrackDescription) {
        track.sps = sps
        track.pps = pps
        if let parsed = try? H264SPS(nal: sps) {
            track.width = parsed.width
            track.height = parsed.height
        }
    }

    private mutating func depacketize(_ payload: ArraySlice<UInt8>) throws(RTPError) {
        guard let first = payload.first else { throw .truncatedPayload }
        let type = first & 0x1F
        switch type {
        case 1...23:
            assembler.appendNAL(payload)
        case H264NAL.stapA:
            // Validate the whole packet before taking any unit from it.
            var offset = payload.startIndex + 1
            var units: [Range<Int>] = []
            while offset < payload.endIndex {
                guard payload.endIndex - offset >= 2 else { throw .malformedAggregation }
                let size = Int(payload[offset]) << 8 | Int(payload[offset + 1])
                offset += 2
                guard size > 0, size <= payload.endIndex - offset else { throw .malformedAggregation }
                // Only real NAL units (types 1-23) may be aggregated or fragmented.
                guard (1...23).contains(payload[offset] & 0x1F) else { throw .malformedAggregation }
                units.append(offset..<(offset + size))
                offset += size
            }
            guard !units.isEmpty else { throw .malformedAggregation }
            for unit in units { assembler.appendNAL(payload[unit]) }
        case H264NAL.fuA:
            guard payload.count >= 3 else { throw .truncatedPayload }
            let fuHeader = payload[payload.startIndex + 1]
            let isStart = fuHeader & 0x80 != 0
            let isEnd = fuHeader & 0x40 != 0
            guard (1...23).contains(fuHeader & 0x1F) else { throw .unsupportedPayloadType(fuHeader & 0x1F) }
            if isStart {
                assembler.beginFragment(header: [(first & 0xE0) | (fuHeader & 0x1F)])
            }
            assembler.appendFragment(payload[(payload.startIndex + 2)...], isLast: isEnd)
        default:
            // STAP-B, MTAPs and FU-B belong to interleaved mode, which we never offer.
            throw .unsupportedPayloadType(type)
        }
    }
}
