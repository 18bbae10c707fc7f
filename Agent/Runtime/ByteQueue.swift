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

    /// Writes once from the buffered bytes to the transport. Returns the shim's result.
    mutating func drain(to transport: Transport) -> Int {
        guard !isEmpty else { return 0 }
        let offset = start
        let length = end - start
        let n = storage.withUnsafeMutableBufferPointer { transport.write($0.baseAddress! + offset, length) }
        if n > 0 {
            start += n
            if start == end { start = 0; end = 0 }
        }
        return n
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
