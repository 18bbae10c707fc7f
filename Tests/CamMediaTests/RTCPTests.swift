import CamMedia
import Testing

@Suite struct RTCPTests {
    @Test func senderReportRoundTripsInACompoundPacket() throws {
        let report = RTCPSenderReport(ssrc: 0xAABB_CCDD, ntpTime: (UInt64(3_900_000_000) << 32) | 0x8000_0000,
                                      rtpTimestamp: 90_000, packetCount: 10, octetCount: 12_000)
        var bytes: [UInt8] = []
        RTCPWriter.appendSenderReport(report, to: &bytes)
        RTCPWriter.appendSourceDescription(ssrc: report.ssrc, cname: Array("cam".utf8), to: &bytes)
        bytes += [0x81, 203, 0, 1, 0xAA, 0xBB, 0xCC, 0xDD]  // BYE
        #expect(bytes.count % 4 == 0)
        let compound = try RTCPCompoundPacket(parsing: bytes)
        #expect(compound.senderReports == [report])
        #expect(compound.byeSSRCs == [0xAABB_CCDD])
    }

    @Test func senderReportMapsRTPTimeToWallClock() {
        let seconds: UInt64 = 1_700_000_000
        let report = RTCPSenderReport(ssrc: 1, ntpTime: (seconds + ntpUnixEpochOffset) << 32 | 0x4000_0000,
                                      rtpTimestamp: 0xFFFF_FF00, packetCount: 0, octetCount: 0)
        #expect(report.unixNanoseconds == Int64(seconds) * 1_000_000_000 + 250_000_000)
        // 90 000 ticks later, across the 32-bit wrap: one second later.
        let later = report.unixNanoseconds(atRTPTimestamp: 0xFFFF_FF00 &+ 90_000, clockRate: 90_000)
        #expect(later == report.unixNanoseconds + 1_000_000_000)
        #expect(report.unixNanoseconds(atRTPTimestamp: 0xFFFF_FF00 &- 45_000, clockRate: 90_000) == report.unixNanoseconds - 500_000_000)
    }

    @Test func receiverReportCarriesLossAndLastSR() throws {
        var tracker = RTPSequenceTracker()
        _ = tracker.track(10)
        let before = tracker
        for seq: UInt16 in [11, 12, 15, 16] { _ = tracker.track(seq) }
        let sr = RTCPSenderReport(ssrc: 5, ntpTime: 0x1122_3344_5566_7788, rtpTimestamp: 0, packetCount: 0, octetCount: 0)
        let block = tracker.reportBlock(ssrc: 5, since: before, lastSenderReport: sr, delaySinceLastSenderReport: 65536)
        #expect(block.cumulativeLost == 2)
        #expect(block.fractionLost == UInt8(2 * 256 / 6))
        #expect(block.extendedHighestSequence == 16)
        #expect(block.lastSenderReport == 0x3344_5566)
        var bytes: [UInt8] = []
        RTCPWriter.appendReceiverReport(ssrc: 9, blocks: [block], to: &bytes)
        #expect(bytes.count == 32)
        #expect(Array(bytes.prefix(8)) == [0x81, 201, 0, 7, 0, 0, 0, 9])
        #expect(Array(bytes[12..<16]) == [UInt8(2 * 256 / 6), 0, 0, 2])
        // A receiver's own RR parses as a compound packet with no sender reports.
        let compound = try RTCPCompoundPacket(parsing: bytes)
        #expect(compound.senderReports.isEmpty)
    }

    @Test func truncatedRTCPIsRejected() {
        #expect(throws: RTCPError.truncated) { try RTCPCompoundPacket(parsing: [0x80, 200, 0, 6, 0, 0]) }
        #expect(throws: RTCPError.malformedSenderReport) { try RTCPCompoundPacket(parsing: [0x80, 200, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0]) }
        #expect(throws: RTCPError.unsupportedVersion(0)) { try RTCPCompoundPacket(parsing: [0x00, 200, 0, 0]) }
    }
}
