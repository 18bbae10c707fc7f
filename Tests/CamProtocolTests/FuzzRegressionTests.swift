import CamProtocol
import Testing

/// Inputs found by Scripts/fuzz (Tests/Fuzz/), replayed through the same code
/// path the fuzz target drove: the head accumulator, then the HTTP parser.
@Suite struct FuzzRegressionTests {
    static func head(_ bytes: [UInt8]) throws -> [UInt8] {
        var accumulator = HTTPHeadAccumulator()
        return try #require(try accumulator.feed(bytes)).head
    }

    /// upgrade-request: a bare CR inside Host ended up in the accepted Host value
    /// (and from there in server logs), where other HTTP parsers end the line.
    @Test func bareCarriageReturnInHeaderIsRefused() throws {
        let input = Array("GET /camagent/v0 HTTP/1.1\r\nHost: speUrs\r5\n-A te:ngx\r\nConnection: keep-alive, Upgrade\r\nUpgrade: camagent/1\r\nX-Forwarded-For: 10.0.0.1\r\n\r\n".utf8)
            + [0x01, 0x00, 0x00, 0xEB, 0xBC, 0x41, 0x4D, 0x41, 0x01, 0x01, 0x00, 0x08] + Array("camagent".utf8)
        #expect(throws: ProtocolError.malformedUpgrade("bare CR or LF in HTTP head")) { try parseUpgradeRequest(try Self.head(input)) }
        #expect(throws: ProtocolError.malformedUpgrade("bare CR or LF in HTTP head")) {
            try parseUpgradeRequest(Array("GET /camagent/v1 HTTP/1.1\r\nHost: a\nUpgrade: x\r\nConnection: Upgrade\r\nUpgrade: camagent/1\r\n\r\n".utf8))
        }
    }

    /// upgrade-request: DEL (0x7F) bytes passed the "control byte" check and were accepted in the path.
    @Test func deleteByteInRequestTargetIsRefused() throws {
        let input = Array(("GET /camagn" + String(repeating: "\u{7F}", count: 113) + "t/v1 HTTP/1.1\r\nHts[::1]:7443\r\n"
            + "Connection: Upgrade\r\nUpgrade: camagent/1\r\n\r\n").utf8)
        #expect(throws: ProtocolError.malformedUpgrade("non-ASCII or control byte in HTTP head")) {
            try parseUpgradeRequest(try Self.head(input))
        }
        #expect(throws: ProtocolError.malformedUpgrade("tab in request target")) {
            try parseUpgradeRequest(Array("GET /camagent\t/v1 HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: camagent/1\r\n\r\n".utf8))
        }
    }

    /// link-reader: "+01" parsed as HTTP status 1 (Int() takes a sign), so the
    /// agent reported "server answered HTTP 1"; "-01" gave -1.
    @Test func statusCodeOutsideHTTPIsMalformedNotRejected() throws {
        let input = Array("HTTP/1.1 +01 Switching Protocols\r\nConnection: Upgde\r\nUpgrade: camagent/1\r\n\r\n".utf8)
            + [0x01, 0x00, 0x00, 0x1A, 0x43, 0x41, 0x74, 0x0A, 0x03, 0x00, 0x00, 0x17, 0x00, 0x0C, 0x69, 0x63]
        #expect(throws: ProtocolError.malformedUpgrade("status code is not three digits")) {
            try parseUpgradeResponse(try Self.head(input))
        }
        #expect(throws: ProtocolError.malformedUpgrade("status code is not three digits")) {
            try parseUpgradeResponse(Array("HTTP/1.1 -01 x\r\nUpgrade: camagent/1\r\n\r\n".utf8))
        }
        // link-reader, later: "050" passed as status 50.
        let zeroClass = Array("HTTP/1.1 050 Swktchiion: Up$rade\r\nUpgrade: camagent/1\r\n\r\n".utf8) + [0x02, 0x00, 0x00, 0x17]
        #expect(throws: ProtocolError.malformedUpgrade("status code is not 100 to 599")) {
            try parseUpgradeResponse(try Self.head(zeroClass))
        }
        #expect(throws: ProtocolError.upgradeRejected(status: 503)) {
            try parseUpgradeResponse(Array("HTTP/1.1 503 Busy\r\n\r\n".utf8))
        }
    }
}
