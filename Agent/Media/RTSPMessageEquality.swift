// Equality for the message values, so tests and the fuzzer can compare what two
// decodes produced. Strings compare by their UTF-8 bytes: String's `==` is
// Unicode-canonical and would pull normalisation tables into an embedded binary.

func utf8Equal(_ a: String, _ b: String) -> Bool { a.utf8.elementsEqual(b.utf8) }

extension RTSPHeaders: Equatable {
    public static func == (a: RTSPHeaders, b: RTSPHeaders) -> Bool {
        guard a.fields.count == b.fields.count else { return false }
        for (x, y) in zip(a.fields, b.fields) where !utf8Equal(x.name, y.name) || !utf8Equal(x.value, y.value) {
            return false
        }
        return true
    }
}

extension RTSPRequest: Equatable {
    public static func == (a: RTSPRequest, b: RTSPRequest) -> Bool {
        utf8Equal(a.method, b.method) && utf8Equal(a.uri, b.uri) && a.headers == b.headers && a.body == b.body
    }
}

extension RTSPResponse: Equatable {
    public static func == (a: RTSPResponse, b: RTSPResponse) -> Bool {
        a.status == b.status && utf8Equal(a.reason, b.reason) && a.headers == b.headers && a.body == b.body
    }
}

extension RTSPInterleavedFrame: Equatable {
    public static func == (a: RTSPInterleavedFrame, b: RTSPInterleavedFrame) -> Bool {
        a.channel == b.channel && a.payload == b.payload
    }
}

extension RTSPMessage: Equatable {
    public static func == (a: RTSPMessage, b: RTSPMessage) -> Bool {
        switch (a, b) {
        case let (.request(x), .request(y)): return x == y
        case let (.response(x), .response(y)): return x == y
        case let (.interleaved(x), .interleaved(y)): return x == y
        default: return false
        }
    }
}
