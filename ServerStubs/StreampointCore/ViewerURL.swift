enum ViewerURL {
    /// `rtsp://host:port/` for an RTSP target, `http://…/` for HTTP, `tcp://…` otherwise.
    static func make(targetName: String, host: String, port: Int) -> String {
        let scheme: String
        switch PassthroughProtocol(targetName: targetName) {
        case .rtsp: scheme = "rtsp"
        case .http: scheme = "http"
        case .raw: scheme = "tcp"
        }
        let hostPart = host.contains(":") ? "[\(host)]" : host
        return "\(scheme)://\(hostPart):\(port)/"
    }
}
