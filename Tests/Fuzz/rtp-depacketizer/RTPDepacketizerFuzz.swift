// Fuzz target: the RTP receive path the streampoint runs on a camera's packets
// (RTP header, H.264, H.265 and AAC depacketisers, RTCP, SPS parsing). The
// input is a sequence of packets, each preceded by a 16-bit length, as on an
// interleaved RTSP connection. Beyond "no crash" it checks that
// - every video frame is well-formed AVCC with no empty NAL unit, under the cap;
// - the frames, packetised again by CamMedia's packetisers and depacketised,
//   come back identical (payload, keyframe flag, 32-bit timestamp): what the
//   depacketiser emits is exactly what the RTSP re-server will send;
// - the same holds for AAC frames.
import CamMedia

let accessUnitCap = 64 << 10

func packets(in input: [UInt8]) -> [[UInt8]] {
    var out: [[UInt8]] = []
    var offset = 0
    while input.count - offset >= 2 {
        let length = min(Int(input[offset]) << 8 | Int(input[offset + 1]), input.count - offset - 2)
        out.append(Array(input[(offset + 2)..<(offset + 2 + length)]))
        offset += 2 + length
    }
    return out
}

func checkVideo(_ frames: [MediaFrame], codec: MediaCodec, again: ([[UInt8]]) -> [MediaFrame], repacketize: ([MediaFrame]) -> [[UInt8]]) {
    for frame in frames {
        require(frame.codec == codec, "frame of the wrong codec")
        require(frame.payload.count <= accessUnitCap, "frame of \(frame.payload.count) bytes passed the cap")
        guard let nals = AVCC.nalUnits(in: frame.payload) else {
            require(false, "frame payload is not AVCC: \(hexDump(frame.payload))")
            return
        }
        require(nals.allSatisfy { $0.count >= (codec == .h265 ? 2 : 1) }, "frame has an empty NAL unit")
    }
    guard let first = frames.first else { return }
    require(first.isKeyframe, "the first frame is not a keyframe")
    let second = again(repacketize(frames))
    require(second.count == frames.count, "re-packetised \(frames.count) frames came back as \(second.count)")
    for (a, b) in zip(frames, second) {
        require(a.payload == b.payload && a.isKeyframe == b.isKeyframe, "re-packetised frame differs: \(hexDump(a.payload))")
        require(UInt32(truncatingIfNeeded: a.timestamp) == UInt32(truncatingIfNeeded: b.timestamp), "re-packetised timestamps differ")
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRTPDepacketizer(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = packets(in: fuzzInput(data, size))

    var h264 = H264Depacketizer(maxAccessUnitBytes: accessUnitCap)
    var h265 = H265Depacketizer(maxAccessUnitBytes: accessUnitCap)
    var aac = AACDepacketizer()
    var h264Frames: [MediaFrame] = []
    var h265Frames: [MediaFrame] = []
    var aacFrames: [MediaFrame] = []
    for packet in input {
        try? h264.push(packet, into: &h264Frames)
        try? h265.push(packet, into: &h265Frames)
        try? aac.push(packet, into: &aacFrames)
        _ = try? RTCPCompoundPacket(parsing: packet)
    }
    h264.flush(into: &h264Frames)
    h265.flush(into: &h265Frames)
    _ = try? H264SPS(nal: h264.sps)
    _ = try? H265SPS(nal: h265.sps)
    if let packet = input.first, packet.count > 2 {
        _ = try? H264SPS(nal: [0x67] + packet)
        _ = try? H265SPS(nal: [0x42, 0x01] + packet).codecString
    }

    checkVideo(h264Frames, codec: .h264, again: { packets in
        var d = H264Depacketizer(maxAccessUnitBytes: accessUnitCap)
        var frames: [MediaFrame] = []
        for p in packets { try? d.push(p, into: &frames) }
        d.flush(into: &frames)
        return frames
    }, repacketize: { frames in
        var p = H264Packetizer(ssrc: 1, initialSequenceNumber: 0, maxPayload: 100)
        var packets: [[UInt8]] = []
        for frame in frames { p.packetize(frame, timestamp: UInt32(truncatingIfNeeded: frame.timestamp), into: &packets) }
        return packets
    })
    checkVideo(h265Frames, codec: .h265, again: { packets in
        var d = H265Depacketizer(maxAccessUnitBytes: accessUnitCap)
        var frames: [MediaFrame] = []
        for p in packets { try? d.push(p, into: &frames) }
        d.flush(into: &frames)
        return frames
    }, repacketize: { frames in
        var p = H265Packetizer(ssrc: 1, initialSequenceNumber: 0, maxPayload: 100)
        var packets: [[UInt8]] = []
        for frame in frames { p.packetize(frame, timestamp: UInt32(truncatingIfNeeded: frame.timestamp), into: &packets) }
        return packets
    })

    var packetizer = AACPacketizer(ssrc: 1, initialSequenceNumber: 0, maxPayload: 100)
    var aacPackets: [[UInt8]] = []
    for frame in aacFrames {
        require(!frame.payload.isEmpty && frame.payload.count <= AACPacketizer.maxFrameBytes, "AAC frame of \(frame.payload.count) bytes")
        packetizer.packetize(frame: frame.payload, timestamp: UInt32(truncatingIfNeeded: frame.timestamp), into: &aacPackets)
    }
    var again = AACDepacketizer()
    var aacAgain: [MediaFrame] = []
    for p in aacPackets { try? again.push(p, into: &aacAgain) }
    require(aacAgain.map(\.payload) == aacFrames.map(\.payload), "re-packetised AAC frames differ")
    return 0
}
