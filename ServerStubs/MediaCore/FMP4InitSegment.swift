// The fMP4 initialisation segment (ISO/IEC 14496-12 §8, ISO/IEC 23009-1's
// "initialization segment", MSE's byte stream format for ISO-BMFF): `ftyp`, then
// `moov` with one `trak` per track whose sample tables are empty (every sample
// arrives later in a `moof`), and `mvex` announcing that fragments follow.

/// One track of the init segment, with what was parsed from its configuration.
struct FMP4TrackEntry {
    enum Configuration {
        case avc(H264SPS)
        case hevc(H265SPS)
        case aac(AACConfigInfo)
    }

    var trackID: UInt32
    var description: TrackDescription
    var configuration: Configuration

    var isVideo: Bool { description.codec.isVideo }

    var codecString: String {
        switch configuration {
        case .avc(let info): info.mseCodecString
        case .hevc(let info): info.codecString
        case .aac(let info): info.codecString
        }
    }

    /// The SPS's size wins over a zero in the description.
    var width: Int {
        if description.width > 0 { return description.width }
        switch configuration {
        case .avc(let info): return info.width
        case .hevc(let info): return info.width
        case .aac: return 0
        }
    }

    var height: Int {
        if description.height > 0 { return description.height }
        switch configuration {
        case .avc(let info): return info.height
        case .hevc(let info): return info.height
        case .aac: return 0
        }
    }
}

enum FMP4InitSegment {
    static func write(_ tracks: [FMP4TrackEntry]) -> [UInt8] {
        var writer = BoxWriter(capacity: 1024)
        writer.box("ftyp") { w in
            w.fourCC("isom")
            w.u32(0x200)
            // iso5: tfhd's default-base-is-moof; iso6: tfdt.
            for brand: StaticString in ["isom", "iso5", "iso6", "mp41"] { w.fourCC(brand) }
        }
        writer.box("moov") { w in
            w.fullBox("mvhd") { w in
                w.u32(0); w.u32(0)           // creation, modification time: unknown
                w.u32(1000); w.u32(0)        // timescale, duration: a live stream has none
                w.u32(0x0001_0000); w.u16(0x0100); w.zeros(10)
                w.unityMatrix()
                w.zeros(24)
                w.u32(UInt32(tracks.count + 1))
            }
            for track in tracks { writeTrack(track, into: &w) }
            w.box("mvex") { w in
                for track in tracks {
                    w.fullBox("trex") { w in
                        w.u32(track.trackID)
                        w.u32(1)             // sample description index
                        w.u32(0); w.u32(0); w.u32(0) // every trun carries its own duration, size and flags
                    }
                }
            }
        }
        return writer.bytes
    }

    private static func writeTrack(_ track: FMP4TrackEntry, into w: inout BoxWriter) {
        w.box("trak") { w in
            w.fullBox("tkhd", flags: 0x3) { w in  // enabled, in movie
                w.u32(0); w.u32(0)
                w.u32(track.trackID)
                w.u32(0); w.u32(0)           // reserved, duration
                w.zeros(8)
                w.u16(0); w.u16(0)           // layer, alternate group
                w.u16(track.isVideo ? 0 : 0x0100)
                w.u16(0)
                w.unityMatrix()
                w.u32(UInt32(clamping: track.width) << 16)
                w.u32(UInt32(clamping: track.height) << 16)
            }
            w.box("mdia") { w in
                w.fullBox("mdhd") { w in
                    w.u32(0); w.u32(0)
                    w.u32(track.description.clockRate)
                    w.u32(0)
                    w.u16(0x55C4)            // "und", packed ISO-639-2/T
                    w.u16(0)
                }
                w.fullBox("hdlr") { w in
                    w.u32(0)
                    if track.isVideo { w.fourCC("vide") } else { w.fourCC("soun") }
                    w.zeros(12)
                    w.append(Array((track.isVideo ? "VideoHandler" : "SoundHandler").utf8) + [0])
                }
                w.box("minf") { w in
                    if track.isVideo {
                        w.fullBox("vmhd", flags: 1) { w in w.zeros(8) }
                    } else {
                        w.fullBox("smhd") { w in w.zeros(4) }
                    }
                    w.box("dinf") { w in
                        w.fullBox("dref") { w in
                            w.u32(1)
                            w.fullBox("url ", flags: 1) { _ in }  // media data in this file
                        }
                    }
                    w.box("stbl") { w in
                        w.fullBox("stsd") { w in
                            w.u32(1)
                            writeSampleEntry(track, into: &w)
                        }
                        w.fullBox("stts") { w in w.u32(0) }
                        w.fullBox("stsc") { w in w.u32(0) }
                        w.fullBox("stsz") { w in w.u32(0); w.u32(0) }
                        w.fullBox("stco") { w in w.u32(0) }
                    }
                }
            }
        }
    }

    private static func writeSampleEntry(_ track: FMP4TrackEntry, into w: inout BoxWriter) {
        switch track.configuration {
        case .avc(let info):
            w.box("avc1") { w in
                writeVisualSampleEntryFields(track, into: &w)
                w.box("avcC") { w in writeAVCConfiguration(info, track.description, into: &w) }
            }
        case .hevc(let info):
            w.box("hvc1") { w in
                writeVisualSampleEntryFields(track, into: &w)
                w.box("hvcC") { w in writeHEVCConfiguration(info, track.description, into: &w) }
            }
        case .aac(let info):
            w.box("mp4a") { w in
                w.zeros(6); w.u16(1)         // reserved, data reference index
                w.zeros(8)                   // version, revision, vendor
                let channels = info.channelConfiguration > 0 ? UInt16(info.channelConfiguration)
                                                             : UInt16(clamping: max(1, track.description.channels))
                w.u16(channels)
                w.u16(16)                    // sample size
                w.u16(0); w.u16(0)
                // 16.16 fixed point; rates above 65535 Hz do not fit, the esds is authoritative.
                w.u32(info.sampleRate <= 0xFFFF ? info.sampleRate << 16 : 0)
                w.fullBox("esds") { w in writeElementaryStreamDescriptor(track.description.audioConfig, trackID: track.trackID, into: &w) }
            }
        }
    }

