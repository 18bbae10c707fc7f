import MediaCore

// Frames and tracks small enough to count by hand.

let h264Track = TrackDescription(codec: .h264, clockRate: 90_000, payloadType: 96,
                                 sps: [0x67, 0x42, 0x00, 0x1F], pps: [0x68, 0xCE, 0x3C, 0x80], width: 640, height: 360)
let aacTrack = TrackDescription(codec: .aac, clockRate: 48_000, payloadType: 97, audioConfig: [0x11, 0x90], channels: 2)
let h264Track1080 = TrackDescription(codec: .h264, clockRate: 90_000, payloadType: 96,
                                     sps: [0x67, 0x64, 0x00, 0x28], pps: [0x68, 0xEE, 0x3C, 0x80], width: 1920, height: 1080)

func video(_ index: Int, keyframe: Bool = false, bytes: Int = 100) -> MediaFrame {
    MediaFrame(codec: .h264, track: 0, timestamp: Int64(index) * 3600, isKeyframe: keyframe,
               payload: [UInt8](repeating: UInt8(truncatingIfNeeded: index), count: bytes))
}

func audio(_ index: Int, bytes: Int = 10) -> MediaFrame {
    MediaFrame(codec: .aac, track: 1, timestamp: Int64(index) * 1024, isKeyframe: false,
               payload: [UInt8](repeating: 0xAA, count: bytes))
}

/// A GOP: one keyframe and `length - 1` delta frames, timestamps from `start`.
func gop(from start: Int, length: Int, keyBytes: Int = 1000, deltaBytes: Int = 100) -> [MediaFrame] {
    (0..<length).map { offset in
        offset == 0 ? video(start, keyframe: true, bytes: keyBytes) : video(start + offset, bytes: deltaBytes)
    }
}

extension ViewerItem {
    var frame: MediaFrame? {
        if case .frame(let frame) = self { return frame }
        return nil
    }
}

/// Everything queued, in order (bounded by the queue's own size).
func drain(_ queue: inout ViewerQueue) -> [ViewerItem] {
    var items: [ViewerItem] = []
    while let item = queue.next() { items.append(item) }
    return items
}
