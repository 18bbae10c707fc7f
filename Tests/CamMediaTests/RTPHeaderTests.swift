import CamMedia
import Testing

@Suite struct RTPHeaderTests {
    @Test func serialisedHeaderParsesBack() throws {
        let header = RTPHeader(marker: true, payloadType: 96, sequenceNumber: 0xBEEF, timestamp: 0xDEAD_BEEF, ssrc: 0x0102_0304, csrcs: [7, 8])
        var bytes: [UInt8] = []
        header.append(to: &bytes)
        #expect(bytes.count == header.encodedSize)
        #expect(Array(bytes.prefix(2)) == [0x82, 0xE0])
        let packet = try RTPPacket(parsing: bytes + [1, 2, 3])
        #expect(packet.header == header)
        #expect(Array(packet.payload) == [1, 2, 3])
    }

    @Test func extensionAndPaddingAreSkipped() throws {
        // V=2, P=1, X=1, CC=0; extension of one word; payload 0xAA 0xBB; 3 bytes padding.
        var bytes: [UInt8] = [0xB0, 0x60, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3]
        bytes += [0xBE, 0xDE, 0, 1, 9, 9, 9, 9]
        bytes += [0xAA, 0xBB, 0, 0, 3]
        let packet = try RTPPacket(parsing: bytes)
        #expect(Array(packet.payload) == [0xAA, 0xBB])
        #expect(packet.header.payloadType == 96 && !packet.header.marker)
        #expect(packet.header.sequenceNumber == 1 && packet.header.timestamp == 2 && packet.header.ssrc == 3)
    }

    @Test func badHeadersGetPreciseErrors() {
        let base: [UInt8] = [0x80, 0x60, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3]
        #expect(throws: RTPError.truncatedHeader) { try RTPPacket(parsing: Array(base.prefix(11))) }
        #expect(throws: RTPError.unsupportedVersion(1)) { try RTPPacket(parsing: [0x40] + base.dropFirst()) }
        #expect(throws: RTPError.truncatedHeader) { try RTPPacket(parsing: [0x82] + base.dropFirst() + [0, 0, 0, 1]) }
        #expect(throws: RTPError.truncatedExtension) { try RTPPacket(parsing: [0x90] + base.dropFirst() + [0, 0, 0, 2, 1, 2, 3, 4]) }
        #expect(throws: RTPError.badPadding) { try RTPPacket(parsing: [0xA0] + base.dropFirst() + [1, 0]) }
        #expect(throws: RTPError.badPadding) { try RTPPacket(parsing: [0xA0] + base.dropFirst() + [1, 9]) }
    }
}

@Suite struct RTPSequenceTests {
    @Test func timestampsUnwrapAcrossTheWrapBothWays() {
        var unwrapper = RTPTimestampUnwrapper()
        #expect(unwrapper.unwrap(0xFFFF_F000) == 0xFFFF_F000)
        #expect(unwrapper.unwrap(0x0000_1000) == 0x1_0000_1000)
        #expect(unwrapper.unwrap(0xFFFF_FF00) == 0xFFFF_FF00)  // a B-frame's earlier time, back across the wrap
        #expect(unwrapper.unwrap(0x0000_2000) == 0x1_0000_2000)
    }

    @Test func gapsLateAndDuplicatePackets() {
        var tracker = RTPSequenceTracker()
        #expect(tracker.track(65534) == .accept(lost: 0))
        #expect(tracker.track(65535) == .accept(lost: 0))
        #expect(tracker.track(2) == .accept(lost: 2))  // 0 and 1 lost across the wrap
        #expect(tracker.track(1) == .late)
        #expect(tracker.track(2) == .late)
        #expect(tracker.track(3) == .accept(lost: 0))
        #expect(tracker.extendedHighestSequence == 0x1_0003)
        #expect(tracker.expected == 6)
        #expect(tracker.received == 4)
        #expect(tracker.lost == 2)
        #expect(tracker.late == 2)
    }

    @Test func aSenderRestartIsConfirmedByTwoPacketsInARow() {
        var tracker = RTPSequenceTracker()
        #expect(tracker.track(100) == .accept(lost: 0))
        #expect(tracker.track(30000) == .late)
        #expect(tracker.track(30001) == .restarted)
        #expect(tracker.track(30002) == .accept(lost: 0))
    }
}
