@testable import camagent_firmware
import Foundation
import Testing

/// `patch` on synthetic vendor images made with mksquashfs and mkimage.
@Suite(.enabled(if: isRoot, "patch needs root (unsquashfs keeps owners and device nodes only for root)"))
struct PatchTests {
    /// A scratch directory with a small vendor rootfs, a fake x86_64 agent, a CA and a test board.
    struct Fixture {
        let scratch: Scratch
        let board: String
        let common: [String]

        init(rootfsSize: String = "1M", rootfsOffset: String = "0x10000") throws {
            scratch = try Scratch()
            let setup = try shell("""
                set -e
                cd '\(scratch.url.path)'
                mkdir -p root/bin root/etc/init.d root/dev root/usr/bin
                printf '#!/bin/sh\\necho vendor\\n' > root/bin/app && chmod 755 root/bin/app
                echo 'root:x:0:0:root:/root:/bin/sh' > root/etc/passwd
                ln -s app root/usr/bin/app-link
                mknod root/dev/console c 5 1
                head -c 20000 /dev/urandom > root/bin/blob
                """)
            guard setup.status == 0 else { throw FirmwareError("fixture: \(setup.all)") }
            var agent = fakeAgent(machine: 62, is64Bit: true, size: 60_000)
            for index in 64..<agent.count { agent[index] = UInt8.random(in: 0...255) }  // incompressible, like code
            _ = FileManager.default.createFile(atPath: scratch.path("camagent"), contents: Data(agent))
            try scratch.write("ca.pem", testCA)
            var text = try String(contentsOfFile: Repo.path("Firmware/boards/generic-x86_64.board"), encoding: .utf8)
            text = text.replacingOccurrences(of: "name = generic-x86_64", with: "name = testboard")
                .replacingOccurrences(of: "rootfs_offset = 0", with: "rootfs_offset = \(rootfsOffset)")
                .replacingOccurrences(of: "rootfs_size = 64M", with: "rootfs_size = \(rootfsSize)")
            board = scratch.path("testboard.board")
            try text.write(toFile: board, atomically: true, encoding: .utf8)
            common = ["--board", board, "--agent", scratch.path("camagent"), "--ca", scratch.path("ca.pem")]
        }

        func squashfs(_ name: String, comp: String, block: Int, options: String = "") throws -> String {
            let result = try shell("mksquashfs '\(scratch.path("root"))' '\(scratch.path(name))' -noappend -no-progress -comp \(comp) -b \(block) \(options)")
            guard result.status == 0 else { throw FirmwareError("mksquashfs: \(result.all)") }
            return scratch.path(name)
        }

        func patch(_ image: String, _ out: String, _ extra: [String] = []) throws -> Output {
            try firmware(["patch", "--image", image, "--out", out] + common + extra)
        }

        /// `unsquashfs -lln` of a squashfs file, one entry per line.
        func listing(_ squashfs: String) throws -> String {
            try shell("unsquashfs -lln '\(squashfs)'").stdout
        }
    }

    func bytes(_ path: String) -> [UInt8] { [UInt8](FileManager.default.contents(atPath: path) ?? Data()) }

    func expectPatched(_ listing: String, config: String? = nil) {
        func line(_ suffix: String) -> String? { listing.split(separator: "\n").map(String.init).first { $0.hasSuffix(suffix) } }
        #expect(line("squashfs-root/usr/local/bin/camagent")?.hasPrefix("-rwxr-xr-x 0/0") == true, "\(listing)")
        #expect(line("squashfs-root/etc/camagent/camagent.conf")?.hasPrefix("-rw------- 0/0") == true, "\(listing)")
        #expect(line("squashfs-root/etc/init.d/S95camagent")?.hasPrefix("-rwxr-xr-x") == true)
        #expect(line("squashfs-root/etc/camagent/ca.pem") != nil)
        // The vendor's files are all still there, device node and symlink included.
        #expect(line("squashfs-root/dev/console")?.hasPrefix("crw") == true, "\(listing)")
        #expect(line("squashfs-root/usr/bin/app-link -> app") != nil)
        #expect(line("squashfs-root/bin/blob") != nil && line("squashfs-root/etc/passwd") != nil)
    }

