import CamMedia
import Testing

@Suite struct ADTSTests {
    /// One ADTS frame: AAC-LC, sampling-frequency index `rateIndex`, `channels`, no CRC.
    static func frame(_ payload: [UInt8], rateIndex: UInt8 = 3, channels: UInt8 = 1, profile: UInt8 = 1) -> [UInt8] {
        let length = payload.count + 7
        return [0xFF, 0xF1,
                profile << 6 | rateIndex << 2 | channels >> 2,
                (channels & 3) << 6 | UInt8(length >> 11),
                UInt8(truncatingIfNeeded: length >> 3),
                UInt8(truncatingIfNeeded: length << 5) | 0x1F, 0xFC] + payload
    }

    @Test func framesLoseTheirHeadersAndTheConfigComesFromTheFirst() throws {
        let a: [UInt8] = Array(repeating: 0x21, count: 200)
        let b: [UInt8] = [0x01, 0x02, 0x03]
        let stream = try ADTSStream(parsing: Self.frame(a) + Self.frame(b))
        #expect(stream.frames == [a, b])
        // AAC-LC (2), 48 kHz (index 3), mono: 00010 0011 0001 000 = 0x11 0x88.
        #expect(stream.audioSpecificConfig == [0x11, 0x88])
        #expect(stream.sampleRate == 48000)
        #expect(stream.channels == 1)
    }

    @Test func aFrameWithACRCHasANineByteHeader() throws {
        var withCRC = Self.frame([9, 9, 9, 9])
        withCRC[1] = 0xF0  // protection_absent = 0: two CRC bytes follow the header
        let length = 4 + 7
        withCRC[3] = withCRC[3] & 0xFC | UInt8(length >> 11)
        withCRC[4] = UInt8(truncatingIfNeeded: length >> 3)
        withCRC[5] = UInt8(truncatingIfNeeded: length << 5) | 0x1F
        #expect(try ADTSStream(parsing: withCRC).frames == [[9, 9]])
    }

    @Test func brokenStreamsAreRefusedWithWhereAndWhy() {
        let good = Self.frame([1, 2, 3])
        #expect(throws: ADTSError.empty) { try ADTSStream(parsing: []) }
        #expect(throws: ADTSError.noSyncWord(offset: 10)) { try ADTSStream(parsing: good + [0x00, 0x00, 0, 0, 0, 0, 0, 0]) }
        #expect(throws: ADTSError.badFrameLength(offset: 0)) { try ADTSStream(parsing: Array(good.dropLast())) }
        #expect(throws: ADTSError.reservedSampleRate) { try ADTSStream(parsing: Self.frame([1], rateIndex: 13)) }
        #expect(throws: ADTSError.configurationChanges(offset: 10)) { try ADTSStream(parsing: good + Self.frame([1], channels: 2)) }
    }
}
