import CamMedia

extension RTSPRequest {
    var cseq: String? { headers["CSeq"] }
}

extension RTSPResponse {
    init(_ status: Int, _ reason: String) {
        self.init(status: status, reason: reason)
    }

    mutating func add(_ name: String, _ value: String) { headers.fields.append((name: name, value: value)) }
}

/// A response with the headers every simcam reply carries, in wire form.
func encode(_ response: RTSPResponse, cseq: String?) -> [UInt8] {
    var full = response
    var leading: [(name: String, value: String)] = []
    // RFC 2326 §12.17: the reply must echo CSeq; a value with control bytes is
    // dropped so a hostile one cannot inject header lines.
    if let cseq, !cseq.isEmpty, cseq.utf8.allSatisfy({ $0 >= 0x20 && $0 != 0x7F }) {
        leading.append((name: "CSeq", value: cseq))
    }
    leading.append((name: "Server", value: "camagent-simcam"))
    full.headers.fields = leading + response.headers.fields
    // Errors say Content-Length: 0 explicitly; the encoder fills in the count.
    if response.status >= 400 { full.headers.fields.append((name: "Content-Length", value: "")) }
    return RTSPEncoder.encode(full)
}
