import CamProtocol
import Foundation
import Testing

extension EndToEnd {
@Suite struct TLSTests {
    /// The product path: TLS on the endpoint, streampoint control and tunnel data links.
    @Test func agentStreamsOverTLSEndToEnd() throws {
        let cluster = try Cluster()
        defer { cluster.stop(); cluster.removeDirectory() }
        try cluster.startServers(tls: true)
        let agent = try cluster.startAgent()
        let url = try cluster.viewerURL(target: "rtsp")
        #expect(try countFrames(url) >= 50, "\(cluster.allLogs)")
        #expect(!agent.stderr.contains("allow_plaintext"), "the TLS config must not enable plain TCP")
        #expect(agent.stderr.contains("authenticated to localhost:"))
    }

    /// A wrong CA, an expired certificate and a wrong name each give one clear
    /// log line and backoff, never a session.
    @Test(arguments: [
        ("wrong CA", "server", "other-ca.pem", "not correctly signed by the trusted CA"),
        ("expired certificate", "expired", "ca.pem", "expired"),
        ("wrong name", "wrongname", "ca.pem", "CN"),
    ])
    func untrustworthyServersAreRefused(_ label: String, _ serverCert: String, _ agentCA: String, _ reason: String) throws {
        let cluster = try Cluster()
        defer { cluster.stop(); cluster.removeDirectory() }
        try cluster.startServers(tls: true, serverCert: serverCert)
        let agent = try cluster.startAgent(config: cluster.agentConfig(caFile: cluster.pkiPath(agentCA)))
        let deadline = Date().addingTimeInterval(15)
        while agent.stderr.components(separatedBy: "server certificate rejected").count < 3 && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.1)
        }
        let refusals = agent.stderr.split(separator: "\n").filter { $0.contains("server certificate rejected") }
        #expect(refusals.count >= 2, "\(label): expected repeated refusals\n\(agent.stderr)")
        #expect(refusals.allSatisfy { $0.contains(reason) && $0.contains("retrying in") }, "\(label): \(refusals)")
        #expect(!agent.stderr.contains("authenticated"), "\(label): the agent trusted the server")
        #expect(!cluster.endpoint.stderr.contains("authenticated"), "\(label): a session was established")
        #expect(agent.isRunning)
    }

    /// Garbage before the TLS handshake, and after it, costs only that connection.
    @Test func garbageAroundTheTLSHandshakeLeavesTheServersServing() throws {
        let cluster = try Cluster()
        defer { cluster.stop(); cluster.removeDirectory() }
        try cluster.startServers(tls: true)
        try cluster.startAgent()
        let url = try cluster.viewerURL(target: "rtsp")
        for port in [cluster.endpointPort, cluster.streampointPort] {
            // Not TLS at all: plain HTTP to a TLS port.
            let plain = try RawClient(port: port)
            plain.send(HTTPUpgrade.request(host: "x"))
            #expect(plain.readUntilClosed().closed, "port \(port) kept a non-TLS client")
            // A TLS ClientHello-looking record with garbage inside.
            let junk = try RawClient(port: port)
            junk.send([0x16, 0x03, 0x01, 0x00, 0x40] + [UInt8](repeating: 0xAB, count: 64))
            #expect(junk.readUntilClosed().closed, "port \(port) kept a garbage handshake")
        }
        // Garbage after a good TLS handshake: a plain HTTP error inside TLS, then close.
        let openssl = try #require(which("openssl"), "openssl is not installed")
        for port in [cluster.endpointPort, cluster.streampointPort] {
            let (_, out, err) = try run(openssl, ["s_client", "-connect", "localhost:\(port)", "-CAfile", cluster.pkiPath("ca.pem"),
                                                  "-verify_return_error", "-quiet"],
                                        timeout: 20, stdin: "\u{01}\u{02}garbage after the handshake\r\n\r\n")
            #expect(out.contains("HTTP/1.1 400"), "port \(port): \(out) \(err)")
        }
        #expect(try countFrames(url, seconds: 3) >= 50)
        #expect(cluster.endpoint.isRunning && cluster.streampoint.isRunning)
    }
}
}
