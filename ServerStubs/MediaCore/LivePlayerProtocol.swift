// What the streampoint's /live/<agent-id>/<target> WebSocket sends and the
// player page (PlayerPage) expects. The server only sends; the player sends
// nothing.
//
//   text    {"type":"init","codec":"avc1.42c01e,mp4a.40.2","width":1920,"height":1080[,"note":"…"]}
//           first, and again whenever the codec or picture size changes (or a new
//           muxer starts): the player throws its MediaSource away and starts over.
//   binary  [0] + init segment (ftyp+moov), right after every "init" text message.
//   binary  [1] + media segment (moof+mdat) whose first video sample is a keyframe:
//           a player may start, or resume after dropping, here.
//   binary  [2] + any other media segment.
//   text    {"type":"status","message":"…"} at any time: shown to the viewer as is
//           (e.g. "camera unreachable, retrying"); changes nothing else.
//
// The kind byte is outside the MP4 bytes: strip it and the rest concatenates
// into a playable fragmented MP4 file. A player that falls behind drops media
// segments until the next kind-1 segment.

public enum LivePlayerProtocol {
    public static let initSegmentKind: UInt8 = 0
    public static let keyframeSegmentKind: UInt8 = 1
    public static let deltaSegmentKind: UInt8 = 2

    /// The "init" text message for a muxer; `note` (e.g. "G.711 audio is not played in the browser")
    /// is shown beside the picture.
    public static func initMessage(for muxer: FMP4Muxer, note: String? = nil) -> String {
        initMessage(codecs: muxer.codecs, width: muxer.width, height: muxer.height, note: note)
    }

    public static func initMessage(codecs: String, width: Int, height: Int, note: String? = nil) -> String {
        var json = #"{"type":"init","codec":"# + jsonString(codecs) + #","width":\#(width),"height":\#(height)"#
        if let note { json += #","note":"# + jsonString(note) }
        return json + "}"
    }

    public static func statusMessage(_ message: String) -> String {
        #"{"type":"status","message":"# + jsonString(message) + "}"
    }

    public static func initSegmentMessage(_ muxer: FMP4Muxer) -> [UInt8] {
        [initSegmentKind] + muxer.initSegment
    }

    public static func mediaSegmentMessage(_ segment: FMP4MediaSegment) -> [UInt8] {
        [segment.isRandomAccessPoint ? keyframeSegmentKind : deltaSegmentKind] + segment.bytes
    }

    /// A JSON string literal; everything outside printable ASCII is \u-escaped, so the
    /// result is plain ASCII whatever a camera's text holds.
    static func jsonString(_ text: String) -> String {
        var out = "\""
        for unit in text.utf16 {
            switch unit {
            case 0x22: out += "\\\""
            case 0x5C: out += "\\\\"
            case 0x20..<0x7F: out.unicodeScalars.append(Unicode.Scalar(UInt8(unit)))
            default:
                let hex = String(unit, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            }
        }
        return out + "\""
    }
}
