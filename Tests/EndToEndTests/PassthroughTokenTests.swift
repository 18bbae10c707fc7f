import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The passthrough ports (one tunnel per viewer connection) with viewer
/// tokens (issue 11 §4): real simcam, agent, endpoint and streampoint with
/// its channel; curl and ffprobe as the viewers.
extension EndToEnd {
@Suite struct PassthroughTokenTests {
    /// curl with a cookie jar; answers the status, the response headers and the body's bytes.
    private func get(_ url: String, headers: [String] = [], jar: String? = nil, saveJar: String? = nil) throws
        -> (code: Int, headers: String, body: [UInt8]) {
        let curl = try #require(which("curl"))
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("camagent-get-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let bodyPath = directory.appendingPathComponent("body").path
        var arguments = ["-sS", "--max-time", "10", "-D", "-", "-o", bodyPath, "-w", "\n%{http_code}"]
        for header in headers { arguments += ["-H", header] }
        if let jar { arguments += ["-b", jar] }
        if let saveJar { arguments += ["-c", saveJar] }
        let (_, out, _) = try run(curl, arguments + [url])
        let code = Int(out.split(separator: "\n").last ?? "") ?? -1
        let body = FileManager.default.contents(atPath: bodyPath).map { [UInt8]($0) } ?? []
        return (code, out, body)
    }

    private func isJPEG(_ bytes: [UInt8]) -> Bool { bytes.count > 100 && bytes[0] == 0xFF && bytes[1] == 0xD8 }

    @Test func tokensGuardTheHTTPAndRTSPPassthroughPortsAndRawTCPGetsNoPort() throws {
        let cluster = try Cluster()
        defer { cluster.stop(); cluster.removeDirectory() }
        let ports = try cluster.startMediaServersWithASecondCamera("cam-other")
        // A raw TCP target beside rtsp and http: no token can be checked on it.
        try cluster.startAgent(config: cluster.agentConfig(extra: "target = bulk=127.0.0.1:\(cluster.httpPort)"))
        let rtspURL = try cluster.viewerURL(target: "rtsp")
        let httpURL = try cluster.viewerURL(target: "http")
        let httpToken = try cluster.viewerToken(target: "http")
        let rtspToken = try cluster.viewerToken(target: "rtsp")
        let otherCamera = try cluster.viewerToken(agent: "cam-other", target: "http")
        var forged = Array(httpToken)
        forged[forged.count / 2] = forged[forged.count / 2] == "A" ? "B" : "A"

        // Refused: no tunnel is opened for any of these.
        for (name, extra) in [("missing", ""), ("forged", "?token=\(String(forged))"), ("other camera", "?token=\(otherCamera)"),
                              ("other target", "?token=\(rtspToken)"), ("garbage", "?token=not-a-token")] {
            let answer = try get("\(httpURL)snapshot.jpg\(extra)")
            #expect(answer.code == 401, "\(name): \(answer.code) \(answer.headers)")
            #expect(answer.headers.contains("WWW-Authenticate: Bearer"), "\(name)")
        }
        let bearerOther = try get("\(httpURL)snapshot.jpg", headers: ["Authorization: Bearer \(otherCamera)"])
        #expect(bearerOther.code == 401)
        #expect(cluster.tunnelsOpened(toPort: cluster.httpPort) == 0, "a refused viewer must not cost a tunnel\n\(cluster.agent?.stderr ?? "")")

        // Admitted by the query: the snapshot and the camera's page come through.
        let snapshot = try get("\(httpURL)snapshot.jpg?token=\(httpToken)")
        #expect(snapshot.code == 200 && isJPEG(snapshot.body), "\(snapshot.code) \(snapshot.headers)")
        let jar = cluster.path("viewer.cookies")
        let page = try get("\(httpURL)?token=\(httpToken)", saveJar: jar)
        #expect(page.code == 200 && page.body.text.contains("camagent-simcam"), "\(page.headers)")
        let setCookie = page.headers.components(separatedBy: "\r\n").first { $0.lowercased().hasPrefix("set-cookie:") } ?? ""
        #expect(setCookie.contains("camagent_viewer.\(cluster.agentID).http=") && setCookie.contains("HttpOnly")
                    && setCookie.contains("SameSite=Strict") && setCookie.contains("Path=/") && setCookie.contains("Max-Age="),
                "\(page.headers)")
        // … by the cookie alone, on a new connection, as the page's image is fetched.
        let byCookie = try get("\(httpURL)snapshot.jpg", jar: jar)
        #expect(byCookie.code == 200 && isJPEG(byCookie.body), "\(byCookie.headers)")
        #expect(!byCookie.headers.lowercased().contains("set-cookie"), "a cookie that came in is not set again")
        // … and by the header.
        let byBearer = try get("\(httpURL)snapshot.jpg", headers: ["Authorization: Bearer \(httpToken)"])
        #expect(byBearer.code == 200 && isJPEG(byBearer.body))

        // RTSP: the token in the first request's URL.
        let frames = try countFrames("\(rtspURL)?token=\(rtspToken)", seconds: 4)
        #expect(frames >= 50, "only \(frames) frames\n\(cluster.allLogs)")
        let rtspPort = try #require(Int(rtspURL.split(separator: ":").last?.filter(\.isNumber) ?? ""))
        let client = try RawClient(port: rtspPort)
        client.send("DESCRIBE rtsp://127.0.0.1:\(rtspPort)/?token=\(httpToken) RTSP/1.0\r\nCSeq: 3\r\n\r\n")
        let reply = client.readUntilClosed()
        #expect(reply.bytes.text.hasPrefix("RTSP/1.0 401 Unauthorized\r\nCSeq: 3\r\n") && reply.closed, "\(reply.bytes.text)")

        // The raw TCP target got no port.
        #expect(!cluster.streampoint.stdout.contains("target bulk at"), "\(cluster.streampoint.stdout)")
        #expect(cluster.streampoint.stderr.contains("target bulk is raw TCP"), "\(cluster.streampoint.stderr)")

        let metrics = try apiRequest(port: ports.admin, "GET", "/metrics").body
        #expect(metrics.contains("camagent_streampoint_viewer_token_refusals_total 7"), "\(metrics)")
        for token in [httpToken, rtspToken, otherCamera] {
            #expect(!cluster.allLogs.contains(token), "viewer tokens must never be logged")
        }
    }

