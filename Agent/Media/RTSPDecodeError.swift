/// Why `RTSPDecoder.next()` could not produce a message.
///
/// Two kinds, told apart by `isFramingLost`: a *framed* error means the whole
/// header block (and any declared body) was read and skipped, so decoding can go
/// on and a server answers 400 (or 505) and keeps the connection; a lost framing
/// means the byte stream can no longer be split into messages and the connection
/// must end (after a 400 when `cseq` is known, as simcam does).
public enum RTSPDecodeError: Error, Equatable, Sendable {
    // Framing lost.
    /// A message must begin with `$` (interleaved data) or a printable token
    /// byte (a method or `RTSP/`); anything else is not RTSP.
    case badMessageStart(UInt8)
    case headerTooLarge
    case badContentLength(cseq: String?)
    case bodyTooLarge(length: Int, cseq: String?)

    // Framed: the message was consumed.
    /// Not `METHOD SP URI SP RTSP/x.y`, or the method is not a token.
    case badRequestLine(cseq: String?)
    /// Not `RTSP/x.y SP 3DIGIT [SP reason]`.
    case badStatusLine(cseq: String?)
    /// A header line without a colon, an empty or non-token name, or a
    /// continuation line before any header.
    case badHeaderLine(cseq: String?)
    /// Well formed, but a version other than RTSP/1.0 (a server answers 505).
    case unsupportedVersion(cseq: String?)

    public var isFramingLost: Bool {
        switch self {
        case .badMessageStart, .headerTooLarge, .badContentLength, .bodyTooLarge: return true
        case .badRequestLine, .badStatusLine, .badHeaderLine, .unsupportedVersion: return false
        }
    }

    /// The CSeq of the offending message when its headers could be read, so the
    /// answer can echo it; nil when there is nothing to answer.
    public var cseq: String? {
        switch self {
        case .badMessageStart, .headerTooLarge: return nil
        case .badContentLength(let cseq), .bodyTooLarge(_, let cseq), .badRequestLine(let cseq),
            .badStatusLine(let cseq), .badHeaderLine(let cseq), .unsupportedVersion(let cseq):
            return cseq
        }
    }

    /// Whether a server should send a 400 for it before (or instead of) closing:
    /// everything but an endless header block, which has nothing to answer.
    public var isAnswerable: Bool {
        switch self {
        case .headerTooLarge: return false
        default: return true
        }
    }

    /// A fixed explanation, safe to send back or log: it never quotes peer bytes.
    public var reason: String {
        switch self {
        case .badMessageStart: return "not an RTSP message"
        case .headerTooLarge: return "request line/headers exceed 8192 bytes"
        case .badContentLength: return "unparseable Content-Length"
        case .bodyTooLarge: return "message body exceeds 65536 bytes"
        case .badRequestLine: return "request line must be 'METHOD URI RTSP/1.0'"
        case .badStatusLine: return "status line must be 'RTSP/1.0 CODE REASON'"
        case .badHeaderLine: return "malformed header line"
        case .unsupportedVersion: return "RTSP version not supported"
        }
    }
}
