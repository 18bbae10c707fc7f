// Shared by every fuzz target (compiled into each one; see Scripts/fuzz).
#if canImport(Glibc)
import Glibc
#endif

/// The bytes libFuzzer hands to LLVMFuzzerTestOneInput.
func fuzzInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> [UInt8] {
    guard let data, size > 0 else { return [] }
    return Array(UnsafeBufferPointer(start: data, count: size))
}

/// A property that must hold for every input. A failure aborts, which libFuzzer
/// reports like a crash and saves the input that caused it.
func require(_ condition: Bool, _ message: @autoclosure () -> String) {
    guard !condition else { return }
    fputs("fuzz property failed: \(message())\n", stderr)
    abort()
}

/// Splits `bytes` into pieces of 1 to 23 bytes, sizes drawn from a generator
/// seeded by the bytes themselves: deterministic for an input (so a saved
/// crash replays) yet different between inputs.
func pseudoRandomChunks(_ bytes: [UInt8]) -> [[UInt8]] {
    var state: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in bytes { state = (state ^ UInt64(byte)) &* 0x100_0000_01b3 }
    if state == 0 { state = 1 }
    var pieces: [[UInt8]] = []
    var index = 0
    while index < bytes.count {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        let size = min(Int(state % 23) + 1, bytes.count - index)
        pieces.append(Array(bytes[index..<index + size]))
        index += size
    }
    return pieces
}

/// Every byte as its own piece: the worst case for an incremental parser.
func singleBytes(_ bytes: [UInt8]) -> [[UInt8]] { bytes.map { [$0] } }

func hexDump(_ bytes: [UInt8], limit: Int = 64) -> String {
    let digits = Array("0123456789abcdef")
    var text = ""
    for byte in bytes.prefix(limit) {
        text.append(digits[Int(byte >> 4)])
        text.append(digits[Int(byte & 0x0f)])
    }
    return bytes.count > limit ? text + "... (\(bytes.count) bytes)" : text
}
