import Foundation

/// Runs the Debian tools the firmware tool relies on (squashfs-tools,
/// u-boot-tools) and turns their failures into one clear message.
enum ExternalTool {
    static func path(_ name: String, package: String) throws -> String {
        for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") + ["/usr/sbin", "/sbin", "/usr/bin"] {
            let candidate = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw FirmwareError("\(name) not found: install the Debian package \(package) (Scripts/firmware does that itself)")
    }

    /// Runs to completion; returns stdout. Throws with the tool's own output on failure.
    @discardableResult
    static func run(_ name: String, package: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try path(name, package: package))
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        guard process.terminationStatus == 0 else {
            let tail = text.split(separator: "\n").suffix(8).joined(separator: "\n")
            throw FirmwareError("\(name) failed (exit \(process.terminationStatus)):\n\(tail)")
        }
        return text
    }
}

/// Files holding secrets are created 0600 from the start (no window with the umask's mode).
func writeFile(_ path: String, _ bytes: [UInt8], mode: mode_t, exclusive: Bool = false) throws {
    let flags = O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC | (exclusive ? O_EXCL : O_TRUNC)
    let fd = open(path, flags, mode)
    guard fd >= 0 else { throw FirmwareError("cannot write \(path): \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    guard fchmod(fd, mode) == 0 else { throw FirmwareError("cannot set the mode of \(path): \(String(cString: strerror(errno)))") }
    var written = 0
    while written < bytes.count {
        let result = bytes.withUnsafeBufferPointer { write(fd, $0.baseAddress! + written, $0.count - written) }
        if result < 0 && errno == EINTR { continue }
        guard result > 0 else { throw FirmwareError("cannot write \(path): \(String(cString: strerror(errno)))") }
        written += result
    }
    guard fsync(fd) == 0 else { throw FirmwareError("cannot write \(path): \(String(cString: strerror(errno)))") }
}

func readFile(_ path: String, what: String) throws -> [UInt8] {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { throw FirmwareError("\(what) \(path) does not exist") }
    guard !isDirectory.boolValue else { throw FirmwareError("\(what) \(path) is a directory") }
    guard let data = FileManager.default.contents(atPath: path) else { throw FirmwareError("cannot read \(what) \(path)") }
    return [UInt8](data)
}

/// Progress lines for the steps that take a while; stderr, so stdout stays for results.
func progress(_ text: String) {
    FileHandle.standardError.write(Data("camagent-firmware: \(text)\n".utf8))
}
