import CamMedia
import NIOCore

/// One client's audio track: sends, beside each picture the video streamer
/// sends, the AAC frames that start during that picture, as RFC 3640 AAC-hbr
/// (CamMedia's AACPacketizer). Timestamps follow the video's picture count, so
/// audio and video stay in step through loops, stalls and pauses.
struct AudioStreamer {
    let audio: AudioClip
    let rtpChannel: UInt8
    let rtcpChannel: UInt8
    let timestampBase: UInt32
    /// The URL the client SETUP this track with (for RTP-Info).
    let setupURI: String
    private(set) var packetizer: AACPacketizer
    private(set) var framesSent: UInt64 = 0

    init(audio: AudioClip, rtpChannel: UInt8, rtcpChannel: UInt8, ssrc: UInt32, initialSequenceNumber: UInt16,
         timestampBase: UInt32, setupURI: String) {
        self.audio = audio
        self.rtpChannel = rtpChannel
        self.rtcpChannel = rtcpChannel
        self.timestampBase = timestampBase
        self.setupURI = setupURI
        packetizer = AACPacketizer(payloadType: audio.track.payloadType, ssrc: ssrc, initialSequenceNumber: initialSequenceNumber)
    }

    var ssrc: UInt32 { packetizer.writer.ssrc }
    var nextSequenceNumber: UInt16 { packetizer.writer.sequenceNumber }

    /// The audio time at the start of the `frameIndex`-th picture since PLAY.
    func timestamp(atPicture frameIndex: UInt64) -> UInt32 {
        timestampBase &+ UInt32(truncatingIfNeeded: audio.samples(atPicture: frameIndex))
    }

    /// The audio of the picture at `position` in the loop, sent as the `frameIndex`-th picture.
    mutating func send(picture position: Int, frameIndex: UInt64, into out: inout ByteBuffer) {
        guard position < audio.framesByPicture.count else { return }
        let pictureStart = timestamp(atPicture: frameIndex)
        var packets: [[UInt8]] = []
        for index in audio.framesByPicture[position] {
            let timestamp = pictureStart &+ audio.offsetInPicture[index]
            if packetizer.packetize(frame: audio.frames[index], timestamp: timestamp, into: &packets) { framesSent += 1 }
        }
        for packet in packets { appendInterleaved(packet, channel: rtpChannel, to: &out) }
    }

    /// A sender report that pairs `ntpTime` with the audio time of the picture
    /// the video's own report names, so a player can line the two tracks up.
    func appendSenderReport(ntpTime: (seconds: UInt32, fraction: UInt32), atPicture frameIndex: UInt64, cname: String,
                            to out: inout ByteBuffer) {
        appendRTCPSenderReport(writer: packetizer.writer, channel: rtcpChannel, ntpTime: ntpTime,
                               rtpTimestamp: timestamp(atPicture: frameIndex), cname: cname, to: &out)
    }
}
