import Foundation

/// The track's control attribute. It is relative, so clients resolve it against
/// Content-Base, which is built from whatever URL they used; that is what lets
/// the stream work through a relay on a different host and port.
let trackControl = "trackID=0"

/// SDP for the single H.264 track (RFC 4566, RFC 6184 §8.2.1).
func makeSDP(clip: H264Clip, sessionID: UInt64, originAddress: String, isIPv6: Bool) -> String {
    let fr = clip.frameRate
    let fps = Double(fr.num) / Double(fr.den)
    let totalBytes = clip.accessUnits.reduce(0) { $0 + $1.byteCount }
    let seconds = Double(clip.accessUnits.count) / fps
    let kbps = max(1, Int((Double(totalBytes) * 8 / 1000 / max(seconds, 0.001)).rounded(.up)))
    let spropSets = (clip.spsList.prefix(1) + clip.ppsList).map { Data($0).base64EncodedString() }.joined(separator: ",")
    let addrType = isIPv6 ? "IP6" : "IP4"
    let fpsText = fr.den == 1 ? "\(fr.num)" : String(format: "%.3f", fps)

    let lines = [
        "v=0",
        "o=- \(sessionID) 1 IN \(addrType) \(originAddress)",
        "s=camagent-simcam",
        "i=Simulated IP camera: looping H.264 test clip",
        "c=IN \(addrType) \(isIPv6 ? "::" : "0.0.0.0")",
        "t=0 0",
        "a=tool:camagent-simcam",
        "a=type:broadcast",
        "a=range:npt=0-",
        "a=control:*",
        "m=video 0 RTP/AVP 96",
        "b=AS:\(kbps)",
        "a=rtpmap:96 H264/90000",
        "a=fmtp:96 packetization-mode=1;sprop-parameter-sets=\(spropSets);profile-level-id=\(clip.info.profileLevelID)",
        "a=framerate:\(fpsText)",
        "a=framesize:96 \(clip.info.width)-\(clip.info.height)",
        "a=control:\(trackControl)",
    ]
    return lines.joined(separator: "\r\n") + "\r\n"
}

/// Content-Base for a request URI: the URI itself with a trailing slash, so a
/// relative control like "trackID=0" resolves beneath it (RFC 2326 C.1.1).
func contentBase(forRequestURI uri: String) -> String {
    var base = uri
    if let q = base.firstIndex(where: { $0 == "?" || $0 == "#" }) { base = String(base[..<q]) }
    return base.hasSuffix("/") ? base : base + "/"
}