    @Test func rawSquashfsKeepsCompressionAndBlockSize() throws {
        let fixture = try Fixture()
        defer { fixture.scratch.remove() }
        let image = try fixture.squashfs("vendor.sqfs", comp: "xz", block: 65536)
        let before = try sha256(image)
        try fixture.scratch.write("unit.conf", "serial = X1\n")
        let result = try fixture.patch(image, fixture.scratch.path("patched.sqfs"), ["--config", fixture.scratch.path("unit.conf")])
        #expect(result.status == 0, "\(result.all)")
        #expect(result.stderr.contains("rootfs: squashfs xz, 64 KiB blocks"), "\(result.stderr)")
        #expect(try sha256(image) == before, "the input image changed")
        let patched = bytes(fixture.scratch.path("patched.sqfs"))
        let superblock = try SquashfsSuperblock(patched[...], what: "patched")
        #expect(superblock.compressor == "xz" && superblock.blockSize == 65536)
        expectPatched(try fixture.listing(fixture.scratch.path("patched.sqfs")))
        let extracted = try shell("cd '\(fixture.scratch.url.path)' && unsquashfs -no-progress -d ex patched.sqfs etc/camagent/camagent.conf && cat ex/etc/camagent/camagent.conf")
        #expect(extracted.stdout.hasSuffix("serial = X1\n"), "\(extracted.all)")
    }

    @Test(arguments: [("xz", "-Xbcj arm,armthumb -Xdict-size 32768"), ("gzip", "-Xcompression-level 6 -Xstrategy filtered"),
                      ("lz4", "-Xhc"), ("zstd", "-Xcompression-level 3"), ("lzo", "-Xalgorithm lzo1x_999 -Xcompression-level 7")])
    func nonDefaultCompressorOptionsAreKept(compressor: String, options: String) throws {
        let fixture = try Fixture()
        defer { fixture.scratch.remove() }
        let image = try fixture.squashfs("vendor.sqfs", comp: compressor, block: 131072, options: options)
        let original = try SquashfsSuperblock(bytes(image)[...], what: "vendor")
        #expect(original.hasCompressorOptions, "mksquashfs wrote no options for \(options)")
        let result = try fixture.patch(image, fixture.scratch.path("patched.sqfs"))
        #expect(result.status == 0, "\(result.all)")
        let patched = try SquashfsSuperblock(bytes(fixture.scratch.path("patched.sqfs"))[...], what: "patched")
        #expect(patched.compressor == compressor && patched.compressorOptions == original.compressorOptions)
        expectPatched(try fixture.listing(fixture.scratch.path("patched.sqfs")))
    }

    @Test func uImageKeepsEveryHeaderFieldButSizeAndCRCs() throws {
        let fixture = try Fixture()
        defer { fixture.scratch.remove() }
        let rootfs = try fixture.squashfs("rootfs.sqfs", comp: "gzip", block: 131072)
        let image = fixture.scratch.path("vendor.uimg")
        let wrap = try shell("SOURCE_DATE_EPOCH=1500000000 mkimage -A arm -O linux -T filesystem -C none -a 0x80000000 -e 0x80000040 -n 'XM rootfs v5' -d '\(rootfs)' '\(image)'")
        #expect(wrap.status == 0, "\(wrap.all)")
        let before = try sha256(image)
        let result = try fixture.patch(image, fixture.scratch.path("patched.uimg"))
        #expect(result.status == 0, "\(result.all)")
        #expect(try sha256(image) == before, "the input image changed")

        let old = bytes(image), new = bytes(fixture.scratch.path("patched.uimg"))
        // time (8..<12), load and entry (16..<24), os/arch/type/comp and name (28..<64): unchanged.
        #expect(old[8..<12] == new[8..<12] && old[16..<24] == new[16..<24] && old[28..<64] == new[28..<64])
        #expect(old[12..<16] != new[12..<16])
        // U-Boot's own tool reads it and checks both CRCs.
        let listed = try shell("dumpimage -l '\(fixture.scratch.path("patched.uimg"))'")
        #expect(listed.status == 0 && listed.stdout.contains("Image Name:   XM rootfs v5") && listed.stdout.contains("Load Address: 80000000"), "\(listed.all)")
        let payload = try shell("cd '\(fixture.scratch.url.path)' && dumpimage -T filesystem -p 0 -o payload.sqfs patched.uimg")
        #expect(payload.status == 0, "\(payload.all)")
        let superblock = try SquashfsSuperblock(bytes(fixture.scratch.path("payload.sqfs"))[...], what: "payload")
        #expect(superblock.compressor == "gzip" && superblock.blockSize == 131072)
        expectPatched(try fixture.listing(fixture.scratch.path("payload.sqfs")))
        #expect(try UImageHeader(new[...], what: "patched").dataSize == new.count - 64)
    }

