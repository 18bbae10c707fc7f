import Foundation

/// `patch`: adds the overlay to the root filesystem of a vendor image and
/// writes a new image of the same form. The input is only ever read; the
/// output appears (by rename) only when everything worked and fits.
struct ImagePatcher {
    enum Layout: Equatable {
        case squashfs
        case uImage
        /// A full flash dump; the rootfs partition (squashfs or uImage) is at the board's offset.
        case flashDump(inner: Inner)
        enum Inner: Equatable { case squashfs, uImage }

        var description: String {
            switch self {
            case .squashfs: return "raw squashfs"
            case .uImage: return "squashfs in a U-Boot uImage"
            case .flashDump(.squashfs): return "flash dump, squashfs rootfs partition"
            case .flashDump(.uImage): return "flash dump, uImage rootfs partition"
            }
        }
    }

    var board: BoardProfile

    func detect(_ image: [UInt8], path: String) throws -> Layout {
        let all = image[...]
        if UImageHeader.looksLike(all) { return .uImage }
        if SquashfsSuperblock.looksLike(all) { return .squashfs }
        let offset = board.rootfsOffset
        if offset > 0 && image.count > offset {
            let partition = image[offset...]
            if UImageHeader.looksLike(partition) { return .flashDump(inner: .uImage) }
            if SquashfsSuperblock.looksLike(partition) { return .flashDump(inner: .squashfs) }
        }
        if image.count == 0 { throw FirmwareError("\(path) is empty: not an image") }
        let found = image.prefix(8).map { String(format: "%02x", $0) }.joined(separator: " ")
        var message = "\(path) is not an image this tool knows: no squashfs (hsqs) or U-Boot uImage (27 05 19 56) at its start (found \(found))"
        if offset > 0 {
            message += image.count > offset
                ? ", nor at the rootfs offset 0x\(String(offset, radix: 16)) of board \(board.name)"
                : "; it is too short (\(image.count) bytes) to be a flash dump with the rootfs at 0x\(String(offset, radix: 16)) (board \(board.name))"
        }
        throw FirmwareError(message)
    }

    /// The squashfs bytes inside a container (a uImage payload or the bare filesystem), checked.
    private func squashfs(in container: ArraySlice<UInt8>, inner: Layout.Inner, what: String) throws -> (SquashfsSuperblock, ArraySlice<UInt8>, UImageHeader?) {
        switch inner {
        case .squashfs:
            let superblock = try SquashfsSuperblock(container, what: what)
            return (superblock, container.prefix(superblock.bytesUsed), nil)
        case .uImage:
            let header = try UImageHeader(container, what: what)
            guard header.type != UImageHeader.typeMulti else {
                throw FirmwareError("\(what) is a multi-file uImage; patch handles a uImage that holds just the rootfs")
            }
            guard header.compression == UImageHeader.compressionNone else {
                throw FirmwareError("\(what): the uImage payload is compressed (U-Boot compression type \(header.compression)); a squashfs rootfs is stored uncompressed")
            }
            let payload = container.dropFirst(UImageHeader.size).prefix(header.dataSize)
            guard SquashfsSuperblock.looksLike(payload) else {
                throw FirmwareError("\(what): the uImage '\(header.name)' does not hold a squashfs (a kernel image?)")
            }
            let superblock = try SquashfsSuperblock(payload, what: "\(what) (uImage payload)")
            return (superblock, payload, header)
        }
    }

