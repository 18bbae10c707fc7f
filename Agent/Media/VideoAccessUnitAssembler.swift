// What the H.264 and H.265 depacketisers share: receive order, access-unit
// boundaries (marker bit, or a timestamp change when a marker was lost), the
// AVCC payload being built, loss handling and the parameter sets seen in band.
// A picture that lost any piece is dropped, and so is everything after it until
// the next keyframe: decoders given a partial picture show corruption that
// lasts the whole GOP, while a short freeze is what viewers expect on loss.

struct VideoAccessUnitAssembler {
    let codec: MediaCodec
    let track: Int
    let maxAccessUnitBytes: Int
    var receiver = RTPReceiver()

    /// The access unit under construction, in AVCC layout.
    var payload: [UInt8] = []
    var timestamp: Int64 = 0
    var inProgress = false
    var corrupt = false
    var oversized = false
    /// Offset in `payload` of the length field of a NAL unit still being
    /// reassembled from fragments, or -1.
    var fragmentStart = -1
    var awaitingKeyframe = true
    var hasIDR = false
    var hasSlice = false
    var hasSPS = false
    var hasPPS = false

    var vps: [UInt8] = []
    var sps: [UInt8] = []
    var pps: [UInt8] = []
    var parameterSetsVersion = 0

    init(codec: MediaCodec, track: Int, maxAccessUnitBytes: Int, vps: [UInt8], sps: [UInt8], pps: [UInt8]) {
        self.codec = codec
        self.track = track
        self.maxAccessUnitBytes = maxAccessUnitBytes
        self.vps = vps
        self.sps = sps
        self.pps = pps
    }

    /// Receive-order checks and the boundary a timestamp change implies.
    /// Returns the packet to depacketise, or nil when it is to be dropped.
    mutating func begin(_ bytes: [UInt8], into frames: inout [MediaFrame]) throws(RTPError) -> RTPPacket? {
        guard let received = try receiver.receive(bytes) else { return nil }
        if received.followsLoss { corrupt = true }
        if inProgress && received.timestamp != timestamp { finish(into: &frames) }
        if !inProgress {
            inProgress = true
            timestamp = received.timestamp
            // Lost packets just before this one may have been this picture's first.
            corrupt = received.followsLoss
        }
        return received.packet
    }

    /// After the payload: the marker bit ends the access unit.
    mutating func end(_ packet: RTPPacket, into frames: inout [MediaFrame]) {
        if packet.header.marker { finish(into: &frames) }
    }

    mutating func markMalformed() {
        receiver.stats.malformedPackets += 1
        corrupt = true
    }

    mutating func appendNAL(_ nal: ArraySlice<UInt8>) {
        guard !nal.isEmpty else { return markMalformed() }
        if fragmentStart >= 0 { corrupt = true }  // a fragmented unit never ended
        fragmentStart = -1
        guard reserve(4 + nal.count) else { return }
        appendBigEndian(UInt32(nal.count), to: &payload)
        payload.append(contentsOf: nal)
        completed(nalStart: payload.count - nal.count)
    }

    mutating func beginFragment(header: [UInt8]) {
        if fragmentStart >= 0 { corrupt = true }
        guard reserve(4 + header.count) else { return }
        fragmentStart = payload.count
        appendBigEndian(UInt32(0), to: &payload)
        payload.append(contentsOf: header)
    }

    /// A middle or last fragment. Without its start the unit is lost.
    mutating func appendFragment(_ data: ArraySlice<UInt8>, isLast: Bool) {
        guard fragmentStart >= 0 else {
            corrupt = true
            return
        }
        guard reserve(data.count) else { return }
        payload.append(contentsOf: data)
        if isLast {
            let start = fragmentStart
            fragmentStart = -1
            let length = UInt32(payload.count - start - 4)
            payload[start] = UInt8(truncatingIfNeeded: length >> 24)
            payload[start + 1] = UInt8(truncatingIfNeeded: length >> 16)
            payload[start + 2] = UInt8(truncatingIfNeeded: length >> 8)
            payload[start + 3] = UInt8(truncatingIfNeeded: length)
            completed(nalStart: start + 4)
        }
    }

    private mutating func reserve(_ count: Int) -> Bool {
        if oversized { return false }
        if payload.count + count > maxAccessUnitBytes {
            oversized = true
            corrupt = true
            payload = []
            fragmentStart = -1
            return false
        }
        return true
    }

    private mutating func completed(nalStart: Int) {
        let nal = payload[nalStart...]
        if codec == .h265 {
            let type = H265NAL.type(nal)
            if H265NAL.isVCL(type) {
                hasSlice = true
                if H265NAL.isIRAP(type) { hasIDR = true }
            } else if type == H265NAL.vps {
                if Self.store(nal, in: &vps) { parameterSetsVersion += 1 }
            } else if type == H265NAL.sps {
                if Self.store(nal, in: &sps) { parameterSetsVersion += 1 }
            } else if type == H265NAL.pps {
                if Self.store(nal, in: &pps) { parameterSetsVersion += 1 }
            }
        } else {
            let type = H264NAL.type(nal)
            if H264NAL.isVCL(type) {
                hasSlice = true
                if type == H264NAL.idrSlice { hasIDR = true }
            } else if type == H264NAL.sps {
                hasSPS = true
                if Self.store(nal, in: &sps) { parameterSetsVersion += 1 }
            } else if type == H264NAL.pps {
                hasPPS = true
                if Self.store(nal, in: &pps) { parameterSetsVersion += 1 }
            }
        }
    }

    /// True when `nal` differs from the held set and replaced it.
    private static func store(_ nal: ArraySlice<UInt8>, in set: inout [UInt8]) -> Bool {
        guard !set.elementsEqual(nal) else { return false }
        set = Array(nal)
        return true
    }

    /// Emits the access unit under construction, or drops it.
    mutating func finish(into frames: inout [MediaFrame]) {
        guard inProgress else { return }
        if fragmentStart >= 0 { corrupt = true }
        // Some encoders send recovery-point I pictures instead of IDRs; one
        // that carries its own SPS and PPS is a usable entry point too.
        let isKeyframe = hasIDR || (codec == .h264 && hasSlice && hasSPS && hasPPS)
        if oversized { receiver.stats.oversizedAccessUnits += 1 }
        if corrupt {
            receiver.stats.droppedAccessUnits += 1
            awaitingKeyframe = true
        } else if !payload.isEmpty {
            if awaitingKeyframe && !isKeyframe {
                receiver.stats.skippedAwaitingKeyframe += 1
            } else {
                awaitingKeyframe = false
                frames.append(MediaFrame(codec: codec, track: track, timestamp: timestamp, isKeyframe: isKeyframe, payload: payload))
            }
        }
        payload = []
        inProgress = false
        corrupt = false
        oversized = false
        fragmentStart = -1
        hasIDR = false
        hasSlice = false
        hasSPS = false
        hasPPS = false
    }
}
