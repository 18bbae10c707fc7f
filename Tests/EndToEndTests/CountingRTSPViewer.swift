import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One RTSP player (interleaved TCP) that counts every byte the server sends
/// it, responses included, on its own thread until `stop()`: the single viewer
/// the camera's uplink is compared with in MediaStreamingTests.
final class CountingRTSPViewer {
    private let fd: Int32
    private let lock = NSLock()
    private var received = 0
    private var stopping = false
    private let finished = DispatchSemaphore(value: 0)
    private let started = Date()
    private var buffer: [UInt8] = []

    /// Connects, DESCRIBEs `url` (with its token), SETs UP every track and PLAYs;
    /// throws unless each step is answered 200 within 20 s.
    init(port: Int, url: String) throws {
        fd = try connectLoopback(port: port)
        var timeout = timeval(tv_sec: 1, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        do {
            try handshake(url: url)
        } catch {
            close(fd)
            throw error
        }
        let thread = Thread { [self] in readUntilStopped() }
        thread.start()
    }

    /// Stops reading, closes the connection; the bytes received and the seconds since connecting.
    func stop() -> (bytes: Int, seconds: Double) {
        lock.lock(); stopping = true; lock.unlock()
        _ = finished.wait(timeout: .now() + 5)
        close(fd)
        lock.lock(); defer { lock.unlock() }
        return (received, Date().timeIntervalSince(started))
    }

    private func send(_ text: String) {
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    /// One response (head and body), read from `buffer` and the socket; the
    /// bytes after it stay in `buffer`. Every byte read counts as received.
    private func response(to what: String) throws -> (head: String, body: String) {
        let deadline = Date().addingTimeInterval(20)
        var chunk = [UInt8](repeating: 0, count: 65536)
        while Date() < deadline {
            if let end = buffer.firstRange(of: Array("\r\n\r\n".utf8)) {
                let head = String(decoding: buffer[..<end.lowerBound], as: UTF8.self)
                let length = head.split(separator: "\r\n").compactMap { line -> Int? in
                    let parts = line.split(separator: ":", maxSplits: 1)
                    guard parts.count == 2, parts[0].lowercased() == "content-length" else { return nil }
                    return Int(parts[1].trimmingCharacters(in: .whitespaces))
                }.first ?? 0
                if buffer.count >= end.upperBound + length {
                    let body = String(decoding: buffer[end.upperBound..<end.upperBound + length], as: UTF8.self)
                    buffer.removeFirst(end.upperBound + length)
                    guard head.hasPrefix("RTSP/1.0 200") else { throw ClusterError("\(what): \(head)") }
                    return (head, body)
                }
            }
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n == 0 { throw ClusterError("\(what): the server closed the connection") }
            if n > 0 {
                buffer += chunk[0..<n]
                received += n
            }
        }
        throw ClusterError("\(what): no answer in 20 s")
    }

    private static func header(_ name: String, in head: String) -> String? {
        for line in head.split(separator: "\r\n") {
            let parts = line.split(separator: ":", maxSplits: 1)
            if parts.count == 2, parts[0].lowercased() == name.lowercased() {
                return parts[1].trimmingCharacters(in: .whitespaces)
            }
        }
        return nil
    }

    private func handshake(url: String) throws {
        send("DESCRIBE \(url) RTSP/1.0\r\nCSeq: 1\r\nAccept: application/sdp\r\n\r\n")
        let described = try response(to: "DESCRIBE")
        let base = Self.header("Content-Base", in: described.head) ?? url
        // "\r\n" is one Character in Swift: split on either line ending.
        let controls = described.body.split(whereSeparator: { $0 == "\n" || $0 == "\r\n" }).compactMap { line -> String? in
            let text = line.trimmingCharacters(in: .whitespacesAndNewlines)
            guard text.hasPrefix("a=control:"), text != "a=control:*" else { return nil }
            return String(text.dropFirst("a=control:".count))
        }
        guard !controls.isEmpty else { throw ClusterError("DESCRIBE: no tracks in \(described.body)") }
        var session = ""
        for (index, control) in controls.enumerated() {
            let uri = control.hasPrefix("rtsp://") ? control : base + (base.hasSuffix("/") ? "" : "/") + control
            let sessionLine = session.isEmpty ? "" : "Session: \(session)\r\n"
            send("SETUP \(uri) RTSP/1.0\r\nCSeq: \(index + 2)\r\n\(sessionLine)"
                 + "Transport: RTP/AVP/TCP;unicast;interleaved=\(2 * index)-\(2 * index + 1)\r\n\r\n")
            let set = try response(to: "SETUP")
            session = Self.header("Session", in: set.head)?.split(separator: ";").first.map(String.init) ?? session
        }
        send("PLAY \(base) RTSP/1.0\r\nCSeq: \(controls.count + 2)\r\nSession: \(session)\r\nRange: npt=0.000-\r\n\r\n")
        _ = try response(to: "PLAY")
        keepAlive = "GET_PARAMETER \(base) RTSP/1.0\r\nCSeq: 99\r\nSession: \(session)\r\n\r\n"
    }

    private var keepAlive = ""

    private func readUntilStopped() {
        var chunk = [UInt8](repeating: 0, count: 65536)
        var lastKeepAlive = Date()
        while true {
            lock.lock()
            let stop = stopping
            lock.unlock()
            if stop { break }
            // The session timeout is 60 s; a slow Chromium can keep the others watching that long.
            if Date().timeIntervalSince(lastKeepAlive) > 20 {
                send(keepAlive)
                lastKeepAlive = Date()
            }
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n == 0 { break }
            if n > 0 {
                lock.lock(); received += n; lock.unlock()
            }
        }
        finished.signal()
    }
}