    @Test func hugeHeadsAndSlowClientsAreClosedWithinABound() throws {
        let cluster = try Cluster()
        defer { cluster.stop(); cluster.removeDirectory() }
        _ = try cluster.startMediaCamera()
        let httpURL = try cluster.viewerURL(target: "http")
        let port = try #require(Int(httpURL.split(separator: ":").last?.filter(\.isNumber) ?? ""))

        // A head without end: 431 once 16 KiB have come.
        let huge = try RawClient(port: port)
        huge.send("GET / HTTP/1.1\r\nX-Fill: " + String(repeating: "a", count: 20_000))
        let sent = Date()
        let hugeReply = huge.readUntilClosed()
        #expect(hugeReply.closed && Date().timeIntervalSince(sent) < 3, "a huge head must be refused at once")
        // (A reset may overtake the answer when the client is still sending.)
        #expect(hugeReply.bytes.isEmpty || hugeReply.bytes.text.hasPrefix("HTTP/1.1 431"), "\(hugeReply.bytes.text)")

        // Silent connections, and one that trickles a byte every 0.5 s: cut at the 10 s deadline.
        let trickler = try connectLoopback(port: port)
        defer { close(trickler) }
        let lifetimes = try idleConnectionLifetimes(port: port, count: 10, limit: 20) {
            let started = Date()
            var closedAfter: TimeInterval?
            for byte in Array("GET / HTTP/1.1\r\nX-Slow: ".utf8) + [UInt8](repeating: 0x61, count: 40) {
                var one = byte
                if Glibc.send(trickler, &one, 1, Int32(MSG_NOSIGNAL)) != 1 {
                    closedAfter = Date().timeIntervalSince(started)
                    break
                }
                Thread.sleep(forTimeInterval: 0.5)
            }
            #expect(closedAfter.map { $0 >= 8 && $0 < 14 } == true, "the trickling client was cut after \(String(describing: closedAfter)) s")
        }
        #expect(lifetimes.allSatisfy { ($0 ?? 99) >= 8 && ($0 ?? 99) < 20 }, "\(lifetimes)")
        #expect(cluster.tunnelsOpened(toPort: cluster.httpPort) == 0)

        // The port still serves.
        let token = try cluster.viewerToken(target: "http")
        let curl = try #require(which("curl"))
        let (_, code, _) = try run(curl, ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10", "\(httpURL)snapshot.jpg?token=\(token)"])
        #expect(code == "200")
    }
}
}
