import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension EndToEnd {
/// Which cipher suite a link uses, and that TLS tunnels carry every byte.
@Suite struct TLSSuiteTests {
    /// What the agent under test should put first: AES-GCM only where AES and
    /// carry-less multiply are in hardware (x86_64 with AES-NI and PCLMULQDQ;
    /// mbedTLS 2.28 has no ARMv8 AES code, so an agent under an ARM emulator
    /// puts ChaCha20-Poly1305 first). Mirrors camtls.c's choice, seen from outside.
    static var expectedFirstCipher: String {
        let runner = ProcessInfo.processInfo.environment["CAMAGENT_AGENT_RUNNER"] ?? ""
        #if arch(x86_64)
        let native = runner.isEmpty
        #else
        let native = false
        #endif
        let flags = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?
            .split(separator: "\n").first { $0.hasPrefix("flags") }?
            .split(separator: " ").map(String.init) ?? []
        return native && flags.contains("aes") && flags.contains("pclmulqdq") ? "AES-128-GCM" : "CHACHA20-POLY1305"
    }

    /// Every TLS link (endpoint, streampoint, a tunnel's data link) logs its
    /// version and suite once, and the suite is the agent's first choice: the
    /// NIOSSL servers take the client's order.
    @Test func everyLinkLogsItsSuiteAndItIsTheAgentsFirstChoice() throws {
        let cluster = try Cluster()
        defer { cluster.stop(); cluster.removeDirectory() }
        try cluster.startServers(tls: true)
        let agent = try cluster.startAgent()
        let url = try cluster.viewerURL(target: "rtsp")
        #expect(try countFrames(url, seconds: 2) > 0, "\(cluster.allLogs)")
        let deadline = Date().addingTimeInterval(10)
        var lines: [Substring] = []
        repeat {
            lines = agent.stderr.split(separator: "\n").filter { $0.contains("TLS established, ") }
            if lines.contains(where: { $0.contains("tunnel ") }) { break }
            Thread.sleep(forTimeInterval: 0.1)
        } while Date() < deadline
        for link in ["endpoint: ", "streampoint: ", "data: "] {
            #expect(lines.contains { $0.contains(link) }, "no suite line for \(link)\n\(agent.stderr)")
        }
        // The test PKI's server keys are EC P-256, so ECDSA suites.
        let expected = "TLSv1.2, TLS-ECDHE-ECDSA-WITH-\(Self.expectedFirstCipher)-"
        #expect(lines.allSatisfy { $0.contains(expected) }, "expected \(expected) on every link:\n\(lines.joined(separator: "\n"))")
    }

    /// BoringSSL (NIOSSL) servers pick the client's first suite they support,
    /// whichever order the client offers: the agent's order is what counts.
    @Test(arguments: [
        ["ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-ECDSA-AES128-GCM-SHA256"],
        ["ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-CHACHA20-POLY1305"],
        ["ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-ECDSA-AES128-GCM-SHA256"],
    ])
    func serversHonourTheClientsOrder(_ offered: [String]) throws {
        let cluster = try Cluster()
        defer { cluster.stop(); cluster.removeDirectory() }
        try cluster.startServers(tls: true)
        let openssl = try #require(which("openssl"), "openssl is not installed")
        for (server, port) in [("endpoint", cluster.endpointPort), ("streampoint", cluster.streampointPort)] {
            let (_, out, err) = try run(openssl, ["s_client", "-connect", "localhost:\(port)", "-servername", "localhost",
                                                  "-CAfile", cluster.pkiPath("ca.pem"), "-verify_return_error",
                                                  "-tls1_2", "-cipher", offered.joined(separator: ":")],
                                        timeout: 20, stdin: "")
            let chosen = (out + "\n" + err).split(separator: "\n").compactMap { line -> String? in
                guard let range = line.range(of: "Cipher is ") else { return nil }
                return String(line[range.upperBound...]).trimmingCharacters(in: .whitespaces)
            }.first
            #expect(chosen == offered[0], "\(server) chose \(chosen ?? "nothing") for \(offered)\n\(out)\n\(err)")
        }
    }

    /// A TLS tunnel whose viewer stops and starts carries every byte in order.
    /// When the streampoint's socket is full, mbedTLS keeps a sealed record
    /// and must be called again with the same bytes; the queue behind it grows
    /// meanwhile, and counting that growth as sent drops bytes (a shifted
    /// 251-byte cycle here). "trickle" makes the agent read, and seal, pieces
    /// smaller than a record, the case where the count went wrong.
    @Test(arguments: ["pattern", "trickle"])
    func stopAndGoViewerGetsEveryByteThroughATLSTunnel(_ mode: String) throws {
        let cluster = try Cluster()
        defer { cluster.stop(); cluster.removeDirectory() }
        try cluster.startServers(tls: true)
        let script = Binaries.repository.appendingPathComponent("Scripts/lib/bulk.py").path
        let python = try #require(which("python3"), "python3 is not installed")
        let source = try cluster.spawn("source", python, [script, "serve", "0", mode])
        let sourcePort = try Int(source.waitForLine(startingWith: "listening ")) ?? 0
        try cluster.startAgent(config: cluster.agentConfig(extra: "target = source=127.0.0.1:\(sourcePort)"))
        let url = try cluster.viewerURL(target: "source")
        let viewer = try RawClient(port: port(fromAnnouncement: String(url.dropLast())))  // "tcp://host:port/"
        let (bursts, burstBytes, pause) = mode == "trickle" ? (3, 4 << 20, 3.0) : (8, 2 << 20, 0.3)
        var offset = 0
        var firstBad: Int?
        for burst in 0..<bursts {
            let bytes = viewer.read(atLeast: burst == 0 ? 256 << 10 : burstBytes)
            for (index, byte) in bytes.enumerated() where firstBad == nil && Int(byte) != (offset + index) % 251 {
                firstBad = offset + index
            }
            offset += bytes.count
            guard firstBad == nil, bytes.count >= 256 << 10 else { break }
            // Every buffer between the source and this viewer fills while it sleeps.
            Thread.sleep(forTimeInterval: burst == 0 ? max(pause, 1.0) : pause)
        }
        #expect(firstBad == nil, "byte \(firstBad ?? 0) is out of the cycle\n\(cluster.allLogs)")
        #expect(offset >= (256 << 10) + (bursts - 1) * burstBytes, "only \(offset) bytes arrived\n\(cluster.allLogs)")
    }
}
}