    /// Runs the whole patch. `workDirectory` is scratch space (removed by the caller).
    func patch(imagePath: String, outputPath: String, overlay: Overlay, workDirectory: String) throws {
        let inputURL = URL(fileURLWithPath: imagePath).resolvingSymlinksInPath()
        let outputURL = URL(fileURLWithPath: outputPath).resolvingSymlinksInPath()
        guard inputURL.path != outputURL.path else { throw FirmwareError("--out must not be the input image: the input is never modified") }
        let image = try readFile(imagePath, what: "image")
        let layout = try detect(image, path: imagePath)
        progress("\(imagePath): \(layout.description)")

        let container: ArraySlice<UInt8>
        let inner: Layout.Inner
        switch layout {
        case .squashfs: container = image[...]; inner = .squashfs
        case .uImage: container = image[...]; inner = .uImage
        case .flashDump(let partitionInner):
            let end = board.rootfsOffset + board.rootfsSize
            guard image.count >= end else {
                throw FirmwareError("\(imagePath) is truncated: board \(board.name)'s rootfs partition ends at 0x\(String(end, radix: 16)), the dump has \(image.count) bytes")
            }
            container = image[board.rootfsOffset..<end]
            inner = partitionInner
        }
        let (superblock, squashfsBytes, header) = try squashfs(in: container, inner: inner, what: imagePath)
        progress("rootfs: squashfs \(superblock.compressor), \(superblock.blockSize / 1024) KiB blocks, \(describeBytes(superblock.bytesUsed))"
                 + (header.map { ", in uImage '\($0.name)'" } ?? ""))
        let optionFlags = try superblock.mksquashfsOptionFlags()
        if !optionFlags.isEmpty { progress("compressor options: \(optionFlags.joined(separator: " "))") }
        guard getuid() == 0 else {
            throw FirmwareError("patch must run as root: unsquashfs/mksquashfs keep the image's file owners and device nodes only for root")
        }

        let originalFile = "\(workDirectory)/rootfs.orig.squashfs"
        try writeFile(originalFile, Array(squashfsBytes), mode: 0o600)
        let root = "\(workDirectory)/rootfs"
        progress("unpacking the rootfs (unsquashfs)…")
        try ExternalTool.run("unsquashfs", package: "squashfs-tools", ["-no-progress", "-d", root, originalFile])
        try overlay.install(into: root)
        progress("added \(overlay.files.count) files: \(overlay.files.map(\.path).joined(separator: ", "))")

        let newFile = "\(workDirectory)/rootfs.new.squashfs"
        progress("repacking (mksquashfs -comp \(superblock.compressor) -b \(superblock.blockSize))…")
        do {
            try ExternalTool.run("mksquashfs", package: "squashfs-tools",
                                 [root, newFile, "-noappend", "-no-progress", "-comp", superblock.compressor, "-b", String(superblock.blockSize)]
                                     + optionFlags)
        } catch {
            throw FirmwareError("could not repack with \(superblock.compressor) compression: \(error)")
        }
        let newSquashfs = try readFile(newFile, what: "new rootfs")
        let repacked = try SquashfsSuperblock(newSquashfs[...], what: "the new rootfs")
        guard repacked.compressionID == superblock.compressionID, repacked.blockSize == superblock.blockSize,
              repacked.compressorOptions == superblock.compressorOptions else {
            throw FirmwareError("mksquashfs did not keep \(superblock.compressor), \(superblock.blockSize)-byte blocks and the compressor options; refusing")
        }

        let newContainer: [UInt8] = header.map { $0.rewrapped(newSquashfs) } ?? newSquashfs
        let output: [UInt8]
        switch layout {
        case .squashfs, .uImage:
            try checkFits(newContainer.count, old: container.count)
            output = newContainer
        case .flashDump:
            try checkFits(newContainer.count, old: container.count)
            // The rest of the partition reads as erased flash.
            var dump = image
            let padding = [UInt8](repeating: 0xFF, count: board.rootfsSize - newContainer.count)
            dump.replaceSubrange(board.rootfsOffset..<(board.rootfsOffset + board.rootfsSize), with: newContainer + padding)
            output = dump
        }
        let temporary = outputURL.deletingLastPathComponent().appendingPathComponent(".\(outputURL.lastPathComponent).partial-\(getpid())").path
        do {
            try writeFile(temporary, output, mode: 0o644)
            guard rename(temporary, outputURL.path) == 0 else { throw FirmwareError("cannot rename to \(outputPath): \(String(cString: strerror(errno)))") }
        } catch {
            unlink(temporary)
            throw error
        }
        progress("rootfs \(describeBytes(superblock.bytesUsed)) -> \(describeBytes(repacked.bytesUsed)); partition \(describeBytes(board.rootfsSize)), \(describeBytes(board.rootfsSize - newContainer.count)) free")
        print("wrote \(outputPath) (\(layout.description), \(describeBytes(output.count)))")
    }

    private func checkFits(_ size: Int, old: Int) throws {
        guard size <= board.rootfsSize else {
            throw FirmwareError("""
                the patched rootfs is \(describeBytes(size)), more than board \(board.name)'s rootfs partition of \
                \(describeBytes(board.rootfsSize)) (over by \(describeBytes(size - board.rootfsSize))); nothing was written
                """)
        }
    }
}
