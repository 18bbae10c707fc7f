import CamMedia
import Testing

@Suite struct H264RTPTests {
    /// The clip's access units (every NAL unit kept), packetised at `maxPayload`.
    static func clipPackets(maxPayload: Int, firstTimestamp: UInt32) throws -> (units: [[[UInt8]]], packets: [[UInt8]]) {
        let units = groupAccessUnits(splitAnnexB(try loadSimcamClip()), codec: .h264)
        var packetizer = H264Packetizer(ssrc: 42, initialSequenceNumber: 65000, maxPayload: maxPayload)
        var packets: [[UInt8]] = []
        for (i, unit) in units.enumerated() {
            packetizer.packetize(nalUnits: unit.map { $0[...] }, timestamp: firstTimestamp &+ UInt32(i * 3600), into: &packets)
        }
        return (units, packets)
    }

    @Test(arguments: [1400, 200, 17])
    func clipRoundTripsByteIdentical(maxPayload: Int) throws {
        let first: UInt32 = 0xFFFF_0000  // the timestamps wrap during the clip
        let (units, packets) = try Self.clipPackets(maxPayload: maxPayload, firstTimestamp: first)
        #expect(units.count > 10)
        #expect(packets.allSatisfy { $0.count <= 12 + maxPayload })
        var depacketizer = H264Depacketizer()
        let frames = depacketizer.feed(packets)
        #expect(frames.count == units.count)
        for (i, frame) in frames.enumerated() where i < units.count {
            #expect(frame.payload == AVCC.join(units[i]))
            #expect(frame.timestamp == Int64(first) + Int64(i * 3600))
            #expect(frame.isKeyframe == units[i].contains { H264NAL.type($0) == H264NAL.idrSlice })
        }
        #expect(frames.first?.isKeyframe == true)
        #expect(depacketizer.stats.droppedAccessUnits == 0 && depacketizer.stats.lostPackets == 0)
        // The clip's in-band SPS/PPS are captured.
        var track = TrackDescription(codec: .h264, clockRate: 90000, payloadType: 96)
        depacketizer.update(&track)
        #expect(H264NAL.type(track.sps) == H264NAL.sps && H264NAL.type(track.pps) == H264NAL.pps)
        #expect(track.width == 320 && track.height == 240)
    }

    @Test func stapAWithParameterSetsAndIDR() {
        let idr = FakeH264.idr(50)
        var stap: [UInt8] = [0x78]  // F=0, NRI=3, type 24
        for nal in [FakeH264.sps, FakeH264.pps, idr] { stap += [UInt8(nal.count >> 8), UInt8(nal.count & 0xFF)] + nal }
        var depacketizer = H264Depacketizer()
        let frames = depacketizer.feed([rtp(seq: 1, ts: 1000, marker: true, stap)])
        #expect(frames.count == 1)
        #expect(frames.first?.isKeyframe == true)
        #expect(frames.first?.payload == AVCC.join([FakeH264.sps, FakeH264.pps, idr]))
        #expect(depacketizer.sps == FakeH264.sps && depacketizer.pps == FakeH264.pps)
        #expect(depacketizer.parameterSetsVersion == 2)
        var track = TrackDescription(codec: .h264, clockRate: 90000, payloadType: 96)
        depacketizer.update(&track)
        #expect(track.sps == FakeH264.sps)
    }

    @Test func malformedStapAIsRefusedWholeAndTheFrameDropped() {
        var depacketizer = H264Depacketizer()
        var frames: [MediaFrame] = []
        let bad: [UInt8] = [0x78, 0, 4] + FakeH264.pps + [0, 9, 0x65]  // second unit claims 9 bytes, has 1
        #expect(throws: RTPError.malformedAggregation) { try depacketizer.push(rtp(seq: 1, ts: 0, marker: true, bad), into: &frames) }
        #expect(frames.isEmpty)
        #expect(depacketizer.stats.droppedAccessUnits == 1 && depacketizer.stats.malformedPackets == 1)
    }

