/// The two container formats `patch` reads: a squashfs superblock and a
/// U-Boot legacy image header. Parsing only; mksquashfs/unsquashfs and
/// mkimage/dumpimage do the real work elsewhere.

/// Squashfs 4.0 superblock (little-endian, 96 bytes).
struct SquashfsSuperblock: Equatable {
    static let magic: [UInt8] = Array("hsqs".utf8)
    static let compressors: [UInt16: String] = [1: "gzip", 2: "lzma", 3: "lzo", 4: "xz", 5: "lz4", 6: "zstd"]

    var compressionID: UInt16
    var blockSize: Int
    var bytesUsed: Int
    var hasCompressorOptions: Bool

    var compressor: String { Self.compressors[compressionID]! }

    static func looksLike(_ bytes: ArraySlice<UInt8>) -> Bool {
        bytes.count >= 4 && Array(bytes.prefix(4)) == magic
    }

    /// `bytes` starts at the superblock; `what` names the data in errors.
    init(_ bytes: ArraySlice<UInt8>, what: String) throws {
        guard Self.looksLike(bytes) else { throw FirmwareError("\(what) is not a squashfs (no hsqs magic)") }
        guard bytes.count >= 96 else { throw FirmwareError("\(what) is truncated: \(bytes.count) bytes, shorter than a squashfs superblock") }
        let base = bytes.startIndex
        func u16(_ at: Int) -> UInt16 { UInt16(bytes[base + at]) | UInt16(bytes[base + at + 1]) << 8 }
        func u32(_ at: Int) -> UInt32 { UInt32(u16(at)) | UInt32(u16(at + 2)) << 16 }
        func u64(_ at: Int) -> UInt64 { UInt64(u32(at)) | UInt64(u32(at + 4)) << 32 }
        let major = u16(28), minor = u16(30)
        guard major == 4, minor == 0 else {
            throw FirmwareError("\(what) is squashfs \(major).\(minor); only squashfs 4.0 is supported (what mksquashfs 4.x writes)")
        }
        compressionID = u16(20)
        guard Self.compressors[compressionID] != nil else {
            throw FirmwareError("\(what) uses unknown squashfs compression id \(compressionID) (known: 1 gzip, 2 lzma, 3 lzo, 4 xz, 5 lz4, 6 zstd)")
        }
        blockSize = Int(u32(12))
        let blockLog = u16(22)
        guard blockLog >= 12, blockLog <= 20, blockSize == 1 << Int(blockLog) else {
            throw FirmwareError("\(what) has a damaged superblock (block size \(blockSize), log \(blockLog))")
        }
        let used = u64(40)
        guard used >= 96, used <= UInt64(Int.max) else { throw FirmwareError("\(what) has a damaged superblock (bytes_used \(used))") }
        bytesUsed = Int(used)
        guard bytesUsed <= bytes.count else {
            throw FirmwareError("\(what) is truncated: the squashfs says \(bytesUsed) bytes, only \(bytes.count) are there")
        }
        hasCompressorOptions = u16(24) & 0x0400 != 0
        if hasCompressorOptions {
            // An uncompressed metadata block right after the superblock: a
            // 16-bit length with bit 15 set ("stored"), then the options.
            guard bytes.count >= 98 + 4 else { throw FirmwareError("\(what) is truncated inside its compressor options") }
            let header = u16(96)
            let length = Int(header & 0x7FFF)
            guard header & 0x8000 != 0, (4...16).contains(length), bytes.count >= 98 + length else {
                throw FirmwareError("\(what) has damaged \(Self.compressors[compressionID]!) compressor options")
            }
            compressorOptions = Array(bytes[(base + 98)..<(base + 98 + length)])
        }
    }

    /// The raw compressor options (empty: mksquashfs's defaults for the compressor).
    var compressorOptions: [UInt8] = []

