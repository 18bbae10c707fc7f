/// A POSIX ustar archive writer: the overlay and the .ipk parts. Every entry
/// belongs to root (uid/gid 0), with a fixed mtime, so builds are reproducible.
struct TarWriter {
    private(set) var bytes: [UInt8] = []
    let mtime: Int

    init(mtime: Int) { self.mtime = mtime }

    mutating func addDirectory(_ path: String, mode: Int = 0o755) throws {
        try addHeader(name: path.hasSuffix("/") ? path : path + "/", mode: mode, size: 0, type: UInt8(ascii: "5"))
    }

    mutating func addFile(_ path: String, contents: [UInt8], mode: Int) throws {
        try addHeader(name: path, mode: mode, size: contents.count, type: UInt8(ascii: "0"))
        bytes += contents
        bytes += [UInt8](repeating: 0, count: (512 - contents.count % 512) % 512)
    }

    /// The archive with its two zero end blocks.
    func finished() -> [UInt8] { bytes + [UInt8](repeating: 0, count: 1024) }

    private mutating func addHeader(name: String, mode: Int, size: Int, type: UInt8) throws {
        var header = [UInt8](repeating: 0, count: 512)
        let nameBytes = Array(name.utf8)
        if nameBytes.count <= 100 {
            header.replaceSubrange(0..<nameBytes.count, with: nameBytes)
        } else {
            // ustar splits long names at a '/' into prefix (155) and name (100).
            guard let split = nameBytes.indices.reversed().first(where: {
                nameBytes[$0] == UInt8(ascii: "/") && $0 <= 155 && nameBytes.count - $0 - 1 <= 100
            }) else { throw FirmwareError("path too long for a tar archive: \(name)") }
            header.replaceSubrange(0..<(nameBytes.count - split - 1), with: nameBytes[(split + 1)...])
            header.replaceSubrange(345..<(345 + split), with: nameBytes[..<split])
        }
        func octal(_ value: Int, at offset: Int, width: Int) {
            let digits = Array(String(value, radix: 8).utf8)
            let padded = [UInt8](repeating: UInt8(ascii: "0"), count: width - 1 - digits.count) + digits
            header.replaceSubrange(offset..<(offset + width - 1), with: padded)
        }
        octal(mode, at: 100, width: 8)
        octal(0, at: 108, width: 8)
        octal(0, at: 116, width: 8)
        octal(size, at: 124, width: 12)
        octal(mtime, at: 136, width: 12)
        header[156] = type
        header.replaceSubrange(257..<263, with: Array("ustar\0".utf8))
        header.replaceSubrange(263..<265, with: Array("00".utf8))
        header.replaceSubrange(265..<269, with: Array("root".utf8))
        header.replaceSubrange(297..<301, with: Array("root".utf8))
        // The checksum is computed with its own field as spaces.
        header.replaceSubrange(148..<156, with: [UInt8](repeating: UInt8(ascii: " "), count: 8))
        let sum = header.reduce(0) { $0 + Int($1) }
        let digits = Array(String(sum, radix: 8).utf8)
        let field = [UInt8](repeating: UInt8(ascii: "0"), count: 6 - digits.count) + digits + [0, UInt8(ascii: " ")]
        header.replaceSubrange(148..<156, with: field)
        bytes += header
    }
}
