import Foundation

/// A problem the operator can fix; printed as one line, never with a stack trace.
struct FirmwareError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// One board, read from `Firmware/boards/NAME.board` (format: Firmware/boards/README.md).
struct BoardProfile: Equatable {
    enum AgentType: String { case camera, router }
    enum InitSystem: String { case busyboxRCS = "busybox-rcs", procd }

    static let cpuTargets = ["x86_64", "armv5", "armv7", "armv7hf", "aarch64", "mipsel", "mips"]

    var name: String
    var description: String
    var cpuTarget: String
    var agentType: AgentType
    var initSystem: InitSystem
    var installPath: String
    var configPath: String
    var caPath: String
    var stateFile: String
    var flashBudget: Int
    var model: String
    var firmware: String?
    var rtspPort: Int?
    var httpPort: Int?
    var cameraRTSPPort: Int?
    var cameraHTTPPort: Int?
    var rtspPath: String
    var snapshotPath: String
    var initScriptName: String
    var pidDirectory: String
    var logTo: String
    var opkgArch: String?
    var rootfsOffset: Int
    var rootfsSize: Int

    private static let required = ["name", "description", "cpu_target", "agent_type", "init_system", "install_path",
                                   "config_path", "ca_path", "state_file", "flash_budget", "model",
                                   "rtsp_path", "snapshot_path", "rootfs_offset", "rootfs_size"]
    private static let optional = ["firmware", "rtsp_port", "http_port", "camera_rtsp_port", "camera_http_port",
                                   "init_script_name", "pid_dir", "log_to", "opkg_arch"]

    /// The profiles shipped with the repository.
    static var boardsDirectory: String {
        if let dir = ProcessInfo.processInfo.environment["CAMAGENT_BOARDS_DIR"] { return dir }
        // Firmware/Tool/BoardProfile.swift -> Firmware/boards
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("boards").path
    }

    static func availableNames(in directory: String = boardsDirectory) -> [String] {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return files.filter { $0.hasSuffix(".board") }.map { String($0.dropLast(6)) }.sorted()
    }

    /// `--board` takes a name from Firmware/boards or a path to a .board file.
    static func load(_ nameOrPath: String, directory: String = boardsDirectory) throws -> BoardProfile {
        let path: String
        if nameOrPath.contains("/") || nameOrPath.hasSuffix(".board") {
            path = nameOrPath
        } else {
            path = "\(directory)/\(nameOrPath).board"
            guard FileManager.default.fileExists(atPath: path) else {
                let known = availableNames(in: directory).joined(separator: ", ")
                throw FirmwareError("unknown board '\(nameOrPath)'; known boards: \(known) (Firmware/boards/README.md tells how to add one)")
            }
        }
        guard let data = FileManager.default.contents(atPath: path) else { throw FirmwareError("cannot read board profile \(path)") }
        guard let text = String(data: data, encoding: .utf8) else { throw FirmwareError("\(path): not UTF-8 text") }
        let profile = try parse(text, path: path)
        let fileName = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
        guard profile.name == fileName else {
            throw FirmwareError("\(path): name = \(profile.name) but the file is \(fileName).board; they must match")
        }
        return profile
    }