    /// VisualSampleEntry's fixed fields (ISO/IEC 14496-12 §12.1.3).
    private static func writeVisualSampleEntryFields(_ track: FMP4TrackEntry, into w: inout BoxWriter) {
        w.zeros(6); w.u16(1)                 // reserved, data reference index
        w.zeros(16)                          // pre_defined, reserved
        w.u16(UInt16(clamping: track.width))
        w.u16(UInt16(clamping: track.height))
        w.u32(0x0048_0000); w.u32(0x0048_0000) // 72 dpi
        w.u32(0)
        w.u16(1)                             // frames per sample
        w.zeros(32)                          // compressor name
        w.u16(0x0018)                        // depth
        w.u16(0xFFFF)                        // pre_defined = -1
    }

    /// AVCDecoderConfigurationRecord (ISO/IEC 14496-15 §5.3.3.1).
    private static func writeAVCConfiguration(_ info: H264SPS, _ description: TrackDescription, into w: inout BoxWriter) {
        w.u8(1)
        w.u8(info.profileIDC)
        w.u8(info.constraintFlags)
        w.u8(info.levelIDC)
        w.u8(0xFC | 3)                       // 4-byte NAL unit lengths, as MediaFrame carries them
        w.u8(0xE0 | 1)
        w.u16(UInt16(description.sps.count)); w.append(description.sps)
        w.u8(1)
        w.u16(UInt16(description.pps.count)); w.append(description.pps)
        if avcProfilesWithChromaFields.contains(info.profileIDC) {
            w.u8(0xFC | info.chromaFormatIDC)
            w.u8(0xF8 | (info.bitDepthLuma - 8))
            w.u8(0xF8 | (info.bitDepthChroma - 8))
            w.u8(0)                          // no SPS extensions
        }
    }

    /// HEVCDecoderConfigurationRecord (ISO/IEC 14496-15 §8.3.3.1).
    private static func writeHEVCConfiguration(_ info: H265SPS, _ description: TrackDescription, into w: inout BoxWriter) {
        w.u8(1)
        w.u8(info.profileSpace << 6 | (info.tierFlag ? 0x20 : 0) | info.profileIDC)
        w.u32(info.profileCompatibilityFlags)
        w.append(info.constraintIndicatorBytes)
        w.u8(info.levelIDC)
        w.u16(0xF000)                        // min_spatial_segmentation_idc 0: unknown
        w.u8(0xFC)                           // parallelismType 0: unknown
        w.u8(0xFC | info.chromaFormatIDC)
        w.u8(0xF8 | (info.bitDepthLuma - 8))
        w.u8(0xF8 | (info.bitDepthChroma - 8))
        w.u16(0)                             // avgFrameRate: unspecified
        // constantFrameRate 0, numTemporalLayers, temporalIdNested, lengthSizeMinusOne 3.
        w.u8((info.maxSubLayersMinus1 + 1) << 3 | (info.temporalIDNesting ? 0x04 : 0) | 3)
        w.u8(3)
        for (type, unit) in [(UInt8(32), description.vps), (33, description.sps), (34, description.pps)] {
            w.u8(0x80 | type)                // array_completeness: hvc1 keeps every parameter set here
            w.u16(1)
            w.u16(UInt16(unit.count)); w.append(unit)
        }
    }

    /// ES_Descriptor (ISO/IEC 14496-1 §7.2.6.5) holding the AudioSpecificConfig.
    private static func writeElementaryStreamDescriptor(_ config: [UInt8], trackID: UInt32, into w: inout BoxWriter) {
        let decoderSpecificInfo = descriptor(tag: 0x05, config)
        var decoderConfig: [UInt8] = [0x40, 0x15]  // objectTypeIndication: MPEG-4 Audio; streamType audio (5 << 2 | 1)
        decoderConfig += [0, 0, 0]                 // bufferSizeDB
        decoderConfig += [0, 0, 0, 0, 0, 0, 0, 0]  // max and average bitrate: unknown
        decoderConfig += decoderSpecificInfo
        var elementaryStream: [UInt8] = [UInt8(truncatingIfNeeded: trackID >> 8), UInt8(truncatingIfNeeded: trackID), 0]
        elementaryStream += descriptor(tag: 0x04, decoderConfig)
        elementaryStream += descriptor(tag: 0x06, [0x02]) // SLConfigDescriptor: predefined MP4
        w.append(descriptor(tag: 0x03, elementaryStream))
    }

    /// A descriptor's size is 7 bits per byte, high bit meaning "more follows".
    private static func descriptor(tag: UInt8, _ body: [UInt8]) -> [UInt8] {
        var size: [UInt8] = [UInt8(body.count & 0x7F)]
        var rest = body.count >> 7
        while rest > 0 {
            size.insert(UInt8(0x80 | (rest & 0x7F)), at: 0)
            rest >>= 7
        }
        return [tag] + size + body
    }
}
