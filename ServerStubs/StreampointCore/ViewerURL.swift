enum ViewerURL {
    /// `rtsp://host:port/` for target "rtsp" (and "rtsp-sub", "rtsp-…": a camera's
    /// other streams), `http://…/` for "http", `tcp://…` otherwise.
    static func make(targetName: String, host: String, port: Int) -> String {
        let scheme: String
        let name = targetName.lowercased()
        if name == "rtsp" || name.hasPrefix("rtsp-") {
            scheme = "rtsp"
        } else if name == "http" {
            scheme = "http"
        } else {
            scheme = "tcp"
        }
        let hostPart = host.contains(":") ? "[\(host)]" : host
        return "\(scheme)://\(hostPart):\(port)/"
    }
}
