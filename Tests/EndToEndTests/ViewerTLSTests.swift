import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Viewer TLS (--viewer-tls-cert/--viewer-tls-key, issue 11 §4): the media
/// ports speak rtsps, https and wss only. Real ffprobe, curl and headless
/// Chromium; the certificate comes from the test PKI (Scripts/lib/make-test-pki.sh).
extension EndToEnd {
@Suite struct ViewerTLSTests {
    private func curl(_ arguments: [String]) throws -> (code: Int, body: String) {
        let curl = try #require(which("curl"))
        let (_, out, _) = try run(curl, ["-sS", "--max-time", "10", "-w", "\n%{http_code}"] + arguments)
        let code = Int(out.split(separator: "\n").last ?? "") ?? -1
        return (code, String(out.dropLast(String(code).count)))
    }

    /// ffprobe of an rtsps URL that must fail: its stderr.
    private func ffprobeRefusal(_ url: String) throws -> String {
        let ffprobe = try #require(which("ffprobe"))
        let (status, _, err) = try run(ffprobe, ["-v", "error", "-rtsp_transport", "tcp", "-show_entries", "stream=codec_name", url], timeout: 30)
        #expect(status != 0, "ffprobe played \(url) without a good token")
        return err
    }

    @Test func theMediaPortsServeRTSPSHTTPSAndWSSAndRefusePlainClients() throws {
        let cluster = try Cluster()
        defer { cluster.stop(); cluster.removeDirectory() }
        try cluster.startServers()
        try cluster.makePKI()
        let ports = try cluster.startMediaStreampoint(extraArguments: [
            "--viewer-tls-cert", cluster.pkiPath("server.pem"), "--viewer-tls-key", cluster.pkiPath("server.key"),
        ])
        try cluster.startAgent()
        _ = try cluster.viewerURL(target: "rtsp")
        let token = try cluster.viewerToken()
        let agent = cluster.agentID

        // The log names the schemes the ports speak.
        let log = cluster.streampoint.stderr
        #expect(log.contains("media viewer ports use TLS only (rtsps, https, wss)"), "\(log)")
        #expect(log.contains("RTSP viewers: rtsps://127.0.0.1:\(ports.rtsp)/<agent-id>/<target> with a viewer token"), "\(log)")
        #expect(log.contains("browser viewers: https://127.0.0.1:\(ports.web)/play/<agent-id>/<target> with a viewer token (fMP4: wss://"), "\(log)")

        // rtsps: ffprobe decodes with the token, gets 401 without.
        let rtsps = "rtsps://127.0.0.1:\(ports.rtsp)/\(agent)/rtsp"
        let frames = try countFrames("\(rtsps)?token=\(token)", seconds: 4)
        #expect(frames >= 50, "only \(frames) frames over rtsps\n\(cluster.allLogs)")
        let refusal = try ffprobeRefusal(rtsps)
        #expect(refusal.contains("401"), "\(refusal)")

        // https: the page, verified against the test CA by its name.
        let resolve = ["--cacert", cluster.pkiPath("ca.pem"), "--resolve", "localhost:\(ports.web):127.0.0.1"]
        let page = try curl(resolve + ["https://localhost:\(ports.web)/play/\(agent)/rtsp?token=\(token)"])
        #expect(page.code == 200 && page.body.contains("MediaSource"), "\(page.code)")
        #expect(try curl(resolve + ["https://localhost:\(ports.web)/play/\(agent)/rtsp"]).code == 401)
        // wss: the upgrade over TLS.
        let upgrade = try curl(resolve + ["-o", "/dev/null", "--max-time", "3",
            "-H", "Connection: Upgrade", "-H", "Upgrade: websocket", "-H", "Sec-WebSocket-Version: 13",
            "-H", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "https://localhost:\(ports.web)/live/\(agent)/rtsp?token=\(token)"])
        #expect(upgrade.code == 101, "\(upgrade.code)")

        // The player page over https in headless Chromium, which accepts only this certificate.
        let script = Binaries.repository.appendingPathComponent("Scripts/lib/player-browser.py").path
        let (status, stdout, stderr) = try run("/usr/bin/python3", [
            script, "--play", "https://127.0.0.1:\(ports.web)/play/\(agent)/rtsp?token=\(token)",
            "--out", cluster.path("browser"), "--accept-cert", cluster.pkiPath("server.pem"),
        ], timeout: 120)
        #expect(status == 0, "player-browser.py: \(stderr)\n\(cluster.streampoint.stderr)")
        if status == 0, let seen = try JSONSerialization.jsonObject(with: Data(stdout.utf8)) as? [String: Any] {
            let play = seen["play"] as? [String: Any] ?? [:]
            #expect((play["totalVideoFrames"] as? Int ?? 0) >= 50, "\(play)")
            let times = seen["currentTimes"] as? [Double] ?? []
            #expect(times.count == 2 && times[1] > times[0] + 0.5, "video.currentTime must advance: \(times)")
        }

        // Plain clients on the TLS ports: the handshake fails, the connection
        // closes at once, and nothing plain comes back.
        for (port, request) in [(ports.web, "GET /play/\(agent)/rtsp?token=\(token) HTTP/1.1\r\nHost: x\r\n\r\n"),
                                (ports.rtsp, "OPTIONS rtsp://127.0.0.1:\(ports.rtsp)/\(agent)/rtsp RTSP/1.0\r\nCSeq: 1\r\n\r\n"),
                                (ports.rtsp, String(repeating: "\u{1}garbage", count: 500))] {
            let client = try RawClient(port: port)
            let sent = Date()
            client.send(request)
            let (bytes, closed) = client.readUntilClosed()
            #expect(closed && Date().timeIntervalSince(sent) < 3, "port \(port): a plain client was not refused at once")
            #expect(!bytes.text.hasPrefix("HTTP/") && !bytes.text.hasPrefix("RTSP/"), "port \(port) answered in plain text")
        }
        // Clients that connect and say nothing are cut at the 10 s handshake deadline.
        var lifetimes: [[TimeInterval?]] = [[], []]
        let lock = NSLock()
        DispatchQueue.concurrentPerform(iterations: 2) { index in
            let result = (try? idleConnectionLifetimes(port: index == 0 ? ports.web : ports.rtsp, count: 10, limit: 20)) ?? []
            lock.lock(); lifetimes[index] = result; lock.unlock()
        }
        for (name, times) in zip(["web", "rtsp"], lifetimes) {
            #expect(times.count == 10 && times.allSatisfy { ($0 ?? 99) >= 8 && ($0 ?? 99) < 14 }, "\(name): \(times)")
        }
        #expect(cluster.streampoint.stderr.contains("no TLS handshake and request within 10 s"))

        // Still serving.
        #expect(try countFrames("\(rtsps)?token=\(token)", seconds: 2) >= 25, "\(cluster.allLogs)")
        #expect(!cluster.allLogs.contains(token), "viewer tokens must never be logged")
    }