    static func parse(_ text: String, path: String) throws -> BoardProfile {
        var values: [String: (value: String, line: Int)] = [:]
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var line = Substring(rawLine)
            if let hash = line.firstIndex(of: "#") { line = line[..<hash] }
            let trimmed = line.trimmingCharacters(in: .whitespaces.union(CharacterSet(charactersIn: "\r")))
            if trimmed.isEmpty { continue }
            func fail(_ problem: String) -> FirmwareError { FirmwareError("\(path) line \(index + 1): \(problem)") }
            guard let equals = trimmed.firstIndex(of: "=") else { throw fail("expected 'key = value'") }
            let key = trimmed[..<equals].trimmingCharacters(in: .whitespaces)
            let value = trimmed[trimmed.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            guard (required + optional).contains(key) else { throw fail("\(key): unknown key (Firmware/boards/README.md lists the keys)") }
            guard !value.isEmpty else { throw fail("\(key): value is empty") }
            guard values[key] == nil else { throw fail("\(key): given twice") }
            values[key] = (value, index + 1)
        }
        for key in required where values[key] == nil { throw FirmwareError("\(path): \(key): missing") }
        func fail(_ key: String, _ problem: String) -> FirmwareError {
            FirmwareError("\(path) line \(values[key]?.line ?? 0): \(key): \(problem)")
        }
        func string(_ key: String) -> String? { values[key]?.value }
        func absolutePath(_ key: String) throws -> String {
            let value = string(key)!
            guard value.hasPrefix("/"), !value.contains(" "), !value.contains("'"), !value.hasSuffix("/") else {
                throw fail(key, "must be an absolute path to a file, without spaces or quotes")
            }
            return value
        }
        func size(_ key: String) throws -> Int? {
            guard let value = string(key) else { return nil }
            guard let number = parseSize(value) else { throw fail(key, "'\(value)' is not a size (decimal, 0x hex, optional K or M)") }
            return number
        }
        func port(_ key: String) throws -> Int? {
            guard let value = string(key) else { return nil }
            guard let number = Int(value), (1...65535).contains(number) else { throw fail(key, "must be a port from 1 to 65535") }
            return number
        }
        func urlPath(_ key: String) throws -> String {
            let value = string(key)!
            guard value.hasPrefix("/"), !value.contains(","), !value.contains(" ") else { throw fail(key, "must start with / and contain no spaces or commas") }
            return value
        }

        let name = string("name")!
        guard name.range(of: "^[a-z0-9][a-z0-9._-]{0,47}$", options: .regularExpression) != nil else {
            throw fail("name", "must be 1-48 characters of a-z 0-9 . _ - (it is used in file names)")
        }
        let cpu = string("cpu_target")!
        guard cpuTargets.contains(cpu) else { throw fail("cpu_target", "'\(cpu)' is not one of \(cpuTargets.joined(separator: ", "))") }
        guard let agentType = AgentType(rawValue: string("agent_type")!) else { throw fail("agent_type", "must be camera or router") }
        guard let initSystem = InitSystem(rawValue: string("init_system")!) else { throw fail("init_system", "must be busybox-rcs or procd") }
        let budget = try size("flash_budget")!
        guard budget > 0 else { throw fail("flash_budget", "must be more than 0") }
        for key in ["model", "firmware"] {
            if let value = string(key), value.utf8.count > 64 || value.contains(",") {
                throw fail(key, "at most 64 bytes, no commas")
            }
        }

        var profile = BoardProfile(
            name: name, description: string("description")!, cpuTarget: cpu, agentType: agentType, initSystem: initSystem,
            installPath: try absolutePath("install_path"), configPath: try absolutePath("config_path"),
            caPath: try absolutePath("ca_path"), stateFile: try absolutePath("state_file"), flashBudget: budget,
            model: string("model")!, firmware: string("firmware"),
            rtspPort: try port("rtsp_port"), httpPort: try port("http_port"),
            cameraRTSPPort: try port("camera_rtsp_port"), cameraHTTPPort: try port("camera_http_port"),
            rtspPath: try urlPath("rtsp_path"), snapshotPath: try urlPath("snapshot_path"),
            initScriptName: string("init_script_name") ?? (initSystem == .procd ? "camagent" : "S95camagent"),
            pidDirectory: string("pid_dir") ?? "/var/run", logTo: string("log_to") ?? "/dev/console",
            opkgArch: string("opkg_arch"),
            rootfsOffset: try size("rootfs_offset")!, rootfsSize: try size("rootfs_size")!)
        guard profile.rootfsSize > 0 else { throw fail("rootfs_size", "must be more than 0") }
        guard profile.initScriptName.range(of: "^[A-Za-z0-9._-]+$", options: .regularExpression) != nil else {
            throw fail("init_script_name", "must be a plain file name")
        }
        switch agentType {
        case .camera:
            guard profile.rtspPort != nil, profile.httpPort != nil else {
                throw FirmwareError("\(path): a camera profile needs rtsp_port and http_port")
            }
        case .router:
            guard profile.cameraRTSPPort != nil, profile.cameraHTTPPort != nil else {
                throw FirmwareError("\(path): a router profile needs camera_rtsp_port and camera_http_port")
            }
        }
        if initSystem == .procd {
            guard let arch = profile.opkgArch, arch.range(of: "^[a-z0-9_]+$", options: .regularExpression) != nil else {
                throw FirmwareError("\(path): a procd profile needs opkg_arch (e.g. mipsel_24kc) for its .ipk")
            }
        }
        profile.pidDirectory = profile.pidDirectory.hasSuffix("/") ? String(profile.pidDirectory.dropLast()) : profile.pidDirectory
        return profile
    }

    /// Where the state file's directory is: the init script creates it.
    var stateDirectory: String { URL(fileURLWithPath: stateFile).deletingLastPathComponent().path }
}

/// "400K", "5120K", "16M", "0x250000", "4096".
func parseSize(_ text: String) -> Int? {
    var digits = Substring(text)
    var multiplier = 1
    if let last = digits.last, "KkMm".contains(last) {
        multiplier = "Kk".contains(last) ? 1024 : 1024 * 1024
        digits = digits.dropLast()
    }
    let value: Int?
    if digits.hasPrefix("0x") || digits.hasPrefix("0X") {
        value = Int(digits.dropFirst(2), radix: 16)
    } else {
        value = digits.allSatisfy(\.isNumber) ? Int(digits) : nil
    }
    guard let value, value >= 0 else { return nil }
    let (product, overflow) = value.multipliedReportingOverflow(by: multiplier)
    return overflow ? nil : product
}

/// 406236 -> "406,236 bytes (397 KiB)".
func describeBytes(_ count: Int) -> String {
    let formatter = NumberFormatter()
    formatter.numberStyle = .decimal
    formatter.groupingSeparator = ","
    formatter.usesGroupingSeparator = true
    let text = formatter.string(from: NSNumber(value: count)) ?? "\(count)"
    return "\(text) bytes (\((count + 1023) / 1024) KiB)"
}
