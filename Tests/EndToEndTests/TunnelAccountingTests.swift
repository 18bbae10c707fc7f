import CamProtocol
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

extension EndToEnd {
/// Issue 14, finding 9: bytes that arrive in the same read as the data link's
/// HELLO_ACK reached the camera but were not counted (`23 bytes out, 0 bytes
/// in` for an echo of 23 bytes). A streampoint that writes HELLO_ACK and the
/// viewer's first bytes at once is legal (PROTOCOL §7.2), so the agent's
/// tunnel report must count them.
@Suite struct TunnelAccountingTests {
    @Test func bytesArrivingWithTheHelloAckAreCounted() throws {
        let cluster = try Cluster()
        defer { cluster.stop(); cluster.removeDirectory() }
        let streampoint = try RawServer()
        try cluster.startServers(streampointOverride: "raw=127.0.0.1:\(streampoint.port)")
        let agent = try cluster.startAgent()

        let control = try #require(streampoint.accept(timeout: 20).map(ServerLink.init), "the agent never came")
        #expect(try control.next()?.kind == .hello)
        control.send(.helloAck(version: 1, server: "raw"))
        #expect(try control.next()?.kind == .streamRegister)
        control.send(.streamRegistered(streampointID: "raw"))
        let token = [UInt8](repeating: 9, count: 16)
        control.send(.tunnelOpen(tunnelID: 1, host: "127.0.0.1", port: UInt16(cluster.httpPort), bindToken: token))

        let data = try #require(streampoint.accept(timeout: 20).map(ServerLink.init), "no data link")
        #expect(try data.next()?.kind == .hello)
        #expect(try data.next() == .tunnelBind(tunnelID: 1, bindToken: token))
        let request = Array("GET /snapshot.jpg HTTP/1.1\r\nHost: camera\r\nConnection: close\r\n\r\n".utf8)
        data.send(Message.helloAck(version: 1, server: "raw").encoded() + request)

        var response: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(data.fd, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { break }
            response += buffer[0..<n]
        }
        #expect(response.starts(with: Array("HTTP/1.1 200".utf8)), "\(String(decoding: response.prefix(80), as: UTF8.self))")
        shutdown(data.fd, Int32(SHUT_RDWR))

        let expected = "tunnel 1: closed"
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline && !agent.stderr.contains(expected) { Thread.sleep(forTimeInterval: 0.1) }
        let line = agent.stderr.split(separator: "\n").first { $0.contains(expected) }.map(String.init) ?? ""
        #expect(line.hasSuffix("\(response.count) bytes out, \(request.count) bytes in"), "\(line)\n\(agent.stderr)")
    }
}
}