    /// FU-A packets for one NAL unit, split into `pieces` fragments.
    static func fuA(_ nal: [UInt8], pieces: Int, seq: UInt16, ts: UInt32, markerOnLast: Bool = true) -> [[UInt8]] {
        let body = Array(nal.dropFirst())
        let chunk = (body.count + pieces - 1) / pieces
        var packets: [[UInt8]] = []
        var offset = 0
        var index = 0
        while offset < body.count {
            let end = min(offset + chunk, body.count)
            let fuHeader = (offset == 0 ? 0x80 : 0) | (end == body.count ? 0x40 : 0) | (nal[0] & 0x1F)
            packets.append(rtp(seq: seq &+ UInt16(index), ts: ts, marker: markerOnLast && end == body.count,
                               [(nal[0] & 0xE0) | 28, fuHeader] + body[offset..<end]))
            offset = end
            index += 1
        }
        return packets
    }

    @Test func fuASplitAcrossManyPacketsFedOneByOne() {
        let idr = FakeH264.idr(5000)
        let packets = Self.fuA(idr, pieces: 40, seq: 7, ts: 3000)
        #expect(packets.count == 40)
        var depacketizer = H264Depacketizer()
        var frames: [MediaFrame] = []
        for (i, packet) in packets.enumerated() {
            try? depacketizer.push(packet, into: &frames)
            #expect(frames.count == (i == packets.count - 1 ? 1 : 0))
        }
        #expect(frames.first?.payload == AVCC.join([idr]))
        #expect(frames.first?.isKeyframe == true)
    }

    @Test func lostMiddleFragmentDropsTheFrameUntilTheNextKeyframe() {
        var packets = Self.fuA(FakeH264.idr(3000), pieces: 5, seq: 100, ts: 0)
        packets.remove(at: 2)
        // Two P frames (which reference the lost picture), then a fresh keyframe and a P frame.
        packets.append(rtp(seq: 105, ts: 3600, marker: true, FakeH264.slice(80)))
        packets.append(rtp(seq: 106, ts: 7200, marker: true, FakeH264.slice(80, seed: 3)))
        let idr = FakeH264.idr(2000, seed: 9)
        packets += Self.fuA(idr, pieces: 3, seq: 107, ts: 10800)
        let p = FakeH264.slice(90, seed: 5)
        packets.append(rtp(seq: 110, ts: 14400, marker: true, p))
        var depacketizer = H264Depacketizer()
        let frames = depacketizer.feed(packets)
        #expect(frames.map(\.timestamp) == [10800, 14400])
        #expect(frames.map(\.payload) == [AVCC.join([idr]), AVCC.join([p])])
        #expect(depacketizer.stats.lostPackets == 1)
        #expect(depacketizer.stats.droppedAccessUnits == 1)
        #expect(depacketizer.stats.skippedAwaitingKeyframe == 2)
    }

    @Test func reorderedAndDuplicatePacketsAreDroppedNotMisassembled() {
        let idr = FakeH264.idr(900)
        var packets = Self.fuA(idr, pieces: 3, seq: 1, ts: 0)
        packets.insert(packets[0], at: 1)  // duplicate of the first fragment
        packets.append(rtp(seq: 4, ts: 3600, marker: true, FakeH264.slice(10)))
        packets.append(rtp(seq: 2, ts: 0, FakeH264.slice(10)))  // a late straggler
        packets.append(rtp(seq: 5, ts: 7200, marker: true, FakeH264.slice(11)))
        var depacketizer = H264Depacketizer()
        let frames = depacketizer.feed(packets)
        #expect(frames.map(\.timestamp) == [0, 3600, 7200])
        #expect(frames.first?.payload == AVCC.join([idr]))
        #expect(depacketizer.stats.latePackets == 2)
        #expect(depacketizer.stats.droppedAccessUnits == 0)
    }

