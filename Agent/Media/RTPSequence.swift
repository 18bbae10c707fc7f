// Receiving order: 16-bit sequence numbers and 32-bit timestamps wrap, so a
// receiver extends both before comparing (RFC 3550 A.1 for the sequence).

/// Extends 32-bit RTP timestamps to Int64, assuming consecutive timestamps
/// differ by less than 2^31 ticks (6.6 hours at 90 kHz) in either direction.
public struct RTPTimestampUnwrapper: Sendable {
    private var last: Int64?

    public init() {}

    public mutating func unwrap(_ timestamp: UInt32) -> Int64 {
        guard let previous = last else {
            last = Int64(timestamp)
            return Int64(timestamp)
        }
        let step = Int32(bitPattern: timestamp &- UInt32(truncatingIfNeeded: previous))
        let value = previous + Int64(step)
        last = value
        return value
    }
}

public enum RTPSequenceVerdict: Equatable, Sendable {
    /// The packet to use; `lost` packets were skipped just before it (0 when in order).
    case accept(lost: Int)
    /// A duplicate or a packet older than one already accepted: drop it.
    /// Reassembling late packets is not worth a reorder buffer on a TCP-fed
    /// stream, where reordering only comes from a broken sender.
    case late
    /// The sender jumped to an unrelated number (a restart) and two packets
    /// in a row confirmed it; treat as a loss of unknown size.
    case restarted
}

/// Tracks one SSRC's sequence numbers: gaps, late packets, and the extended
/// highest number and loss counts that receiver reports carry.
public struct RTPSequenceTracker: Sendable {
    /// A forward jump beyond this is a suspected restart rather than loss.
    public static let maxDropout = 3000
    private var highest: UInt16 = 0
    private var cycles: UInt32 = 0
    private var base: UInt32 = 0
    private var started = false
    /// The sequence number that would confirm a suspected restart.
    private var restartCandidate: UInt16?
    public private(set) var received: UInt32 = 0
    public private(set) var lost: UInt32 = 0
    public private(set) var late: UInt32 = 0

    public init() {}

    /// Cycles in the high 16 bits, highest sequence number in the low 16 (RFC 3550 §6.4.1).
    public var extendedHighestSequence: UInt32 { cycles << 16 | UInt32(highest) }
    /// Packets expected since the first one, from the extended numbers.
    public var expected: UInt32 { extendedHighestSequence &- base &+ 1 }

    public mutating func track(_ sequence: UInt16) -> RTPSequenceVerdict {
        guard started else {
            start(at: sequence)
            return .accept(lost: 0)
        }
        let delta = Int(sequence &- highest)  // 0 ..< 65536, forward distance
        if delta > 0 && delta <= Self.maxDropout {
            if sequence < highest { cycles &+= 1 }
            highest = sequence
            received &+= 1
            lost &+= UInt32(delta - 1)
            restartCandidate = nil
            return .accept(lost: delta - 1)
        }
        if delta == 0 || delta > 65536 - Self.maxDropout {
            late &+= 1
            return .late
        }
        if restartCandidate == sequence {
            start(at: sequence)
            return .restarted
        }
        restartCandidate = sequence &+ 1
        late &+= 1
        return .late
    }

    private mutating func start(at sequence: UInt16) {
        highest = sequence
        cycles = 0
        base = UInt32(sequence)
        started = true
        restartCandidate = nil
        received &+= 1
    }
}

/// What a depacketiser saw and dropped; the ingest exports these as metrics.
public struct DepacketizerStats: Equatable, Sendable {
    public var packets: UInt64 = 0
    /// Sequence-number gaps, in packets.
    public var lostPackets: UInt64 = 0
    /// Duplicates and packets older than one already used; dropped.
    public var latePackets: UInt64 = 0
    /// Packets whose RTP header or payload could not be read.
    public var malformedPackets: UInt64 = 0
    /// Access units (or audio frames) dropped because a piece was lost or malformed.
    public var droppedAccessUnits: UInt64 = 0
    /// Access units dropped for exceeding the size cap (also counted in droppedAccessUnits).
    public var oversizedAccessUnits: UInt64 = 0
    /// Complete access units not emitted because a keyframe was awaited.
    public var skippedAwaitingKeyframe: UInt64 = 0
    public var ssrcChanges: UInt64 = 0

    public init() {}
}

/// One received packet after the order checks.
struct ReceivedPacket {
    var packet: RTPPacket
    var timestamp: Int64
    /// Packets were lost (or the sender restarted) just before this one.
    var followsLoss: Bool
}

/// The receive-order front end every depacketiser shares: header parsing,
/// SSRC changes, sequence gaps and late packets, timestamp unwrapping, counts.
struct RTPReceiver {
    var stats = DepacketizerStats()
    var sequence = RTPSequenceTracker()
    var timestamps = RTPTimestampUnwrapper()
    var ssrc: UInt32?

    /// nil when the packet is late or a duplicate and must be dropped.
    mutating func receive(_ bytes: [UInt8]) throws(RTPError) -> ReceivedPacket? {
        stats.packets += 1
        let packet: RTPPacket
        do {
            packet = try RTPPacket(parsing: bytes)
        } catch {
            stats.malformedPackets += 1
            throw error
        }
        var followsLoss = false
        if ssrc != packet.header.ssrc {
            if ssrc != nil {
                // A restarted sender: new numbering, so the old order means nothing.
                stats.ssrcChanges += 1
                sequence = RTPSequenceTracker()
                followsLoss = true
            }
            ssrc = packet.header.ssrc
        }
        switch sequence.track(packet.header.sequenceNumber) {
        case .late:
            stats.latePackets += 1
            return nil
        case .restarted:
            followsLoss = true
        case .accept(let lost):
            if lost > 0 {
                stats.lostPackets += UInt64(lost)
                followsLoss = true
            }
        }
        return ReceivedPacket(packet: packet, timestamp: timestamps.unwrap(packet.header.timestamp), followsLoss: followsLoss)
    }
}