    @Test func aBadCertificateOrKeyStopsTheStreampointAtStartNamingTheFile() throws {
        let cluster = try Cluster()
        defer { cluster.removeDirectory() }
        try cluster.makePKI()
        try cluster.ticketKey.write(toFile: cluster.path("ticket.key"), atomically: true, encoding: .utf8)
        try "cat_x\n".write(toFile: cluster.path("sp.token"), atomically: true, encoding: .utf8)
        try "not a certificate\n".write(toFile: cluster.path("junk.pem"), atomically: true, encoding: .utf8)
        let base = ["--ticket-key-file", cluster.path("ticket.key"), "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0",
                    "--endpoint-api", "http://127.0.0.1:9", "--endpoint-token-file", cluster.path("sp.token"), "--web", "127.0.0.1:0"]
        let cases: [([String], String)] = [
            (["--viewer-tls-cert", cluster.pkiPath("server.pem")], "--viewer-tls-cert needs --viewer-tls-key too"),
            (["--viewer-tls-cert", cluster.path("junk.pem"), "--viewer-tls-key", cluster.pkiPath("server.key")],
             "--viewer-tls-cert \(cluster.path("junk.pem")) holds no PEM certificate"),
            (["--viewer-tls-cert", cluster.pkiPath("server.pem"), "--viewer-tls-key", cluster.pkiPath("other-server.key")],
             "--viewer-tls-key \(cluster.pkiPath("other-server.key")) does not match the certificate in --viewer-tls-cert"),
            (["--viewer-tls-cert", cluster.path("missing.pem"), "--viewer-tls-key", cluster.pkiPath("server.key")],
             "cannot read --viewer-tls-cert"),
        ]
        for (arguments, expected) in cases {
            let (status, out, err) = try run(Binaries.host("camagent-streampoint"), base + arguments, timeout: 30)
            #expect(status != 0 && err.contains(expected), "\(arguments): \(status) \(err)")
            #expect(!out.contains("listening"), "nothing may start with a bad viewer certificate")
        }
    }
}
}