    @Test func timestampChangeEndsAnAccessUnitWhoseMarkerWasLost() {
        // The first picture's marker never came; the new timestamp closes it.
        let idr = FakeH264.idr(20)
        let p = FakeH264.slice(20)
        var depacketizer = H264Depacketizer()
        var frames = depacketizer.feed([
            rtp(seq: 0xFFFF, ts: 0xFFFF_FF00, FakeH264.sps), rtp(seq: 0, ts: 0xFFFF_FF00, FakeH264.pps),
            rtp(seq: 1, ts: 0xFFFF_FF00, idr), rtp(seq: 2, ts: 0x0000_0D10, p),
        ])
        #expect(frames.count == 1)
        depacketizer.flush(into: &frames)
        #expect(frames.map(\.timestamp) == [0xFFFF_FF00, 0x1_0000_0D10])
        #expect(frames.map(\.isKeyframe) == [true, false])
        #expect(frames.last?.payload == AVCC.join([p]))
    }

    @Test func recoveryPointPictureWithParameterSetsCountsAsKeyframe() {
        let i = FakeH264.slice(30)  // non-IDR slice
        var depacketizer = H264Depacketizer()
        let frames = depacketizer.feed([
            rtp(seq: 1, ts: 0, marker: true, FakeH264.slice(5)),  // skipped: no keyframe yet
            rtp(seq: 2, ts: 3600, FakeH264.sps), rtp(seq: 3, ts: 3600, FakeH264.pps), rtp(seq: 4, ts: 3600, marker: true, i),
        ])
        #expect(frames.count == 1 && frames.first?.isKeyframe == true)
        #expect(depacketizer.stats.skippedAwaitingKeyframe == 1)
    }

    @Test func oversizedAccessUnitIsDroppedAndCounted() {
        var depacketizer = H264Depacketizer(maxAccessUnitBytes: 1000)
        var packets = Self.fuA(FakeH264.idr(3000), pieces: 10, seq: 1, ts: 0)
        let idr = FakeH264.idr(500)
        packets.append(rtp(seq: 11, ts: 3600, marker: true, idr))
        let frames = depacketizer.feed(packets)
        #expect(frames.map(\.payload) == [AVCC.join([idr])])
        #expect(depacketizer.stats.oversizedAccessUnits == 1)
        #expect(depacketizer.stats.droppedAccessUnits == 1)
    }

    @Test func interleavedModePacketTypesAreRefused() {
        var depacketizer = H264Depacketizer()
        var frames: [MediaFrame] = []
        #expect(throws: RTPError.unsupportedPayloadType(25)) { try depacketizer.push(rtp(seq: 1, ts: 0, [0x19, 1, 2]), into: &frames) }
        #expect(throws: RTPError.truncatedPayload) { try depacketizer.push(rtp(seq: 2, ts: 0, []), into: &frames) }
    }

    @Test func packetizerSplitsLargeNALsAndMarksTheLastPacket() throws {
        var packetizer = H264Packetizer(ssrc: 1, initialSequenceNumber: 65535, maxPayload: 100)
        var packets: [[UInt8]] = []
        let frame = MediaFrame(codec: .h264, track: 0, timestamp: 0, isKeyframe: true, payload: AVCC.join([FakeH264.sps, FakeH264.idr(250)]))
        packetizer.packetize(frame, timestamp: 77, into: &packets)
        #expect(packets.count == 4)  // SPS alone, then 250 bytes in 98-byte fragments
        let parsed = try packets.map { try RTPPacket(parsing: $0) }
        #expect(parsed.map(\.header.sequenceNumber) == [65535, 0, 1, 2])
        #expect(parsed.map(\.header.marker) == [false, false, false, true])
        #expect(parsed.allSatisfy { $0.header.timestamp == 77 && $0.header.ssrc == 1 })
        #expect(packetizer.writer.packetCount == 4)
        #expect(Array(parsed[1].payload.prefix(2)) == [0x7C, 0x85])
        #expect(Array(parsed[3].payload.prefix(2)) == [0x7C, 0x45])
    }
}
