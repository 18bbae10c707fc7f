/// What a passthrough target speaks, judged from its name (docs/CONFIG.md
/// `target`): the streampoint can read a viewer's first request, and so check
/// a viewer token, only for HTTP and RTSP. Everything else is raw TCP.
enum PassthroughProtocol: Equatable {
    case http
    case rtsp
    case raw

    /// `http` and `rtsp`, in any case, alone or with a suffix after `-`, `_` or
    /// `.` (`rtsp-sub`, `http.admin`); `https` and other names are raw TCP.
    init(targetName: String) {
        let name = targetName.lowercased()
        func named(_ word: String) -> Bool {
            guard name.hasPrefix(word) else { return false }
            let rest = name.dropFirst(word.count)
            return rest.isEmpty || rest.first == "-" || rest.first == "_" || rest.first == "."
        }
        if named("http") {
            self = .http
        } else if named("rtsp") {
            self = .rtsp
        } else {
            self = .raw
        }
    }
}
