// RFC 7798 receiver: single NAL unit packets, aggregation packets (type 48)
// and fragmentation units (type 49) into whole access units. Decoding order
// numbers (DONL/DOND) are absent unless the SDP sets sprop-max-don-diff > 0;
// the ingest refuses such a session, so none are expected here.

public struct H265Depacketizer: Sendable {
    var assembler: VideoAccessUnitAssembler

    /// `vps`/`sps`/`pps` from the SDP's sprop-vps/-sps/-pps, if any; in-band ones replace them.
    public init(track: Int = 0, vps: [UInt8] = [], sps: [UInt8] = [], pps: [UInt8] = [],
                maxAccessUnitBytes: Int = H264Depacketizer.defaultMaxAccessUnitBytes) {
        assembler = VideoAccessUnitAssembler(codec: .h265, track: track, maxAccessUnitBytes: maxAccessUnitBytes, vps: vps, sps: sps, pps: pps)
    }

    public var stats: DepacketizerStats { assembler.receiver.stats }
    public var sequence: RTPSequenceTracker { assembler.receiver.sequence }
    public var ssrc: UInt32? { assembler.receiver.ssrc }
    public var vps: [UInt8] { assembler.vps }
    public var sps: [UInt8] { assembler.sps }
    public var pps: [UInt8] { assembler.pps }
    /// Goes up whenever an in-band VPS, SPS or PPS differs from the one held.
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
        track.vps = vps
        track.sps = sps
        track.pps = pps
        if let parsed = try? H265SPS(nal: sps) {
            track.width = parsed.width
            track.height = parsed.height
        }
    }

    private mutating func depacketize(_ payload: ArraySlice<UInt8>) throws(RTPError) {
        // A 2-byte NAL unit (end of sequence, end of bitstream) is a whole packet.
        guard payload.count >= 2 else { throw .truncatedPayload }
        let start = payload.startIndex
        let type = (payload[start] >> 1) & 0x3F
        switch type {
        case 0...47:
            assembler.appendNAL(payload)
        case H265NAL.aggregationPacket:
            var offset = start + 2
            var units: [Range<Int>] = []
            while offset < payload.endIndex {
                guard payload.endIndex - offset >= 2 else { throw .malformedAggregation }
                let size = Int(payload[offset]) << 8 | Int(payload[offset + 1])
                offset += 2
                guard size >= 2, size <= payload.endIndex - offset else { throw .malformedAggregation }
                // Only real NAL units (types 0-47) may be aggregated or fragmented.
                guard (payload[offset] >> 1) & 0x3F < 48 else { throw .malformedAggregation }
                units.append(offset..<(offset + size))
                offset += size
            }
            guard units.count >= 2 else { throw .malformedAggregation }
            for unit in units { assembler.appendNAL(payload[unit]) }
        case H265NAL.fragmentationUnit:
            guard payload.count >= 3 else { throw .truncatedPayload }
            let fuHeader = payload[start + 2]
            let isStart = fuHeader & 0x80 != 0
            let isEnd = fuHeader & 0x40 != 0
            guard fuHeader & 0x3F < 48 else { throw .unsupportedPayloadType(fuHeader & 0x3F) }
            if isStart {
                // The NAL header: F and LayerId from the payload header, the type from the FU header.
                let fuType = fuHeader & 0x3F
                assembler.beginFragment(header: [(payload[start] & 0x81) | (fuType << 1), payload[start + 1]])
            }
            assembler.appendFragment(payload[(start + 3)...], isLast: isEnd)
        default:
            // PACI (50) and the unspecified types.
            throw .unsupportedPayloadType(type)
        }
    }
}
