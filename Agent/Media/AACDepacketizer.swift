// RFC 3640 mpeg4-generic receiver (AAC-hbr by default: 13-bit AU size, 3-bit
// index): an AU-headers section, then the access units back to back. A packet
// may carry several AUs, or one fragment of an AU too big for a packet.

public struct AACDepacketizer: Sendable {
    var receiver = RTPReceiver()
    let track: Int
    let sizeLength: Int
    let indexLength: Int
    let indexDeltaLength: Int
    /// PCM samples per AU, the RTP timestamp step between AUs of one packet.
    let samplesPerFrame: Int64
    /// An AU arriving in fragments: its bytes so far, its full size and time.
    private var fragment: [UInt8] = []
    private var fragmentSize = 0
    private var fragmentTimestamp: Int64 = 0

    /// The lengths are the SDP fmtp sizeLength, indexLength and indexDeltaLength.
    public init(track: Int = 0, sizeLength: Int = 13, indexLength: Int = 3, indexDeltaLength: Int = 3, samplesPerFrame: Int = 1024) {
        self.track = track
        self.sizeLength = max(1, min(sizeLength, 16))
        self.indexLength = max(0, min(indexLength, 8))
        self.indexDeltaLength = max(0, min(indexDeltaLength, 8))
        self.samplesPerFrame = Int64(samplesPerFrame)
    }

    public var stats: DepacketizerStats { receiver.stats }
    public var sequence: RTPSequenceTracker { receiver.sequence }
    public var ssrc: UInt32? { receiver.ssrc }

    /// Takes one RTP packet; appends the AAC frames it completes to `frames`.
    public mutating func push(_ bytes: [UInt8], into frames: inout [MediaFrame]) throws(RTPError) {
        guard let received = try receiver.receive(bytes) else { return }
        if received.followsLoss || (!fragment.isEmpty && received.timestamp != fragmentTimestamp) { dropFragment() }
        do {
            try depacketize(received.packet.payload, timestamp: received.timestamp, into: &frames)
        } catch {
            receiver.stats.malformedPackets += 1
            dropFragment()
            throw error
        }
    }

    private mutating func dropFragment() {
        if !fragment.isEmpty { receiver.stats.droppedAccessUnits += 1 }
        fragment = []
        fragmentSize = 0
    }

    private mutating func depacketize(_ payload: ArraySlice<UInt8>, timestamp: Int64, into frames: inout [MediaFrame]) throws(RTPError) {
        guard payload.count >= 2 else { throw .truncatedPayload }
        let start = payload.startIndex
        let headerBits = Int(payload[start]) << 8 | Int(payload[start + 1])
        let headerBytes = (headerBits + 7) / 8
        guard headerBits > 0, payload.count - 2 >= headerBytes else { throw .malformedAUHeaders }
        var reader = BitReader(Array(payload[(start + 2)..<(start + 2 + headerBytes)]))
        var sizes: [Int] = []
        var consumed = 0
        do throws(BitstreamError) {
            while consumed + sizeLength <= headerBits {
                let size = Int(try reader.bits(sizeLength))
                // AU-Index for the first header, AU-Index-delta after; interleaving is not supported.
                let index = try reader.bits(sizes.isEmpty ? indexLength : indexDeltaLength)
                guard index == 0 else { throw .invalidSyntax }
                consumed += sizeLength + (sizes.isEmpty ? indexLength : indexDeltaLength)
                sizes.append(size)
            }
        } catch {
            throw .malformedAUHeaders
        }
        guard !sizes.isEmpty else { throw .malformedAUHeaders }
        var offset = start + 2 + headerBytes
        let available = payload.endIndex - offset

        if sizes.count == 1 && (sizes[0] > available || !fragment.isEmpty) {
            // One AU larger than this packet: gather it across packets of one timestamp.
            if fragment.isEmpty {
                fragmentSize = sizes[0]
                fragmentTimestamp = timestamp
            } else if sizes[0] != fragmentSize {
                throw .malformedAUHeaders
            }
            guard fragmentSize > 0, fragment.count + available <= fragmentSize else { throw .malformedAUHeaders }
            fragment.append(contentsOf: payload[offset...])
            if fragment.count == fragmentSize {
                frames.append(MediaFrame(codec: .aac, track: track, timestamp: fragmentTimestamp, isKeyframe: true, payload: fragment))
                fragment = []
                fragmentSize = 0
            }
            return
        }
        guard sizes.reduce(0, +) <= available else { throw .malformedAUHeaders }
        for (i, size) in sizes.enumerated() where size > 0 {
            frames.append(MediaFrame(codec: .aac, track: track, timestamp: timestamp + Int64(i) * samplesPerFrame,
                                     isKeyframe: true, payload: Array(payload[offset..<(offset + size)])))
            offset += size
        }
    }
}
