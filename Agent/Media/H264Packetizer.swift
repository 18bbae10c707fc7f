// RFC 6184 sender, packetization-mode 1: a NAL unit that fits goes alone,
// a larger one as FU-A fragments. No STAP-A: parameter sets are small but
// sending them alone costs a few bytes per keyframe and keeps this simple.

public struct H264Packetizer: Sendable {
    public var writer: RTPPacketWriter

    public init(payloadType: UInt8 = 96, ssrc: UInt32, initialSequenceNumber: UInt16, maxPayload: Int = RTPPacketWriter.defaultMaxPayload) {
        writer = RTPPacketWriter(payloadType: payloadType, ssrc: ssrc, initialSequenceNumber: initialSequenceNumber, maxPayload: maxPayload)
    }

    /// Appends the packets of one access unit. The marker bit goes on the very
    /// last packet so receivers know the picture is complete (RFC 6184 §5.1).
    public mutating func packetize(nalUnits: [ArraySlice<UInt8>], timestamp: UInt32, into packets: inout [[UInt8]]) {
        let units = nalUnits.filter { !$0.isEmpty }
        for (index, nal) in units.enumerated() {
            let lastNAL = index == units.count - 1
            if nal.count <= writer.maxPayload {
                packets.append(writer.packet(marker: lastNAL, timestamp: timestamp, prefix: [], data: nal))
                continue
            }
            let header = nal[nal.startIndex]
            // The FU indicator keeps F and NRI so that intermediate nodes can
            // still judge the fragment's importance.
            let indicator = (header & 0xE0) | H264NAL.fuA
            let chunk = writer.maxPayload - 2
            var offset = nal.startIndex + 1  // the NAL header is rebuilt from indicator and FU header
            while offset < nal.endIndex {
                let end = min(offset + chunk, nal.endIndex)
                let first = offset == nal.startIndex + 1
                let last = end == nal.endIndex
                let fuHeader = (first ? 0x80 : 0) | (last ? 0x40 : 0) | (header & 0x1F)
                packets.append(writer.packet(marker: lastNAL && last, timestamp: timestamp, prefix: [indicator, fuHeader], data: nal[offset..<end]))
                offset = end
            }
        }
    }

    /// A MediaFrame's access unit (AVCC payload); nothing if the payload is malformed.
    public mutating func packetize(_ frame: MediaFrame, timestamp: UInt32, into packets: inout [[UInt8]]) {
        guard let nals = AVCC.nalUnits(in: frame.payload) else { return }
        packetize(nalUnits: nals, timestamp: timestamp, into: &packets)
    }
}
