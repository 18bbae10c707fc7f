import Foundation

/// What the agent adds to a board's root filesystem: binary, init script,
/// config and CA bundle, with their modes. Written as a tar.gz, a .ipk, or
/// into an unpacked rootfs (`patch`).
struct Overlay {
    struct Entry {
        var path: String  // absolute, on the device
        var mode: Int
        var contents: [UInt8]?  // nil: a directory
    }

    var entries: [Entry] = []

    /// Checks the agent against the board (CPU, static, flash budget) and lays out the files.
    static func make(board: BoardProfile, agent agentPath: String, caBundle caPath: String, config: [UInt8]) throws -> Overlay {
        guard let agentData = FileManager.default.contents(atPath: agentPath) else {
            throw FirmwareError("cannot read the agent binary \(agentPath) (build it with Scripts/cross-build \(board.cpuTarget))")
        }
        let agent = [UInt8](agentData)
        try check(agent: agent, path: agentPath, board: board)
        guard let caData = FileManager.default.contents(atPath: caPath) else { throw FirmwareError("cannot read the CA bundle \(caPath)") }
        guard String(decoding: caData, as: UTF8.self).contains("-----BEGIN CERTIFICATE-----") else {
            throw FirmwareError("\(caPath) holds no PEM certificate (expected -----BEGIN CERTIFICATE-----)")
        }

        var overlay = Overlay()
        overlay.add(file: board.installPath, mode: 0o755, contents: agent)
        let initScript = "/etc/init.d/\(board.initScriptName)"
        overlay.add(file: initScript, mode: 0o755, contents: Array(InitScripts.script(for: board).utf8))
        // The config holds the activation secret once provisioned: agent (root) only.
        overlay.add(file: board.configPath, mode: 0o600, contents: config)
        overlay.add(file: board.caPath, mode: 0o644, contents: [UInt8](caData))
        return overlay
    }

    static func check(agent: [UInt8], path: String, board: BoardProfile) throws {
        let elf: ELFInfo
        do { elf = try ELFInfo(agent) } catch { throw FirmwareError("\(path): \(error)") }
        let expected = ELFInfo.expected(for: board.cpuTarget)!
        guard elf.is64Bit == expected.is64Bit, elf.bigEndian == expected.bigEndian, elf.machine == expected.machine else {
            throw FirmwareError("\(path) is a \(elf.summary) binary, but board \(board.name) needs cpu_target \(board.cpuTarget) (Scripts/cross-build \(board.cpuTarget))")
        }
        guard !elf.hasInterpreter else {
            throw FirmwareError("\(path) is dynamically linked; the firmware needs the static agent from Scripts/cross-build \(board.cpuTarget)")
        }
        guard agent.count <= board.flashBudget else {
            throw FirmwareError("""
                the agent \(path) is \(describeBytes(agent.count)), over board \(board.name)'s flash budget of \
                \(describeBytes(board.flashBudget)) by \(describeBytes(agent.count - board.flashBudget)); \
                refusing to build (Scripts/size-report \(board.cpuTarget) shows where the bytes go)
                """)
        }
    }

    /// Adds a file and every parent directory not yet present.
    mutating func add(file path: String, mode: Int, contents: [UInt8]) {
        var parents: [String] = []
        var parent = (path as NSString).deletingLastPathComponent
        while parent != "/" && !parent.isEmpty {
            parents.insert(parent, at: 0)
            parent = (parent as NSString).deletingLastPathComponent
        }
        for directory in parents where !entries.contains(where: { $0.path == directory }) {
            entries.append(Entry(path: directory, mode: 0o755, contents: nil))
        }
        entries.removeAll { $0.path == path }
        entries.append(Entry(path: path, mode: mode, contents: contents))
    }

    var files: [Entry] { entries.filter { $0.contents != nil } }

    func tar(mtime: Int) throws -> [UInt8] {
        var writer = TarWriter(mtime: mtime)
        for entry in entries {
            let name = "." + entry.path
            if let contents = entry.contents {
                try writer.addFile(name, contents: contents, mode: entry.mode)
            } else {
                try writer.addDirectory(name, mode: entry.mode)
            }
        }
        return writer.finished()
    }

    func tarGz(mtime: Int) throws -> [UInt8] { try Zlib.gzip(try tar(mtime: mtime)) }

    /// Copies the overlay into an unpacked root filesystem at `root`.
    /// Existing directories keep their modes; files are replaced.
    func install(into root: String) throws {
        let fm = FileManager.default
        for entry in entries {
            let target = root + entry.path
            if entry.contents == nil {
                // A symlinked directory (e.g. /etc -> /tmp/etc) would send our files outside the image.
                if (try? fm.destinationOfSymbolicLink(atPath: target)) != nil {
                    throw FirmwareError("\(entry.path) is a symbolic link in the image; refusing to write through it")
                }
                var isDirectory: ObjCBool = false
                if fm.fileExists(atPath: target, isDirectory: &isDirectory) {
                    guard isDirectory.boolValue else { throw FirmwareError("the image has a file where the overlay needs the directory \(entry.path)") }
                    continue
                }
                try fm.createDirectory(atPath: target, withIntermediateDirectories: false, attributes: [.posixPermissions: entry.mode])
            } else {
                if (try? fm.destinationOfSymbolicLink(atPath: target)) != nil || fm.fileExists(atPath: target) {
                    try fm.removeItem(atPath: target)
                }
                guard fm.createFile(atPath: target, contents: Data(entry.contents!), attributes: [.posixPermissions: entry.mode]) else {
                    throw FirmwareError("cannot write \(target)")
                }
                // createFile applies the umask: set the mode explicitly.
                try fm.setAttributes([.posixPermissions: entry.mode], ofItemAtPath: target)
            }
        }
    }
}
