// ADTS (ISO/IEC 14496-3 §1.A.2): AAC as files and encoders write it, every
// frame behind a 7-byte header (9 with a CRC). RTP (RFC 3640) and MP4 carry
// the raw frames instead, with the codec configuration once, as an
// AudioSpecificConfig: this turns the one into the other.

public enum ADTSError: Error, Equatable, Sendable {
    /// No ADTS sync word (0xFFF) where a frame should start.
    case noSyncWord(offset: Int)
    /// A frame length shorter than its header, or running past the data.
    case badFrameLength(offset: Int)
    /// The sampling-frequency index is reserved (13-15).
    case reservedSampleRate
    /// A later frame names another object type, rate or channel layout.
    case configurationChanges(offset: Int)
    case empty
}

public struct ADTSStream: Sendable {
    /// The raw AAC frames, headers stripped, 1024 samples each.
    public var frames: [[UInt8]]
    /// Two bytes: object type (5 bits), sampling-frequency index (4), channel configuration (4), then zeros.
    public var audioSpecificConfig: [UInt8]
    public var sampleRate: UInt32
    public var channels: Int

    public static let sampleRates: [UInt32] = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350]

    /// Every frame of `bytes`; all must share one configuration (as one encoder's output does).
    public init(parsing bytes: [UInt8]) throws(ADTSError) {
        frames = []
        audioSpecificConfig = []
        sampleRate = 0
        channels = 0
        var offset = 0
        var header: (objectType: UInt8, rateIndex: UInt8, channels: UInt8)?
        while offset < bytes.count {
            guard offset + 7 <= bytes.count, bytes[offset] == 0xFF, bytes[offset + 1] & 0xF6 == 0xF0 else {
                throw .noSyncWord(offset: offset)
            }
            let protectionAbsent = bytes[offset + 1] & 1 == 1
            let this = (objectType: (bytes[offset + 2] >> 6) + 1,
                        rateIndex: (bytes[offset + 2] >> 2) & 0xF,
                        channels: (bytes[offset + 2] & 1) << 2 | bytes[offset + 3] >> 6)
            let length = Int(bytes[offset + 3] & 3) << 11 | Int(bytes[offset + 4]) << 3 | Int(bytes[offset + 5] >> 5)
            let headerLength = protectionAbsent ? 7 : 9
            guard length > headerLength, offset + length <= bytes.count else { throw .badFrameLength(offset: offset) }
            if let header {
                guard header == this else { throw .configurationChanges(offset: offset) }
            } else {
                guard Int(this.rateIndex) < Self.sampleRates.count else { throw .reservedSampleRate }
                header = this
            }
            frames.append(Array(bytes[(offset + headerLength)..<(offset + length)]))
            offset += length
        }
        guard let header else { throw .empty }
        audioSpecificConfig = [header.objectType << 3 | header.rateIndex >> 1, (header.rateIndex & 1) << 7 | header.channels << 3]
        sampleRate = Self.sampleRates[Int(header.rateIndex)]
        channels = Int(header.channels)
    }
}
