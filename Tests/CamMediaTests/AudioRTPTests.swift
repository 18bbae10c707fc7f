import CamMedia
import Testing

@Suite struct AudioRTPTests {
    @Test func aacPacketWithTwoAccessUnits() {
        let a: [UInt8] = Array(repeating: 0x11, count: 300)
        let b: [UInt8] = Array(repeating: 0x22, count: 5)
        // AU-headers-length 32 bits; sizes 300 and 5 with index/delta 0.
        let headers: [UInt8] = [0x00, 0x20, UInt8(300 >> 5), UInt8(300 << 3 & 0xFF), 0x00, 5 << 3]
        var depacketizer = AACDepacketizer(track: 1)
        var frames: [MediaFrame] = []
        try? depacketizer.push(rtp(seq: 1, ts: 48000, marker: true, pt: 97, headers + a + b), into: &frames)
        #expect(frames.map(\.payload) == [a, b])
        #expect(frames.map(\.timestamp) == [48000, 49024])
        #expect(frames.allSatisfy { $0.codec == .aac && $0.track == 1 && $0.isKeyframe })
    }

    @Test func aacHeadersThatDisagreeWithTheDataAreRefused() {
        var depacketizer = AACDepacketizer()
        var frames: [MediaFrame] = []
        let headers: [UInt8] = [0x00, 0x20, 0, 10 << 3, 0, 10 << 3]
        #expect(throws: RTPError.malformedAUHeaders) {
            try depacketizer.push(rtp(seq: 1, ts: 0, headers + Array(repeating: 1, count: 15)), into: &frames)
        }
        #expect(throws: RTPError.malformedAUHeaders) { try depacketizer.push(rtp(seq: 2, ts: 0, [0x00, 0x40, 0]), into: &frames) }
        #expect(frames.isEmpty)
    }

    @Test func aacPacketizerRoundTripsIncludingFragmentedFrames() {
        var packetizer = AACPacketizer(ssrc: 5, initialSequenceNumber: 10, maxPayload: 100)
        let small = (0..<90).map { UInt8($0) }
        let large = (0..<1000).map { UInt8(truncatingIfNeeded: $0 * 3) }
        var packets: [[UInt8]] = []
        #expect(packetizer.packetize(frame: small, timestamp: 0, into: &packets))
        #expect(packetizer.packetize(frame: large, timestamp: 1024, into: &packets))
        #expect(!packetizer.packetize(frame: Array(repeating: 0, count: 9000), timestamp: 2048, into: &packets))
        #expect(packets.count == 1 + 11)
        var depacketizer = AACDepacketizer()
        var frames: [MediaFrame] = []
        for p in packets { try? depacketizer.push(p, into: &frames) }
        #expect(frames.map(\.payload) == [small, large])
        #expect(frames.map(\.timestamp) == [0, 1024])

        // A lost fragment drops that frame only.
        var lossy = AACDepacketizer()
        frames = []
        for (i, p) in packets.enumerated() where i != 4 { try? lossy.push(p, into: &frames) }
        #expect(frames.map(\.payload) == [small])
        #expect(lossy.stats.droppedAccessUnits == 1)
    }

    @Test func g711PacketsPassThrough() {
        var packetizer = G711Packetizer(codec: .pcma, ssrc: 1, initialSequenceNumber: 0)
        var packets: [[UInt8]] = []
        let frame = Array(repeating: UInt8(0xD5), count: 160)
        packetizer.packetize(frame: frame, timestamp: 0xFFFF_FF60, into: &packets)
        packetizer.packetize(frame: frame, timestamp: 0x0000_0000, into: &packets)
        #expect(packets.first?[1] == 8)
        var depacketizer = G711Depacketizer(codec: .pcma)
        var frames: [MediaFrame] = []
        for p in packets + [packets[0]] { try? depacketizer.push(p, into: &frames) }
        #expect(frames.map(\.payload) == [frame, frame])
        #expect(frames.map(\.timestamp) == [0xFFFF_FF60, 0x1_0000_0000])
        #expect(frames.allSatisfy { $0.codec == .pcma })
        #expect(depacketizer.stats.latePackets == 1)
    }
}
