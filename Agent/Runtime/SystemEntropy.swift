import CCamShim
import CamCore

/// getrandom(2), through the shim. Failure here means the kernel cannot give
/// randomness at all; nonces must never be predictable, so that is fatal.
public struct SystemEntropy: EntropySource {
    public init() {}

    public mutating func bytes(_ count: Int) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: count)
        let rc = buffer.withUnsafeMutableBufferPointer { cs_random($0.baseAddress, $0.count) }
        if rc != 0 { fatalError("getrandom failed") }
        return buffer
    }
}
