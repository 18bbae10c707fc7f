/// Where the agent's randomness comes from: the one way randomness enters the
/// core. Every machine that needs a random value takes `entropy: inout E` and
/// draws its own at the moment it needs it. The runtime passes getrandom(2);
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
    public mutating func nextDelayMs<E: EntropySource>(entropy: inout E) -> Int64 {
        let ceiling = ceilingMs
        if failures < 64 { failures += 1 }
        let half = ceiling / 2
        return half + Int64(entropy.uint64() % UInt64(ceiling - half + 1))
    }

    /// The first delay after a working session was lost: anywhere in
    /// [0, initialMs), placed by the device's seed and shifted by up to a
    /// quarter of the window at random. Devices spread evenly over the window
    /// (no lockstep) and one device does not always land on the same spot.
    /// Counts as a failure, so the next delay doubles as usual.
    public mutating func firstDelayAfterLossMs<E: EntropySource>(deviceSeed: UInt64, entropy: inout E) -> Int64 {
        if failures < 64 { failures += 1 }
        return Self.spread(deviceSeed: deviceSeed, windowMs: initialMs, entropy: &entropy)
    }

    /// A point in [0, windowMs) placed by the device's seed and shifted by up
    /// to a quarter of the window at random: devices that start together
    /// (a server lost, a power cut over) spread evenly over the window.
    public static func spread<E: EntropySource>(deviceSeed: UInt64, windowMs: Int64, entropy: inout E) -> Int64 {
        let window = UInt64(windowMs)
        guard window > 0 else { return 0 }
        return Int64((deviceSeed % window + entropy.uint64() % (window / 4 + 1)) % window)
    }

    public mutating func reset() { failures = 0 }

    /// Jumps to the maximum delay (for refusals that waiting cannot fix soon).
    public mutating func saturate() { failures = 64 }
}
