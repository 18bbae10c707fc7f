import CamMedia
import Foundation

/// The tracks' control attributes. They are relative, so clients resolve them
/// against Content-Base, which is built from whatever URL they used; that is
/// what lets the stream work through a relay on a different host and port.
let trackControl = "trackID=0"
let audioTrackControl = "trackID=1"

/// SDP for a stream's H.264/H.265 track and, when it has audio, its AAC track
/// (RFC 3640 AAC-hbr), written by CamMedia; simcam adds only what it knows about
/// its clip (bit rate, frame rate, picture size).
func makeSDP(stream: SimStream, sessionID: UInt64, originAddress: String, isIPv6: Bool) -> String {
    let clip = stream.clip
    let fr = clip.frameRate
    let fps = Double(fr.num) / Double(fr.den)
    let totalBytes = clip.accessUnits.reduce(0) { $0 + $1.byteCount }
    let seconds = Double(clip.accessUnits.count) / fps
    let kbps = max(1, Int((Double(totalBytes) * 8 / 1000 / max(seconds, 0.001)).rounded(.up)))
    let fpsText = fr.den == 1 ? "\(fr.num)" : String(format: "%.3f", fps)

    // The clip's first SPS and PPS are the ones its stream uses.
    let track = TrackDescription(codec: clip.codec, clockRate: 90000, payloadType: 96, vps: clip.vps, sps: clip.sps, pps: clip.pps,
                                 width: clip.width, height: clip.height)
    var media = [SDPMedia(
        track: track, control: trackControl, bandwidthKbps: kbps,
        extraAttributes: [
            SDPAttribute("framerate", fpsText),
            SDPAttribute("framesize", "96 \(clip.width)-\(clip.height)"),
        ])]
    if let audio = stream.audio {
        let audioBytes = audio.frames.reduce(0) { $0 + $1.count }
        let audioSeconds = Double(audio.frames.count) * Double(AudioClip.samplesPerFrame) / Double(audio.track.clockRate)
        let audioKbps = max(1, Int((Double(audioBytes) * 8 / 1000 / max(audioSeconds, 0.001)).rounded(.up)))
        media.append(SDPMedia(track: audio.track, control: audioTrackControl, bandwidthKbps: audioKbps))
    }
    let description = SessionDescription(
        origin: SessionDescription.origin(sessionID: sessionID, address: originAddress),
        name: "camagent-simcam",
        information: "Simulated IP camera: looping test clip",
        connection: isIPv6 ? "IN IP6 ::" : "IN IP4 0.0.0.0",
        attributes: [
            SDPAttribute("tool", "camagent-simcam"), SDPAttribute("type", "broadcast"),
            SDPAttribute("range", "npt=0-"), SDPAttribute("control", "*"),
        ],
        media: media)
    return description.text
}
