// RFC 7798 sender without DONL: a NAL unit that fits goes alone, a larger one
// as fragmentation units (type 49).

public struct H265Packetizer: Sendable {
    public var writer: RTPPacketWriter

    public init(payloadType: UInt8 = 96, ssrc: UInt32, initialSequenceNumber: UInt16, maxPayload: Int = RTPPacketWriter.defaultMaxPayload) {
        writer = RTPPacketWriter(payloadType: payloadType, ssrc: ssrc, initialSequenceNumber: initialSequenceNumber, maxPayload: maxPayload)
    }

    /// Appends the packets of one access unit; the marker bit goes on the last.
    /// Anything shorter than a 2-byte NAL unit header is skipped.
    public mutating func packetize(nalUnits: [ArraySlice<UInt8>], timestamp: UInt32, into packets: inout [[UInt8]]) {
        let units = nalUnits.filter { $0.count >= 2 }
        for (index, nal) in units.enumerated() {
            let lastNAL = index == units.count - 1
            if nal.count <= writer.maxPayload {
                packets.append(writer.packet(marker: lastNAL, timestamp: timestamp, prefix: [], data: nal))
                continue
            }
            let first = nal[nal.startIndex]
            let second = nal[nal.startIndex + 1]
            let type = (first >> 1) & 0x3F
            let payloadHeader = [(first & 0x81) | (H265NAL.fragmentationUnit << 1), second]
            let chunk = writer.maxPayload - 3
            var offset = nal.startIndex + 2
            while offset < nal.endIndex {
                let end = min(offset + chunk, nal.endIndex)
                let isFirst = offset == nal.startIndex + 2
                let isLast = end == nal.endIndex
                let fuHeader = (isFirst ? 0x80 : 0) | (isLast ? 0x40 : 0) | type
                packets.append(writer.packet(marker: lastNAL && isLast, timestamp: timestamp,
                                             prefix: payloadHeader + [fuHeader], data: nal[offset..<end]))
                offset = end
            }
        }
    }

    /// A MediaFrame's access unit (AVCC-style payload); nothing if it is malformed.
    public mutating func packetize(_ frame: MediaFrame, timestamp: UInt32, into packets: inout [[UInt8]]) {
        guard let nals = AVCC.nalUnits(in: frame.payload) else { return }
        packetize(nalUnits: nals, timestamp: timestamp, into: &packets)
    }
}