    @Test func flashDumpIsPatchedInPlaceOfItsRootfsPartition() throws {
        let fixture = try Fixture(rootfsSize: "512K", rootfsOffset: "0x10000")
        defer { fixture.scratch.remove() }
        let rootfs = bytes(try fixture.squashfs("rootfs.sqfs", comp: "lz4", block: 131072))
        // boot loader + rootfs partition + a data partition after it.
        let boot = (0..<0x10000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        let partition = rootfs + [UInt8](repeating: 0xFF, count: 512 * 1024 - rootfs.count)
        let tail = [UInt8](repeating: 0x5A, count: 4096)
        let dump = fixture.scratch.path("flash.bin")
        _ = FileManager.default.createFile(atPath: dump, contents: Data(boot + partition + tail))
        let before = try sha256(dump)
        let result = try fixture.patch(dump, fixture.scratch.path("flash-patched.bin"))
        #expect(result.status == 0, "\(result.all)")
        #expect(result.stderr.contains("flash dump, squashfs rootfs partition"))
        #expect(try sha256(dump) == before)
        let new = bytes(fixture.scratch.path("flash-patched.bin"))
        #expect(new.count == boot.count + partition.count + tail.count)
        #expect(Array(new[..<0x10000]) == boot && Array(new[(0x10000 + 512 * 1024)...]) == tail)
        let superblock = try SquashfsSuperblock(new[0x10000...], what: "patched partition")
        #expect(superblock.compressor == "lz4")
        let padded = (0x10000 + superblock.bytesUsed + 4095) / 4096 * 4096
        #expect(new[padded..<(0x10000 + 512 * 1024)].allSatisfy { $0 == 0xFF })
        _ = FileManager.default.createFile(atPath: fixture.scratch.path("part.sqfs"), contents: Data(new[0x10000..<(0x10000 + 512 * 1024)]))
        expectPatched(try fixture.listing(fixture.scratch.path("part.sqfs")))
    }

    @Test func aResultBiggerThanThePartitionIsRefusedAndNothingIsWritten() throws {
        let fixture = try Fixture(rootfsSize: "48K")
        defer { fixture.scratch.remove() }
        let image = try fixture.squashfs("vendor.sqfs", comp: "xz", block: 131072)
        let before = try sha256(image)
        let out = fixture.scratch.path("patched.sqfs")
        let result = try fixture.patch(image, out)
        #expect(result.status == 1, "\(result.all)")
        #expect(result.stderr.contains("more than board testboard's rootfs partition of 49,152 bytes (48 KiB)") && result.stderr.contains("nothing was written"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: fixture.scratch.url.path).filter { $0.contains("partial") }
        #expect(leftovers.isEmpty)
        #expect(try sha256(image) == before)
    }

    @Test func badImagesGetClearErrorsAndAreNeverModified() throws {
        let fixture = try Fixture()
        defer { fixture.scratch.remove() }
        let good = bytes(try fixture.squashfs("vendor.sqfs", comp: "gzip", block: 131072))
        func failure(_ name: String, _ contents: [UInt8]) throws -> String {
            let path = fixture.scratch.path(name)
            _ = FileManager.default.createFile(atPath: path, contents: Data(contents))
            let before = try sha256(path)
            let result = try fixture.patch(path, fixture.scratch.path("\(name).out"))
            #expect(result.status == 1, "\(name): \(result.all)")
            #expect(try sha256(path) == before, "\(name) was modified")
            #expect(!FileManager.default.fileExists(atPath: fixture.scratch.path("\(name).out")))
            #expect(!result.stderr.contains("Fatal error") && !result.stderr.contains("Stack"), "\(result.stderr)")
            return result.stderr
        }
        #expect(try failure("notes.txt", Array("hello, this is not firmware\n".utf8)).contains("is not an image this tool knows"))
        #expect(try failure("empty.bin", []).contains("is empty"))
        var unknown = good
        unknown[20] = 9
        #expect(try failure("unknown-comp.sqfs", unknown).contains("unknown squashfs compression id 9"))
        #expect(try failure("cut.sqfs", Array(good.prefix(good.count / 2))).contains("is truncated: the squashfs says"))
        #expect(try failure("tiny.sqfs", Array(good.prefix(40))).contains("is truncated: 40 bytes"))

        let rootfs = fixture.scratch.path("vendor.sqfs"), uimage = fixture.scratch.path("vendor.uimg")
        #expect(try shell("mkimage -A arm -O linux -T filesystem -C none -n rootfs -d '\(rootfs)' '\(uimage)'").status == 0)
        let wrapped = bytes(uimage)
        #expect(try failure("cut.uimg", Array(wrapped.prefix(wrapped.count - 100))).contains("is truncated: its U-Boot header announces"))
        var damaged = wrapped
        damaged[200] ^= 0xFF
        #expect(try failure("damaged.uimg", damaged).contains("U-Boot data CRC mismatch"))
        let kernel = fixture.scratch.path("kernel.uimg")
        #expect(try shell("head -c 5000 /dev/urandom > '\(fixture.scratch.path("k.bin"))' && mkimage -A arm -O linux -T kernel -C none -a 0 -e 0 -n kernel -d '\(fixture.scratch.path("k.bin"))' '\(kernel)'").status == 0)
        #expect(try failure("kernel.uimg", bytes(kernel)).contains("does not hold a squashfs"))

        // The input as output is refused.
        let same = try fixture.patch(rootfs, rootfs)
        #expect(same.status == 1 && same.stderr.contains("--out must not be the input image"))
    }
}
