// One fMP4 media segment: `moof` (mfhd's sequence number, then per track a
// `traf` with tfhd, tfdt and trun) followed by one `mdat` holding every
// sample, track after track (ISO/IEC 14496-12 §8.8).

/// A track's run of consecutive samples inside one fragment.
struct FMP4TrackRun {
    struct Sample {
        var size: UInt32
        var duration: UInt32
        var isSync: Bool
    }

    var trackID: UInt32
    /// Decode time of the first sample, in the track's timescale.
    var baseMediaDecodeTime: UInt64
    var samples: [Sample] = []
    var data: [[UInt8]] = []
}

enum FMP4Fragment {
    /// sample_flags (§8.8.3.1): a sync sample depends on nothing; any other
    /// depends on earlier ones and is marked non-sync.
    static let syncSampleFlags: UInt32 = 0x0200_0000
    static let nonSyncSampleFlags: UInt32 = 0x0101_0000

    /// tfhd: data offsets count from the start of the moof.
    static let defaultBaseIsMoof: UInt32 = 0x02_0000
    /// trun: data offset, then per sample its duration, size and flags.
    static let trunFlags: UInt32 = 0x000001 | 0x000100 | 0x000200 | 0x000400

    static func write(sequenceNumber: UInt32, runs: [FMP4TrackRun]) -> [UInt8] {
        let payloadSize = runs.reduce(0) { total, run in run.data.reduce(total) { $0 + $1.count } }
        var writer = BoxWriter(capacity: 64 + runs.count * 64 + payloadSize + runs.reduce(0) { $0 + $1.samples.count * 12 })
        var dataOffsetPositions: [Int] = []
        writer.box("moof") { w in
            w.fullBox("mfhd") { w in w.u32(sequenceNumber) }
            for run in runs {
                w.box("traf") { w in
                    w.fullBox("tfhd", flags: defaultBaseIsMoof) { w in w.u32(run.trackID) }
                    w.fullBox("tfdt", version: 1) { w in w.u64(run.baseMediaDecodeTime) }
                    w.fullBox("trun", flags: trunFlags) { w in
                        w.u32(UInt32(run.samples.count))
                        dataOffsetPositions.append(w.count)
                        w.u32(0)
                        for sample in run.samples {
                            w.u32(sample.duration)
                            w.u32(sample.size)
                            w.u32(sample.isSync ? syncSampleFlags : nonSyncSampleFlags)
                        }
                    }
                }
            }
        }
        // Each run's samples start where the previous run's end, after the moof and the mdat header.
        var offset = writer.count + 8
        for (run, position) in zip(runs, dataOffsetPositions) {
            writer.patchU32(at: position, UInt32(offset))
            offset += run.data.reduce(0) { $0 + $1.count }
        }
        writer.box("mdat") { w in
            for run in runs { for sample in run.data { w.append(sample) } }
        }
        return writer.bytes
    }
}
