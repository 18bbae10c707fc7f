import CamMedia
import Testing

@Suite struct H265RTPTests {
    static let vps: [UInt8] = [0x40, 0x01, 0x0C, 0x01, 0xFF, 0xFF]
    static let sps: [UInt8] = [0x42, 0x01, 0x01, 0x01, 0x60, 0x00]
    static let pps: [UInt8] = [0x44, 0x01, 0xC1, 0x72]
    /// IDR_W_RADL (19) and TRAIL_R (1) slices with filler bodies.
    static func idr(_ size: Int) -> [UInt8] { [0x26, 0x01] + (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 5) } }
    static func trail(_ size: Int) -> [UInt8] { [0x02, 0x01] + (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 11) } }

    @Test func aggregationPacketWithParameterSets() {
        var ap: [UInt8] = [0x60, 0x01]  // type 48
        for nal in [Self.vps, Self.sps, Self.pps] { ap += [0, UInt8(nal.count)] + nal }
        let idr = Self.idr(40)
        var depacketizer = H265Depacketizer()
        let frames = depacketizer.feed([rtp(seq: 9, ts: 500, ap), rtp(seq: 10, ts: 500, marker: true, idr)])
        #expect(frames.count == 1)
        #expect(frames.first?.isKeyframe == true)
        #expect(frames.first?.payload == AVCC.join([Self.vps, Self.sps, Self.pps, idr]))
        #expect(depacketizer.vps == Self.vps && depacketizer.sps == Self.sps && depacketizer.pps == Self.pps)
        #expect(depacketizer.parameterSetsVersion == 3)
    }

    @Test func fragmentationUnitsRebuildTheNALHeader() throws {
        var packetizer = H265Packetizer(ssrc: 3, initialSequenceNumber: 0, maxPayload: 64)
        var packets: [[UInt8]] = []
        let idr = Self.idr(1000)
        let trail = Self.trail(100)
        packetizer.packetize(nalUnits: [idr[...]], timestamp: 0, into: &packets)
        packetizer.packetize(nalUnits: [trail[...]], timestamp: 3000, into: &packets)
        let first = try RTPPacket(parsing: packets[0])
        #expect(Array(first.payload.prefix(3)) == [49 << 1, 0x01, 0x80 | 19])
        var depacketizer = H265Depacketizer()
        let frames = depacketizer.feed(packets)
        #expect(frames.map(\.payload) == [AVCC.join([idr]), AVCC.join([trail])])
        #expect(frames.map(\.isKeyframe) == [true, false])
    }

    @Test func lostFragmentWaitsForTheNextIRAP() throws {
        var packetizer = H265Packetizer(ssrc: 3, initialSequenceNumber: 0, maxPayload: 64)
        var packets: [[UInt8]] = []
        packetizer.packetize(nalUnits: [Self.idr(300)[...]], timestamp: 0, into: &packets)
        packetizer.packetize(nalUnits: [Self.trail(30)[...]], timestamp: 3000, into: &packets)
        let cra: [UInt8] = [0x2A, 0x01, 9, 9, 9]  // CRA_NUT (21) is IRAP too
        packetizer.packetize(nalUnits: [cra[...]], timestamp: 6000, into: &packets)
        packets.remove(at: 2)
        var depacketizer = H265Depacketizer()
        let frames = depacketizer.feed(packets)
        #expect(frames.map(\.timestamp) == [6000])
        #expect(frames.first?.isKeyframe == true)
        #expect(depacketizer.stats.droppedAccessUnits == 1 && depacketizer.stats.skippedAwaitingKeyframe == 1)
    }

    @Test func paciIsRefused() {
        var depacketizer = H265Depacketizer()
        var frames: [MediaFrame] = []
        #expect(throws: RTPError.unsupportedPayloadType(50)) { try depacketizer.push(rtp(seq: 1, ts: 0, [0x64, 0x01, 0, 0]), into: &frames) }
    }

    @Test(.enabled(if: ffmpegPath != nil, "needs ffmpeg with libx265"))
    func encodedStreamRoundTripsByteIdentical() throws {
        let stream = try generateStream(encoder: "libx265", format: "hevc", size: "320x240", frames: 25)
        let units = groupAccessUnits(splitAnnexB(stream), codec: .h265)
        #expect(units.count == 25)
        var packetizer = H265Packetizer(ssrc: 8, initialSequenceNumber: 1, maxPayload: 300)
        var packets: [[UInt8]] = []
        for (i, unit) in units.enumerated() {
            packetizer.packetize(nalUnits: unit.map { $0[...] }, timestamp: UInt32(i * 3600), into: &packets)
        }
        var depacketizer = H265Depacketizer()
        let frames = depacketizer.feed(packets)
        #expect(frames.map(\.payload) == units.map { AVCC.join($0) })
        #expect(frames.first?.isKeyframe == true)
        var track = TrackDescription(codec: .h265, clockRate: 90000, payloadType: 96)
        depacketizer.update(&track)
        #expect(track.width == 320 && track.height == 240)
        let sps = try H265SPS(nal: track.sps)
        #expect(sps.codecString.hasPrefix("hvc1.1.6.L"))
    }
}
