import CamProtocol
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A blocking loopback TCP client for feeding servers hostile bytes.
final class RawClient {
    private let fd: Int32

    init(port: Int) throws {
        fd = try connectLoopback(port: port)
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(fd) }

    func send(_ bytes: [UInt8]) {
        _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    func send(_ text: String) { send(Array(text.utf8)) }

    /// Reads at least `count` bytes (or until close/timeout); returns them.
    func read(atLeast count: Int) -> [UInt8] {
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while received.count < count {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { break }
            received += buffer[0..<n]
        }
        return received
    }

    /// Reads until the server closes (or 5 s pass); returns what arrived and whether it closed.
    func readUntilClosed() -> (bytes: [UInt8], closed: Bool) {
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 { received += buffer[0..<n] } else { return (received, n == 0 || errno == ECONNRESET) }
        }
    }
}

/// A blocking TCP connection to 127.0.0.1:port, from `source` (another loopback
/// address, to play a second host) if given; the caller owns the descriptor.
func connectLoopback(port: Int, from source: String? = nil) throws -> Int32 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw ClusterError("socket failed") }
    if let source {
        var local = sockaddr_in()
        local.sin_family = sa_family_t(AF_INET)
        local.sin_addr.s_addr = inet_addr(source)
        let bound = withUnsafePointer(to: &local) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else {
            close(fd)
            throw ClusterError("cannot bind to \(source)")
        }
    }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let rc = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard rc == 0 else {
        close(fd)
        throw ClusterError("connect to \(port) failed")
    }
    return fd
}

extension Array where Element == UInt8 {
    var text: String { String(decoding: self, as: UTF8.self) }
}

/// A loopback port nothing listens on right now.
func unusedPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let rc = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Int32 in
            guard bind(fd, pointer, length) == 0 else { return -1 }
            return getsockname(fd, pointer, &length)
        }
    }
    guard rc == 0 else { throw ClusterError("cannot find a free port") }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// A protocol-speaking client over RawClient: reads the upgrade head, then messages.
final class LinkClient {
    let raw: RawClient
    private var head = HTTPHeadAccumulator()
    private var upgraded = false
    private var frames = FrameDecoder()
    private(set) var sent: [UInt8] = []

    init(port: Int) throws { raw = try RawClient(port: port) }

    func send(_ bytes: [UInt8]) {
        sent += bytes
        raw.send(bytes)
    }

    func send(_ message: Message) { send(message.encoded()) }

    /// The next message, or nil once the server closed; throws on a non-101 answer.
    func next() throws -> Message? {
        while true {
            if upgraded, let frame = try frames.nextFrame() { return try Message(frame: frame) }
            let chunk = raw.read(atLeast: 1)
            guard !chunk.isEmpty else { return nil }
            if upgraded {
                frames.append(chunk)
            } else if let (headBytes, rest) = try head.feed(chunk) {
                try parseUpgradeResponse(headBytes)
                upgraded = true
                frames.append(rest)
            }
        }
    }
}

/// A listening loopback socket the test plays a server on.
final class RawServer {
    let fd: Int32
    let port: Int

    /// `port` 0: an ephemeral one.
    init(port requested: Int = 0) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.fd = fd
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(requested).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let rc = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Int32 in
                guard bind(fd, pointer, length) == 0, listen(fd, 8) == 0 else { return -1 }
                return getsockname(fd, pointer, &length)
            }
        }
        guard rc == 0 else { throw ClusterError("cannot listen on loopback") }
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    deinit { close(fd) }

    /// Waits up to `timeout` seconds for a connection; nil if none came.
    func accept(timeout: Int32) -> Int32? {
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&pfd, 1, timeout * 1000) == 1 else { return nil }
        let client = Glibc.accept(fd, nil, nil)
        guard client >= 0 else { return nil }
        var timeoutValue = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeoutValue, socklen_t(MemoryLayout<timeval>.size))
        return client
    }
}

/// The server side of one accepted link: parses the agent's upgrade request, then messages.
final class ServerLink {
    let fd: Int32
    private var head = HTTPHeadAccumulator()
    private var upgraded = false
    private var frames = FrameDecoder()

    init(fd: Int32) { self.fd = fd }
    deinit { close(fd) }

    func send(_ bytes: [UInt8]) {
        _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    func send(_ message: Message) { send(message.encoded()) }

    /// The next message from the agent (answering its upgrade with 101 first), or nil on close.
    func next() throws -> Message? {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            if upgraded, let frame = try frames.nextFrame() { return try Message(frame: frame) }
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { return nil }
            let chunk = Array(buffer[0..<n])
            if upgraded {
                frames.append(chunk)
            } else if let (headBytes, rest) = try head.feed(chunk) {
                _ = try parseUpgradeRequest(headBytes)
                send(HTTPUpgrade.switchingResponse())
                upgraded = true
                frames.append(rest)
            }
        }
    }
}