    /// mksquashfs flags that write the same compressor options again.
    func mksquashfsOptionFlags() throws -> [String] {
        guard !compressorOptions.isEmpty else { return [] }
        let o = compressorOptions
        func u16(_ at: Int) -> Int { at + 2 <= o.count ? Int(o[at]) | Int(o[at + 1]) << 8 : 0 }
        func u32(_ at: Int) -> Int { u16(at) | u16(at + 2) << 16 }
        func names(_ bits: Int, _ table: [(Int, String)]) -> String { table.filter { bits & $0.0 != 0 }.map(\.1).joined(separator: ",") }
        switch compressor {
        case "gzip":
            // level (u32), window (u16), strategies (u16)
            var flags = ["-Xcompression-level", String(u32(0)), "-Xwindow-size", String(u16(4))]
            let strategies = names(u16(6), [(0x2, "filtered"), (0x4, "huffman_only"), (0x8, "run_length_encoded"), (0x10, "fixed")])
            if !strategies.isEmpty { flags += ["-Xstrategy", strategies] }
            return flags
        case "xz":
            // dictionary size (u32), BCJ filters (u32)
            var flags = ["-Xdict-size", String(u32(0))]
            let filters = names(u32(4), [(0x1, "x86"), (0x2, "powerpc"), (0x4, "ia64"), (0x8, "arm"), (0x10, "armthumb"), (0x20, "sparc")])
            if !filters.isEmpty { flags += ["-Xbcj", filters] }
            return flags
        case "lz4":
            return u32(4) & 0x1 != 0 ? ["-Xhc"] : []
        case "zstd":
            return ["-Xcompression-level", String(u32(0))]
        case "lzo":
            let algorithms = ["lzo1x_1", "lzo1x_1_11", "lzo1x_1_12", "lzo1x_1_15", "lzo1x_999"]
            guard u32(0) < algorithms.count else { throw FirmwareError("unknown lzo algorithm \(u32(0)) in the compressor options") }
            return ["-Xalgorithm", algorithms[u32(0)]] + (u32(0) == 4 ? ["-Xcompression-level", String(u32(4))] : [])
        default:
            throw FirmwareError("\(compressor) compressor options are not supported")
        }
    }
}

/// U-Boot legacy image header (big-endian, 64 bytes, `mkimage -l` shows it).
struct UImageHeader: Equatable {
    static let size = 64
    static let magic: UInt32 = 0x2705_1956
    static let typeMulti: UInt8 = 4
    static let compressionNone: UInt8 = 0

    /// The 64 header bytes as read; re-wrapping keeps all but size and CRCs.
    var raw: [UInt8]

    var dataSize: Int { Int(field(12)) }
    var dataCRC: UInt32 { field(24) }
    var headerCRC: UInt32 { field(4) }
    var os: UInt8 { raw[28] }
    var arch: UInt8 { raw[29] }
    var type: UInt8 { raw[30] }
    var compression: UInt8 { raw[31] }
    var name: String {
        String(decoding: raw[32..<64].prefix { $0 != 0 }, as: UTF8.self)
    }

    private func field(_ at: Int) -> UInt32 {
        raw[at..<(at + 4)].reduce(0) { $0 << 8 | UInt32($1) }
    }

    private mutating func setField(_ at: Int, _ value: UInt32) {
        for index in 0..<4 { raw[at + index] = UInt8(truncatingIfNeeded: value >> (24 - 8 * index)) }
    }

    static func looksLike(_ bytes: ArraySlice<UInt8>) -> Bool {
        bytes.count >= 4 && bytes.prefix(4).reduce(0) { $0 << 8 | UInt32($1) } == magic
    }

    /// Reads and checks the header and the data CRC of the image at the start of `bytes`.
    init(_ bytes: ArraySlice<UInt8>, what: String) throws {
        guard Self.looksLike(bytes) else { throw FirmwareError("\(what) is not a U-Boot image") }
        guard bytes.count >= Self.size else { throw FirmwareError("\(what) is truncated inside its U-Boot header") }
        raw = Array(bytes.prefix(Self.size))
        var zeroed = raw
        zeroed.replaceSubrange(4..<8, with: [0, 0, 0, 0])
        guard Zlib.crc32(zeroed) == headerCRC else { throw FirmwareError("\(what): U-Boot header CRC mismatch (damaged header)") }
        guard bytes.count - Self.size >= dataSize else {
            throw FirmwareError("\(what) is truncated: its U-Boot header announces \(dataSize) data bytes, only \(bytes.count - Self.size) follow")
        }
        let data = bytes.dropFirst(Self.size).prefix(dataSize)
        guard Zlib.crc32(data) == dataCRC else { throw FirmwareError("\(what): U-Boot data CRC mismatch (damaged or truncated image)") }
    }

    /// The same header for new data: size, data CRC and header CRC recomputed,
    /// every other field (time, load/entry address, OS, arch, type, name) kept.
    func rewrapped(_ data: [UInt8]) -> [UInt8] {
        var header = self
        header.setField(12, UInt32(data.count))
        header.setField(24, Zlib.crc32(data))
        header.setField(4, 0)
        header.setField(4, Zlib.crc32(header.raw))
        return header.raw + data
    }
}
