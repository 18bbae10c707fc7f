/// What a target's RTSP path may be, in a config line and on the wire: it goes
/// into the request line the streampoint sends the camera
/// (`DESCRIBE rtsp://host:port<path> RTSP/1.0`), so no byte may end or split
/// that line. A `/`, then printable ASCII without spaces (a query such as
/// `?channel=1&subtype=0` is fine), at most 128 bytes.
public enum RTSPPathSyntax {
    public static let maxBytes = 128

    public static func isValid(_ path: String) -> Bool {
        let bytes = path.utf8
        guard bytes.first == 0x2F, bytes.count <= maxBytes else { return false }
        for byte in bytes where byte < 0x21 || byte > 0x7E { return false }
        return true
    }
}
