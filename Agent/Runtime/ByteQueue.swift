import CCamShim

/// A fixed-capacity byte buffer between a reading and a writing socket. Its
/// capacity is the tunnel's memory bound: when it is full the runtime stops
/// reading from the source, and TCP pushes the stall back to the sender.
struct ByteQueue {
    private var storage: [UInt8]
    private var start = 0
    private var end = 0

    init(capacity: Int) { storage = [UInt8](repeating: 0, count: capacity) }

    var isEmpty: Bool { start == end }
    var count: Int { end - start }
    var hasSpace: Bool { end < storage.count || start > 0 }

    mutating func append(_ bytes: [UInt8]) -> Bool {
        makeRoomAtEnd()
        guard storage.count - end >= bytes.count else { return false }
        let offset = end
        storage.withUnsafeMutableBufferPointer { destination in
            bytes.withUnsafeBufferPointer { source in
                guard let from = source.baseAddress else { return }
                (destination.baseAddress! + offset).update(from: from, count: source.count)
            }
        }
        end += bytes.count
        return true
    }

    /// Reads once from the transport into the free space. Returns the shim's result.
    mutating func fill(from transport: Transport) -> Int {
        makeRoomAtEnd()
        let free = storage.count - end
        guard free > 0 else { return CS_EAGAIN_RESULT_VALUE }
        let offset = end
        let n = storage.withUnsafeMutableBufferPointer { transport.read($0.baseAddress! + offset, free) }
        if n > 0 { end += n }
        return n
    }

    var freeSpace: Int { storage.count - count }

    /// Writes the buffered bytes until they are gone or the transport takes no
    /// more. A TLS write carries at most one record, so one call per record;
    /// a short plain write means the socket buffer is full. Returns the bytes
    /// written, or the shim's result if the first write took none.
    mutating func drain(to transport: Transport) -> Int {
        var written = 0
        while !isEmpty {
            let offset = start
            let length = end - start
            let n = storage.withUnsafeMutableBufferPointer { transport.write($0.baseAddress! + offset, length) }
            guard n > 0 else { return written > 0 ? written : n }
            written += n
            start += n
            if start == end { start = 0; end = 0 }
            if !transport.isTLS && n < length { break }
        }
        return written
    }

    private mutating func makeRoomAtEnd() {
        if start == end {
            start = 0
            end = 0
        } else if end == storage.count && start > 0 {
            let length = end - start
            let from = start
            // One overlapping move, not a byte loop: this runs on every partial write.
            storage.withUnsafeMutableBufferPointer { buffer in
                let base = UnsafeMutableRawPointer(buffer.baseAddress!)
                base.copyMemory(from: base + from, byteCount: length)
            }
            start = 0
            end = length
        }
    }
}

let CS_EAGAIN_RESULT_VALUE = -11
