enum ViewerURL {
    /// `rtsp://host:port/` for target "rtsp", `http://…/` for "http", `tcp://…` otherwise.
    static func make(targetName: String, host: String, port: Int) -> String {
        let scheme: String
        switch targetName.lowercased() {
        case "rtsp": scheme = "rtsp"
        case "http": scheme = "http"
        default: scheme = "tcp"
        }
        let hostPart = host.contains(":") ? "[\(host)]" : host
        return "\(scheme)://\(hostPart):\(port)/"
    }
}
