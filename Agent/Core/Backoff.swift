/// Where the agent's randomness comes from. The runtime passes getrandom(2);
/// tests pass a fixed sequence. Generic, not an existential, for Embedded Swift.
public protocol EntropySource {
    mutating func bytes(_ count: Int) -> [UInt8]
}

extension EntropySource {
    public mutating func uint64() -> UInt64 {
        var value: UInt64 = 0
        for byte in bytes(8) { value = value << 8 | UInt64(byte) }
        return value
    }
}

/// Exponential reconnect backoff with jitter. Each failure doubles the ceiling up
/// to `maximumMs`; the delay is drawn from the upper half of the ceiling, so a
/// fleet that lost its server at the same instant spreads its reconnects instead
/// of arriving in lockstep, and no delay is ever shorter than half the ceiling
/// (never a tight loop).
public struct Backoff: Sendable {
    public let initialMs: Int64
    public let maximumMs: Int64
    public private(set) var failures = 0

    public init(initialMs: Int64, maximumMs: Int64) {
        self.initialMs = initialMs
        self.maximumMs = maximumMs
    }

    public var ceilingMs: Int64 {
        var ceiling = initialMs
        var step = 0
        while step < failures && ceiling < maximumMs {
            ceiling *= 2
            step += 1
        }
        return ceiling < maximumMs ? ceiling : maximumMs
    }

    /// Records a failure and returns how long to wait before the next attempt.
    public mutating func nextDelayMs(random: UInt64) -> Int64 {
        let ceiling = ceilingMs
        if failures < 64 { failures += 1 }
        let half = ceiling / 2
        return half + Int64(random % UInt64(ceiling - half + 1))
    }

    /// The first delay after a working session was lost: anywhere in
    /// [0, initialMs), placed by the device's seed and shifted by up to a
    /// quarter of the window at random. Devices spread evenly over the window
    /// (no lockstep) and one device does not always land on the same spot.
    /// Counts as a failure, so the next delay doubles as usual.
    public mutating func firstDelayAfterLossMs(deviceSeed: UInt64, random: UInt64) -> Int64 {
        let window = UInt64(initialMs)
        if failures < 64 { failures += 1 }
        guard window > 0 else { return 0 }
        return Int64((deviceSeed % window + random % (window / 4 + 1)) % window)
    }

    public mutating func reset() { failures = 0 }

    /// Jumps to the maximum delay (for refusals that waiting cannot fix soon).
    public mutating func saturate() { failures = 64 }
}
