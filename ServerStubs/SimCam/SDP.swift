import CamMedia
import Foundation

/// The track's control attribute. It is relative, so clients resolve it against
/// Content-Base, which is built from whatever URL they used; that is what lets
/// the stream work through a relay on a different host and port.
let trackControl = "trackID=0"

/// SDP for the single H.264 track, written by CamMedia; simcam adds only what
/// it knows about its clip (bit rate, frame rate, picture size).
func makeSDP(clip: H264Clip, sessionID: UInt64, originAddress: String, isIPv6: Bool) -> String {
    let fr = clip.frameRate
    let fps = Double(fr.num) / Double(fr.den)
    let totalBytes = clip.accessUnits.reduce(0) { $0 + $1.byteCount }
    let seconds = Double(clip.accessUnits.count) / fps
    let kbps = max(1, Int((Double(totalBytes) * 8 / 1000 / max(seconds, 0.001)).rounded(.up)))
    let fpsText = fr.den == 1 ? "\(fr.num)" : String(format: "%.3f", fps)

    // The clip's first SPS and PPS are the ones its stream uses.
    let track = TrackDescription(codec: clip.codec, clockRate: 90000, payloadType: 96, vps: clip.vps, sps: clip.sps, pps: clip.pps,
                                 width: clip.width, height: clip.height)
    let video = SDPMedia(
        track: track, control: trackControl, bandwidthKbps: kbps,
        extraAttributes: [
            SDPAttribute("framerate", fpsText),
            SDPAttribute("framesize", "96 \(clip.width)-\(clip.height)"),
        ])
    let description = SessionDescription(
        origin: SessionDescription.origin(sessionID: sessionID, address: originAddress),
        name: "camagent-simcam",
        information: "Simulated IP camera: looping H.264 test clip",
        connection: isIPv6 ? "IN IP6 ::" : "IN IP4 0.0.0.0",
        attributes: [
            SDPAttribute("tool", "camagent-simcam"), SDPAttribute("type", "broadcast"),
            SDPAttribute("range", "npt=0-"), SDPAttribute("control", "*"),
        ],
        media: [video])
    return description.text
}
