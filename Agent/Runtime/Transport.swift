import CCamShim

/// A connected socket, plain or wrapped in a TLS session: the one place that
/// knows which, so the loop and the splice move bytes the same way for both.
struct Transport {
    let fd: Int32
    /// The TLS session handle, or -1 for plain TCP.
    let session: Int32

    static func plain(_ fd: Int32) -> Transport { Transport(fd: fd, session: -1) }

    var isTLS: Bool { session >= 0 }

    func read(_ buffer: UnsafeMutablePointer<UInt8>, _ count: Int) -> Int {
        isTLS ? cs_tls_read(session, buffer, count) : cs_read(fd, buffer, count)
    }

    func write(_ buffer: UnsafePointer<UInt8>, _ count: Int) -> Int {
        isTLS ? cs_tls_write(session, buffer, count) : cs_write(fd, buffer, count)
    }

    /// Decrypted data waiting in the TLS session, which poll(2) cannot see.
    var hasPendingInput: Bool { isTLS && cs_tls_pending(session) != 0 }

    func shutdownWrite() {
        // TLS has no half-close of its own: close_notify would end both directions.
        _ = cs_shutdown_write(fd)
    }

    func close() {
        if isTLS { cs_tls_close(session) }
        _ = cs_close(fd)
    }

    /// "TLSv1.2, TLS-ECDHE-…" once the handshake is done; what the log says each TLS link uses.
    var sessionSummary: String {
        guard isTLS else { return "plain TCP" }
        var buffer = [UInt8](repeating: 0, count: 96)
        let length = buffer.withUnsafeMutableBufferPointer { cs_tls_session_info(session, $0.baseAddress, $0.count) }
        return decodeUTF8Lossy(Array(buffer[0..<max(0, length)]))
    }

    func errorText(_ code: Int) -> String {
        guard code <= -Int(CS_TLS_ERROR_BASE) else { return CamRuntime.errorText(code) }
        var buffer = [UInt8](repeating: 0, count: 300)
        let length = buffer.withUnsafeMutableBufferPointer {
            cs_tls_error_text(session, Int32(truncatingIfNeeded: code), $0.baseAddress, $0.count)
        }
        return "TLS: " + decodeUTF8Lossy(Array(buffer[0..<length]))
    }
}
