import CamProtocol

/// The one place that decides what URL a camera target's pull asks for. The
/// tunnel always goes to the target's host:port; the path is, in order of
/// precedence, the registry's (per camera, from the endpoint: `registryPath`),
/// the agent's (`target = rtsp=host:port/path`, carried in STREAM_REGISTER),
/// then `/`.
enum MediaPullURL {
    static func make(target: TunnelTarget, registryPath: String? = nil) -> String {
        let host = target.host.contains(":") ? "[\(target.host)]" : target.host
        let path: String
        if let registryPath, !registryPath.isEmpty {
            path = registryPath
        } else if !target.path.isEmpty {
            path = target.path
        } else {
            path = "/"
        }
        return "rtsp://\(host):\(target.port)\(path)"
    }
}
