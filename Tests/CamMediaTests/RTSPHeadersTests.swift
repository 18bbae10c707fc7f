import CamMedia
import Testing

@Suite struct RTSPHeadersTests {
    @Test func namesCompareCaseInsensitively() {
        var headers = RTSPHeaders([(name: "CSeq", value: "3"), (name: "Session", value: "abc;timeout=60")])
        #expect(headers["cseq"] == "3")
        #expect(headers["SESSION"] == "abc;timeout=60")
        #expect(headers["Transport"] == nil)
        headers.set("cSeQ", "4")
        #expect(headers["CSeq"] == "4")
        #expect(headers.fields.count == 2)
    }

    @Test func asciiComparisonIsExact() {
        #expect(asciiCaseInsensitiveEqual("Content-Length", "content-length"))
        #expect(!asciiCaseInsensitiveEqual("Content-Length", "content-lengt"))
        #expect(!asciiCaseInsensitiveEqual("[", "{"))
    }
}
