import CamMedia
import NIOCore

/// Per-client playback state: walks the clip forever, one access unit per
/// tick. Pure (no I/O, no clock) so the pacing/backpressure policy is easy to
/// reason about; the connection handler supplies time and writability.
struct ClipStreamer {
    enum TickOutcome: Equatable {
        case sent
        /// First frame sent after a stall; the client gets a fresh IDR.
        case resumed(skippedFrames: UInt64)
        /// The socket stopped draining; frames are dropped from here on.
        case stalled
        case skipping
    }

    let clip: H264Clip
    let rtpChannel: UInt8
    let rtcpChannel: UInt8
    private(set) var packetizer: VideoPacketizer
    let timestampBase: UInt32
    private let frameRate: (num: UInt64, den: UInt64)

    /// Index into clip.accessUnits of the next picture.
    private(set) var position = 0
    /// Frames elapsed since PLAY, including skipped ones: RTP time keeps
    /// tracking real time while a stalled client is being starved.
    private(set) var frameIndex: UInt64 = 0
    private(set) var waitingForIDR = false
    private var skippedSinceStall: UInt64 = 0
    private(set) var framesSent: UInt64 = 0
    private(set) var framesSkipped: UInt64 = 0
    private(set) var loopsCompleted: UInt64 = 0

    init(clip: H264Clip, rtpChannel: UInt8, rtcpChannel: UInt8, ssrc: UInt32, initialSequenceNumber: UInt16, timestampBase: UInt32) {
        self.clip = clip
        self.rtpChannel = rtpChannel
        self.rtcpChannel = rtcpChannel
        self.packetizer = clip.codec == .h265
            ? .h265(H265Packetizer(ssrc: ssrc, initialSequenceNumber: initialSequenceNumber))
            : .h264(H264Packetizer(ssrc: ssrc, initialSequenceNumber: initialSequenceNumber))
        self.timestampBase = timestampBase
        self.frameRate = clip.frameRate
    }

    var ssrc: UInt32 { packetizer.writer.ssrc }
    var nextSequenceNumber: UInt16 { packetizer.writer.sequenceNumber }
    var nextTimestamp: UInt32 { timestamp(forFrame: frameIndex) }

    /// Nanoseconds from the first frame to frame `n`; exact for non-integer
    /// rates such as 30000/1001.
    func nanoseconds(forFrames n: UInt64) -> Int64 {
        let (quotient, _) = frameRate.num.dividingFullWidth(n.multipliedFullWidth(by: 1_000_000_000 * frameRate.den))
        return Int64(clamping: quotient)
    }

    private func timestamp(forFrame n: UInt64) -> UInt32 {
        // 90 kHz is fixed for video by RFC 6184; truncation gives the natural wrap.
        timestampBase &+ UInt32(truncatingIfNeeded: n &* 90_000 &* frameRate.den / frameRate.num)
    }

    /// Emits the next access unit into `out` unless the client is backed up.
    /// Dropping whole pictures until the next IDR keeps memory bounded and
    /// leaves the client with a stream it can still decode.
    mutating func tick(writable: Bool, into out: inout ByteBuffer) -> TickOutcome {
        let au = clip.accessUnits[position]
        let ts = timestamp(forFrame: frameIndex)
        var outcome: TickOutcome

        if !writable {
            outcome = waitingForIDR ? .skipping : .stalled
            waitingForIDR = true
        } else if waitingForIDR && !au.isIDR {
            outcome = .skipping
        } else {
            outcome = waitingForIDR ? .resumed(skippedFrames: skippedSinceStall) : .sent
            waitingForIDR = false
            skippedSinceStall = 0
            var nals = au.nalUnits
            if au.isIDR {
                // Parameter sets ride in front of every IDR so late joiners and
                // recovering clients need nothing from SDP.
                nals.insert(contentsOf: clip.parameterSets, at: 0)
            }
            var packets: [[UInt8]] = []
            packetizer.packetize(nalUnits: nals.map { $0[...] }, timestamp: ts, into: &packets)
            for packet in packets { appendInterleaved(packet, channel: rtpChannel, to: &out) }
            framesSent += 1
        }
        if outcome == .stalled || outcome == .skipping {
            framesSkipped += 1
            skippedSinceStall += 1
        }

        frameIndex += 1
        position += 1
        if position == clip.accessUnits.count {
            position = 0
            loopsCompleted += 1
        }
        return outcome
    }

    /// After PAUSE the decoder's reference pictures are stale relative to
    /// where we resume, so playback restarts at the next IDR.
    mutating func skipToNextIDR() {
        if clip.accessUnits[position].isIDR { return }
        if let next = clip.accessUnits[position...].firstIndex(where: \.isIDR) {
            position = next
        } else {
            position = 0
            loopsCompleted += 1
        }
    }

    /// RTCP sender report + SDES CNAME (RFC 3550 §6.4.1, §6.5). Clients use the
    /// SR to map RTP time to wall-clock time; RFC 3550 requires the CNAME in every
    /// compound packet.
    func appendSenderReport(ntpTime: (seconds: UInt32, fraction: UInt32), lastTimestamp: UInt32, cname: String, to out: inout ByteBuffer) {
        appendRTCPSenderReport(writer: packetizer.writer, channel: rtcpChannel, ntpTime: ntpTime, rtpTimestamp: lastTimestamp,
                               cname: cname, to: &out)
    }

    /// Timestamp of the frame most recently passed to `tick`.
    var lastTimestamp: UInt32 { timestamp(forFrame: frameIndex &- 1) }
}

/// RTCP sender report + SDES CNAME (RFC 3550 §6.4.1, §6.5) for one track, interleaved.
func appendRTCPSenderReport(writer: RTPPacketWriter, channel: UInt8, ntpTime: (seconds: UInt32, fraction: UInt32),
                            rtpTimestamp: UInt32, cname: String, to out: inout ByteBuffer) {
    var rtcp: [UInt8] = []
    let ntp = UInt64(ntpTime.seconds) << 32 | UInt64(ntpTime.fraction)
    RTCPWriter.appendSenderReport(writer.senderReport(ntpTime: ntp, rtpTimestamp: rtpTimestamp), to: &rtcp)
    RTCPWriter.appendSourceDescription(ssrc: writer.ssrc, cname: Array(cname.utf8), to: &rtcp)
    appendInterleaved(rtcp, channel: channel, to: &out)
}

/// RTSP interleaved framing (RFC 2326 §10.12): '$', channel, 16-bit length, packet.
func appendInterleaved(_ packet: [UInt8], channel: UInt8, to out: inout ByteBuffer) {
    out.writeInteger(UInt8(ascii: "$"))
    out.writeInteger(channel)
    out.writeInteger(UInt16(packet.count))
    out.writeBytes(packet)
}

/// The clip's packetiser: H.264 (RFC 6184) or H.265 (RFC 7798), both CamMedia's.
enum VideoPacketizer {
    case h264(H264Packetizer)
    case h265(H265Packetizer)

    var writer: RTPPacketWriter {
        switch self {
        case .h264(let p): return p.writer
        case .h265(let p): return p.writer
        }
    }

    mutating func packetize(nalUnits: [ArraySlice<UInt8>], timestamp: UInt32, into packets: inout [[UInt8]]) {
        switch self {
        case .h264(var p): p.packetize(nalUnits: nalUnits, timestamp: timestamp, into: &packets); self = .h264(p)
        case .h265(var p): p.packetize(nalUnits: nalUnits, timestamp: timestamp, into: &packets); self = .h265(p)
        }
    }
}
