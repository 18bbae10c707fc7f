// Annex-B byte streams (start codes) and the AVCC sample layout (4-byte
// big-endian lengths) that MediaFrame.payload uses.

/// Splits an Annex-B byte stream at 3- and 4-byte start codes. Bytes before
/// the first start code are not a NAL unit and are ignored.
public func splitAnnexB(_ data: [UInt8]) -> [[UInt8]] {
    var nals: [[UInt8]] = []
    var nalStart = -1
    var i = 0
    let n = data.count

    func emit(upTo end: Int) {
        guard nalStart >= 0 else { return }
        var e = end
        // trailing_zero_8bits and the leading zero of a 4-byte start code belong
        // to the byte stream, not to the NAL unit.
        while e > nalStart && data[e - 1] == 0 { e -= 1 }
        if e > nalStart { nals.append(Array(data[nalStart..<e])) }
    }

    while i + 2 < n {
        if data[i + 2] > 1 {
            i += 3
        } else if data[i] == 0 && data[i + 1] == 0 && data[i + 2] == 1 {
            emit(upTo: i)
            nalStart = i + 3
            i += 3
        } else {
            i += 1
        }
    }
    emit(upTo: n)
    return nals
}

public enum AVCC {
    /// NAL units joined as a MediaFrame video payload.
    public static func join(_ nalUnits: [[UInt8]]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(nalUnits.reduce(0) { $0 + 4 + $1.count })
        for nal in nalUnits {
            appendBigEndian(UInt32(truncatingIfNeeded: nal.count), to: &out)
            out.append(contentsOf: nal)
        }
        return out
    }

    /// The NAL units of a MediaFrame video payload; nil if a length runs past the end.
    public static func nalUnits(in payload: [UInt8]) -> [ArraySlice<UInt8>]? {
        var nals: [ArraySlice<UInt8>] = []
        var offset = 0
        while offset < payload.count {
            guard payload.count - offset >= 4 else { return nil }
            let length = Int(readBigEndian32(payload, offset))
            offset += 4
            guard length <= payload.count - offset else { return nil }
            nals.append(payload[offset..<(offset + length)])
            offset += length
        }
        return nals
    }
}

/// Groups the NAL units of an elementary stream into access units, with the
/// simplified boundary rule of H.264 §7.4.1.2.3 / H.265 §7.4.2.4.4: once the
/// current unit has a picture's slice, a new unit starts at a parameter set,
/// SEI, delimiter or other prefix NAL, or at the first slice of the next picture.
/// Units without any slice (a stream's trailing parameter sets) are dropped.
public func groupAccessUnits(_ nalUnits: [[UInt8]], codec: MediaCodec) -> [[[UInt8]]] {
    var units: [[[UInt8]]] = []
    var current: [[UInt8]] = []
    var currentHasVCL = false
    for nal in nalUnits {
        let isVCL: Bool
        let startsPicture: Bool
        let isPrefix: Bool
        if codec == .h265 {
            let type = H265NAL.type(nal)
            isVCL = H265NAL.isVCL(type)
            // first_slice_segment_in_pic_flag: the first bit after the 2-byte header.
            startsPicture = isVCL && nal.count > 2 && nal[2] & 0x80 != 0
            isPrefix = (type >= 32 && type <= 35) || type == 39 || (type >= 41 && type <= 44) || (type >= 48 && type <= 55)
        } else {
            let type = H264NAL.type(nal)
            isVCL = H264NAL.isVCL(type)
            // first_mb_in_slice == 0 is ue(v) "1": the first bit after the header.
            startsPicture = isVCL && nal.count > 1 && nal[1] & 0x80 != 0
            isPrefix = (type >= 6 && type <= 9) || (type >= 14 && type <= 18)
        }
        if currentHasVCL && (startsPicture || isPrefix) {
            units.append(current)
            current = []
            currentHasVCL = false
        }
        current.append(nal)
        if isVCL { currentHasVCL = true }
    }
    if currentHasVCL { units.append(current) }
    return units
}
