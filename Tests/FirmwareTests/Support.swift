import Foundation
import Testing

/// Paths of the repository and of the binaries this test build made.
enum Repo {
    static var root: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }
    static func path(_ relative: String) -> String { root.appendingPathComponent(relative).path }

    static var buildDirectory: URL {
        if let dir = ProcessInfo.processInfo.environment["CAMAGENT_BUILD_DIR"] { return URL(fileURLWithPath: dir) }
        var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        while url.pathComponents.count > 1 && url.pathExtension != "xctest" { url.deleteLastPathComponent() }
        return url.deletingLastPathComponent()
    }
    static func binary(_ name: String) -> String { buildDirectory.appendingPathComponent(name).path }

    /// The cross-built agent for a target, if Scripts/test (or cross-build) made one.
    static func crossAgent(_ target: String) -> String? {
        let candidates = [ProcessInfo.processInfo.environment["CAMAGENT_CROSS_\(target.uppercased())"],
                          path(".build-cross/\(target)/camagent")].compactMap { $0 }
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }
}

struct Output {
    var status: Int32
    var stdout: String
    var stderr: String
    var all: String { "exit \(status)\n--- stdout\n\(stdout)\n--- stderr\n\(stderr)" }
}

/// Runs a command to completion (bounded); the firmware tool comes from this build.
@discardableResult
func run(_ executable: String, _ arguments: [String], environment extra: [String: String] = [:],
         timeout: TimeInterval = 120) throws -> Output {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    var environment = ProcessInfo.processInfo.environment
    environment["CAMAGENT_FIRMWARE_TOOL"] = Repo.binary("camagent-firmware")
    for (key, value) in extra { environment[key] = value }
    process.environment = environment
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fwtest-run-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let out = directory.appendingPathComponent("out"), err = directory.appendingPathComponent("err")
    _ = FileManager.default.createFile(atPath: out.path, contents: nil)
    _ = FileManager.default.createFile(atPath: err.path, contents: nil)
    process.standardOutput = try FileHandle(forWritingTo: out)
    process.standardError = try FileHandle(forWritingTo: err)
    process.standardInput = FileHandle.nullDevice
    try process.run()
    let deadline = Date().addingTimeInterval(timeout)
    while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
    if process.isRunning {
        process.terminate()
        Thread.sleep(forTimeInterval: 1)
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
    process.waitUntilExit()
    return Output(status: process.terminationStatus,
                  stdout: (try? String(contentsOf: out, encoding: .utf8)) ?? "",
                  stderr: (try? String(contentsOf: err, encoding: .utf8)) ?? "")
}

/// `Scripts/firmware ARGS` as a vendor runs it (the tool from this build).
func firmware(_ arguments: [String], timeout: TimeInterval = 300) throws -> Output {
    try run(Repo.path("Scripts/firmware"), arguments, timeout: timeout)
}

func shell(_ command: String, timeout: TimeInterval = 120) throws -> Output {
    try run("/bin/bash", ["-c", command], timeout: timeout)
}

/// A private scratch directory, removed by `remove()`.
struct Scratch {
    let url: URL
    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("fwtest-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    func path(_ name: String) -> String { url.appendingPathComponent(name).path }
    func write(_ name: String, _ text: String) throws { try text.write(toFile: path(name), atomically: true, encoding: .utf8) }
    func remove() { try? FileManager.default.removeItem(at: url) }
}

func mode(of path: String) -> Int? {
    (try? FileManager.default.attributesOfItem(atPath: path))?[.posixPermissions] as? Int
}

func sha256(_ path: String) throws -> String {
    let result = try run("/usr/bin/sha256sum", [path])
    return String(result.stdout.prefix(64))
}

/// A stand-in agent binary for packaging tests: a static ELF header of the
/// given machine, padded to `size`. (The boot test uses the real agent.)
func fakeAgent(machine: UInt16, bigEndian: Bool = false, is64Bit: Bool = false, size: Int) -> [UInt8] {
    var bytes = [UInt8](repeating: 0, count: max(size, 64))
    bytes[0...3] = [0x7F, 0x45, 0x4C, 0x46]
    bytes[4] = is64Bit ? 2 : 1
    bytes[5] = bigEndian ? 2 : 1
    bytes[6] = 1
    bytes[16] = 2  // ET_EXEC
    if bigEndian { bytes[18] = UInt8(machine >> 8); bytes[19] = UInt8(machine & 0xFF) } else { bytes[18] = UInt8(machine & 0xFF); bytes[19] = UInt8(machine >> 8) }
    return bytes  // no program headers: phnum 0, so no PT_INTERP
}

let testCA = """
    -----BEGIN CERTIFICATE-----
    MIIBfzCCASWgAwIBAgIUZm9yLXRlc3RzLW9ubHktbm90LWEtY2EwCgYIKoZIzj0EAwIw
    -----END CERTIFICATE-----

    """

var isRoot: Bool { getuid() == 0 }
