/// One protocol frame: a 4-byte header (type u8, flags u8 = 0, payload length u16
/// big-endian) followed by the payload.
public struct Frame: Equatable, Sendable {
    public var type: UInt8
    public var payload: [UInt8]

    public init(type: UInt8, payload: [UInt8]) {
        self.type = type
        self.payload = payload
    }

    public func encoded() -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(ProtocolConstants.frameHeaderSize + payload.count)
        bytes.append(type)
        bytes.append(0)
        bytes.append(UInt8(truncatingIfNeeded: payload.count >> 8))
        bytes.append(UInt8(truncatingIfNeeded: payload.count))
        bytes.append(contentsOf: payload)
        return bytes
    }
}

/// Incremental frame decoder. Bytes go in with `append`, whole frames come out of
/// `nextFrame`. It can be fed one byte at a time. A bad header fails as soon as
/// its 4 bytes are in, before the payload is buffered, so a hostile length never
/// makes us allocate. Memory is bounded by what the caller appends between
/// `nextFrame` calls.
public struct FrameDecoder: Sendable {
    private var buffer: [UInt8] = []
    private var readIndex = 0

    public init() {}

    public mutating func append(_ bytes: [UInt8]) {
        compactIfWorthwhile()
        buffer.append(contentsOf: bytes)
    }

    public mutating func append(_ byte: UInt8) {
        compactIfWorthwhile()
        buffer.append(byte)
    }

    public mutating func append(_ bytes: UnsafeBufferPointer<UInt8>) {
        compactIfWorthwhile()
        buffer.append(contentsOf: bytes)
    }

    /// Bytes received but not yet returned as frames.
    public var bufferedCount: Int { buffer.count - readIndex }

    /// Hands back and forgets whatever is buffered: used when the byte stream
    /// stops being frames (a data link after its handshake).
    public mutating func takeRemainingBytes() -> [UInt8] {
        let rest = Array(buffer[readIndex...])
        buffer.removeAll()
        readIndex = 0
        return rest
    }

    public mutating func nextFrame() throws(ProtocolError) -> Frame? {
        let available = buffer.count - readIndex
        guard available >= ProtocolConstants.frameHeaderSize else { return nil }
        let type = buffer[readIndex]
        let flags = buffer[readIndex + 1]
        let length = Int(buffer[readIndex + 2]) << 8 | Int(buffer[readIndex + 3])
        guard flags == 0 else { throw .nonZeroFlags(flags) }
        guard length <= ProtocolConstants.maxPayload else { throw .frameTooLarge(length: length) }
        guard available >= ProtocolConstants.frameHeaderSize + length else { return nil }
        let start = readIndex + ProtocolConstants.frameHeaderSize
        let payload = Array(buffer[start..<start + length])
        readIndex = start + length
        if readIndex == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            readIndex = 0
        }
        return Frame(type: type, payload: payload)
    }

    private mutating func compactIfWorthwhile() {
        if readIndex > 0 && readIndex * 2 >= buffer.count {
            buffer.removeSubrange(0..<readIndex)
            readIndex = 0
        }
    }
}
