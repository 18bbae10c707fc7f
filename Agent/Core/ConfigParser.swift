import CamProtocol

/// One problem in a config file, phrased for the person who wrote it.
public struct ConfigError: Error, Equatable, Sendable {
    public var line: Int  // 0 when the problem is the file as a whole
    public var key: String
    public var problem: String

    public var description: String {
        line > 0 ? "line \(line): \(key): \(problem)" : "\(key): \(problem)"
    }
}

/// Parses the agent's `key = value` config. Unknown keys are errors: a typo in
/// firmware config must fail loudly at the factory, not silently in the field.
public enum ConfigParser {
    public static let maxFileBytes = 16 * 1024

    public static func parse(_ text: String) throws(ConfigError) -> AgentConfig {
        var agentID: String?
        var deviceKey: [UInt8]?
        var endpoints: [ServerAddress] = []
        var targets: [TunnelTarget] = []
        var logLevel = LogLevel.info
        var caFile: String?
        var serial: String?
        var mac = ""
        var model = ""
        var firmware = ""
        var activationSecret: [UInt8]?
        var stateFile: String?
        var allowPlaintext: Bool?
        var firstPlainEndpointLine = 0
        // The integer keys, indexed by ConfigKey.integerSlot.
        var integers: [Int64] = ConfigKey.integerKeys.map { $0.default }
        var rebootCommand: String?
        var resolvConfFile: String?
        var hostsFile: String?
        var lineNumber = 0

        // Cut at LF; a CRLF file's CR goes with the trimming.
        for rawLine in splitText(text, at: 10) {
            lineNumber += 1
            let line = stripComment(trimmed(rawLine, carriageReturnsToo: true))
            if line.isEmpty { continue }
            let halves = splitText(line, at: 0x3D, maxSplits: 1)
            guard halves.count == 2 else {
                // Only the leading key-like word: the rest may be a device key missing its "=".
                throw ConfigError(line: lineNumber, key: leadingKeyName(line), problem: "expected 'key = value'")
            }
            let key = trimmed(halves[0], carriageReturnsToo: true)
            let value = trimmed(halves[1], carriageReturnsToo: true)
            // Named by its key-like start: an unknown "key" may hold a secret ("device_key: <hex> = ...").
            func fail(_ problem: String) -> ConfigError { ConfigError(line: lineNumber, key: leadingKeyName(key), problem: problem) }
            if value.isEmpty { throw fail("value is empty") }
            guard let known = ConfigKey(named: key) else { throw fail("unknown key") }
            if let slot = known.integerSlot {
                let limits = ConfigKey.integerKeys[slot]
                guard let n = parseInteger(value), n >= limits.min, n <= limits.max else { throw fail(limits.problem) }
                integers[slot] = n
                continue
            }
            switch known {
            case .agentID:
                guard agentID == nil else { throw fail("given twice") }
                agentID = try parseIdentifier(value, fail: fail)
            case .deviceKey:
                guard deviceKey == nil else { throw fail("given twice") }
                deviceKey = try parseSecret(value, fail: fail)
            case .endpoint:
                guard endpoints.count < 8 else { throw fail("at most 8 endpoints") }
                let address = try parseServerURL(value, fail: fail)
                if !address.tls && firstPlainEndpointLine == 0 { firstPlainEndpointLine = lineNumber }
                endpoints.append(address)
            case .serial:
                guard serial == nil else { throw fail("given twice") }
                serial = try parseIdentifier(value, fail: fail)
            case .mac:
                guard value.utf8.count <= 32 else { throw fail("too long") }
                mac = value
            case .model:
                guard value.utf8.count <= 64 else { throw fail("too long") }
                model = value
            case .firmware:
                guard value.utf8.count <= 64 else { throw fail("too long") }
                firmware = value
            case .activationSecret:
                guard activationSecret == nil else { throw fail("given twice") }
                activationSecret = try parseSecret(value, fail: fail)
            case .stateFile:
                guard stateFile == nil else { throw fail("given twice") }
                stateFile = try parseAbsolutePath(value, fail: fail)
            case .caFile:
                guard caFile == nil else { throw fail("given twice") }
                caFile = try parseAbsolutePath(value, fail: fail)
            case .allowPlaintext:
                guard allowPlaintext == nil else { throw fail("given twice") }
                switch value {
                case "yes", "true": allowPlaintext = true
                case "no", "false": allowPlaintext = false
                default: throw fail("must be yes or no")
                }
            case .target:
                guard targets.count < ProtocolConstants.maxTargets else {
                    throw fail("at most \(ProtocolConstants.maxTargets) targets")
                }
                let target = try parseTarget(value, fail: fail)
                for existing in targets where existing.name == target.name { throw fail("target name '\(target.name)' given twice") }
                targets.append(target)
            case .logLevel:
                switch value {
                case "debug": logLevel = .debug
                case "info": logLevel = .info
                case "warn": logLevel = .warn
                case "error": logLevel = .error
                default: throw fail("must be debug, info, warn or error")
                }
            case .rebootCommand:
                guard rebootCommand == nil else { throw fail("given twice") }
                guard value.utf8.first == 0x2F else { throw fail("must start with an absolute path (no shell is used)") }
                guard value.utf8.count <= 256 else { throw fail("longer than 256 bytes") }
                rebootCommand = value
            case .resolvConf, .hostsFile:
                // Last wins, as for log_level: one throw site less in this function (armv5 bytes).
                let path = try parseAbsolutePath(value, fail: fail)
                if known == .resolvConf { resolvConfFile = path } else { hostsFile = path }
            case .maxTunnels, .backoffInitialMs, .backoffMaxMs, .mainEndpointRecheckMs, .switchGraceMs, .bootJitterMs:
                break  // handled above
            }
        }

        var identity: AgentIdentity?
        var factory: FactoryIdentity?
        if agentID != nil || deviceKey != nil {
            guard let agentID else { throw ConfigError(line: 0, key: "agent_id", problem: "missing (device_key is given)") }
            guard let deviceKey else { throw ConfigError(line: 0, key: "device_key", problem: "missing (agent_id is given)") }
            identity = AgentIdentity(agentID: agentID, deviceKey: deviceKey)
        } else if let activationSecret {
            guard let serial else { throw ConfigError(line: 0, key: "serial", problem: "missing (activation needs it)") }
            guard stateFile != nil else {
                throw ConfigError(line: 0, key: "state_file", problem: "missing (activation stores the issued identity there)")
            }
            factory = FactoryIdentity(serial: serial, mac: mac, model: model, firmware: firmware,
                                      activationSecret: activationSecret)
        } else {
            throw ConfigError(line: 0, key: "agent_id",
                              problem: "missing (give agent_id and device_key, or serial, activation_secret and state_file)")
        }
        guard !endpoints.isEmpty else { throw ConfigError(line: 0, key: "endpoint", problem: "missing (at least one)") }
        guard !targets.isEmpty else { throw ConfigError(line: 0, key: "target", problem: "missing (at least one)") }
        if firstPlainEndpointLine > 0 && allowPlaintext != true {
            throw ConfigError(line: firstPlainEndpointLine, key: "endpoint",
                              problem: "plain http:// needs allow_plaintext = yes (lab use only); use https://")
        }
        var usesTLS = false
        for endpoint in endpoints where endpoint.tls { usesTLS = true }
        if usesTLS && caFile == nil {
            throw ConfigError(line: 0, key: "ca_file", problem: "missing (https endpoints need the CA bundle)")
        }
        let maxTunnels = integers[ConfigKey.maxTunnels.integerSlot!]
        let backoffInitial = integers[ConfigKey.backoffInitialMs.integerSlot!]
        let backoffMax = integers[ConfigKey.backoffMaxMs.integerSlot!]
        guard backoffMax >= backoffInitial else {
            throw ConfigError(line: 0, key: "backoff_max_ms", problem: "must not be below backoff_initial_ms")
        }
        var config = AgentConfig(identity: identity, endpoints: endpoints, targets: targets)
        config.factory = factory
        config.stateFile = stateFile
        config.logLevel = logLevel
        config.caFile = caFile
        config.allowPlaintext = allowPlaintext ?? false
        config.maxTunnels = Int(maxTunnels)
        config.backoffInitialMs = backoffInitial
        config.backoffMaxMs = backoffMax
        config.mainEndpointRecheckMs = integers[ConfigKey.mainEndpointRecheckMs.integerSlot!]
        config.switchGraceMs = integers[ConfigKey.switchGraceMs.integerSlot!]
        config.bootJitterMs = integers[ConfigKey.bootJitterMs.integerSlot!]
        config.rebootCommand = rebootCommand
        if let resolvConfFile { config.resolvConfFile = resolvConfFile }
        if let hostsFile { config.hostsFile = hostsFile }
        return config
    }

    /// `https://host[:port][/]`, or `http://` for plain TCP. On the UTF-8
    /// bytes: String's hasPrefix, dropFirst and contains work on Characters and
    /// link grapheme breaking (kilobytes on armv5).
    static func parseServerURL(_ value: String, fail: (String) -> ConfigError) throws(ConfigError) -> ServerAddress {
        let bytes = Array(value.utf8)
        let tls = bytesMatch(bytes[...], "https://", whole: false)
        guard tls || bytesMatch(bytes[...], "http://", whole: false) else {
            throw fail("must start with https:// (or http:// for lab use)")
        }
        var rest = bytes[(tls ? 8 : 7)...]
        if rest.last == 0x2F { rest = rest[rest.startIndex..<(rest.endIndex - 1)] }
        for byte in rest where byte == 0x2F { throw fail("must not have a path") }
        guard let (host, port) = splitHostPort(String(decoding: rest, as: UTF8.self), defaultPort: tls ? 443 : 80) else {
            throw fail("'\(value)' is not http(s)://host[:port]")
        }
        return ServerAddress(host: host, port: port, tls: tls)
    }

    /// Keys and secrets: 16 to 64 bytes written as hex.
    static let secretSizes = 16...64

    static func parseSecret(_ value: String, fail: (String) -> ConfigError) throws(ConfigError) -> [UInt8] {
        guard let bytes = Hex.decode(value) else { throw fail("must be hexadecimal") }
        guard secretSizes.contains(bytes.count) else { throw fail("must be 16 to 64 bytes (32 to 128 hex digits)") }
        return bytes
    }

    static func parseIdentifier(_ value: String, fail: (String) -> ConfigError) throws(ConfigError) -> String {
        guard Identifier.isValid(value) else { throw fail("must be 1-64 characters of A-Z a-z 0-9 . _ -") }
        return value
    }

    static func parseAbsolutePath(_ value: String, fail: (String) -> ConfigError) throws(ConfigError) -> String {
        guard value.utf8.first == 0x2F else { throw fail("must be an absolute path") }
        return value
    }

    /// `name=host:port[/path]`: the path, from the first `/` on (a host never
    /// has one), is what the media pull asks the camera for.
    static func parseTarget(_ value: String, fail: (String) -> ConfigError) throws(ConfigError) -> TunnelTarget {
        let halves = splitText(value, at: 0x3D, maxSplits: 1)
        guard halves.count == 2 else { throw fail("must be name=host:port") }
        let name = trimmed(halves[0], carriageReturnsToo: true)
        let location = Array(trimmed(halves[1], carriageReturnsToo: true).utf8)
        guard Identifier.isValid(name), name.utf8.count <= 32 else { throw fail("target name must be 1-32 characters of A-Z a-z 0-9 . _ -") }
        // On the bytes, as splitHostPort: a splitText and "+", or a walk of String
        // indices with Substring copies, each measured 300-1000 bytes more on armv5.
        let slash = location.firstIndex(of: 0x2F) ?? location.endIndex
        let address = String(decoding: location[..<slash], as: UTF8.self)
        let path = String(decoding: location[slash...], as: UTF8.self)
        guard let (host, port) = splitHostPort(address, defaultPort: nil) else {
            throw fail("'\(address)' is not host:port")
        }
        // Not echoed: a camera's path may carry a secret in its query.
        guard path.isEmpty || RTSPPathSyntax.isValid(path) else {
            throw fail("RTSP path must be printable ASCII without spaces, at most 128 bytes")
        }
        return TunnelTarget(name: name, host: host, port: port, path: path)
    }

    /// On the UTF-8 bytes, like parseServerURL.
    static func splitHostPort(_ text: String, defaultPort: UInt16?) -> (String, UInt16)? {
        let bytes = Array(text.utf8)
        var host = bytes[...]
        var portText: ArraySlice<UInt8>?
        if bytes.first == 0x5B {
            guard let close = bytes.firstIndex(of: 0x5D) else { return nil }
            host = bytes[1..<close]
            if close + 1 < bytes.count {
                guard bytes[close + 1] == 0x3A else { return nil }
                portText = bytes[(close + 2)...]
            }
        } else if let colon = bytes.lastIndex(of: 0x3A) {
            host = bytes[..<colon]
            portText = bytes[(colon + 1)...]
        }
        // The same rule as host fields on the wire (PROTOCOL §3.2).
        let hostText = String(decoding: host, as: UTF8.self)
        guard HostSyntax.isValid(hostText) else { return nil }
        if let portText {
            guard let port = parseInteger(String(decoding: portText, as: UTF8.self)), port >= 1, port <= 65535 else { return nil }
            return (hostText, UInt16(port))
        }
        guard let defaultPort else { return nil }
        return (hostText, defaultPort)
    }

    /// The letters and underscores a line starts with (what a key name is made of), or "?".
    static func leadingKeyName(_ line: String) -> String {
        // Bytes, not Characters: Character.isLetter would link the Unicode property tables (20 KB).
        var bytes: [UInt8] = []
        for byte in line.utf8 {
            guard byte == 0x5F || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) else { break }
            bytes.append(byte)
        }
        // A secret glued to its key name ("device_keyabcdef...") must not come along.
        if bytesMatch(bytes[...], "device_key", whole: false) { return "device_key" }
        if bytesMatch(bytes[...], "activation_secret", whole: false) { return "activation_secret" }
        return bytes.isEmpty ? "?" : String(decoding: bytes, as: UTF8.self)
    }

    static func stripComment(_ line: String) -> String {
        let halves = splitText(line, at: 0x23, maxSplits: 1)
        guard halves.count == 2 else { return line }
        return trimmed(halves[0], carriageReturnsToo: true)
    }
}

/// The config file's keys (docs/CONFIG.md).
enum ConfigKey: UInt8 {
    case agentID, deviceKey, endpoint, serial, mac, model, firmware, activationSecret, stateFile, caFile
    case allowPlaintext, target, logLevel, rebootCommand, resolvConf, hostsFile
    case maxTunnels, backoffInitialMs, backoffMaxMs, mainEndpointRecheckMs, switchGraceMs, bootJitterMs

    var name: StaticString {
        switch self {
        case .agentID: "agent_id"
        case .deviceKey: "device_key"
        case .endpoint: "endpoint"
        case .serial: "serial"
        case .mac: "mac"
        case .model: "model"
        case .firmware: "firmware"
        case .activationSecret: "activation_secret"
        case .stateFile: "state_file"
        case .caFile: "ca_file"
        case .allowPlaintext: "allow_plaintext"
        case .target: "target"
        case .logLevel: "log_level"
        case .rebootCommand: "reboot_command"
        case .resolvConf: "resolv_conf"
        case .hostsFile: "hosts_file"
        case .maxTunnels: "max_tunnels"
        case .backoffInitialMs: "backoff_initial_ms"
        case .backoffMaxMs: "backoff_max_ms"
        case .mainEndpointRecheckMs: "main_endpoint_recheck_ms"
        case .switchGraceMs: "switch_grace_ms"
        case .bootJitterMs: "boot_jitter_ms"
        }
    }

    /// The key spelled `text`, by a linear search of the names. Neither
    /// `switch` on the String (a comparison call per case: several KB in
    /// parse) nor a String raw value (its init looks names up through a
    /// Dictionary, whose String hashing costs ~8 KB on armv5).
    init?(named text: String) {
        var raw: UInt8 = 0
        while let key = ConfigKey(rawValue: raw) {
            let name = key.name
            if text.utf8.elementsEqual(UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount)) {
                self = key
                return
            }
            raw += 1
        }
        return nil
    }

    /// Whole-number keys: allowed range, the message when outside it, the default.
    static let integerKeys: [(min: Int64, max: Int64, problem: String, default: Int64)] = [
        (1, 64, "must be a number from 1 to 64", 8),
        (100, 60000, "must be 100 to 60000", 1000),
        (1000, 3_600_000, "must be 1000 to 3600000", 60000),
        (1000, 86_400_000, "must be 1000 to 86400000", 300_000),
        (0, 3_600_000, "must be 0 to 3600000", 30_000),
        (0, 600_000, "must be 0 to 600000", 3000),
    ]

    /// Index into integerKeys, nil for the other keys.
    var integerSlot: Int? {
        switch self {
        case .maxTunnels: 0
        case .backoffInitialMs: 1
        case .backoffMaxMs: 2
        case .mainEndpointRecheckMs: 3
        case .switchGraceMs: 4
        case .bootJitterMs: 5
        default: nil
        }
    }
}

func isAlphanumeric(_ byte: UInt8) -> Bool {
    (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
}

/// Decimal digits only (no sign, no spaces); nil on overflow past 10^12.
public func parseInteger(_ text: String) -> Int64? {
    guard !text.isEmpty, text.utf8.count <= 12 else { return nil }
    var value: Int64 = 0
    for byte in text.utf8 {
        guard byte >= 0x30, byte <= 0x39 else { return nil }
        value = value * 10 + Int64(byte - 0x30)
    }
    return value
}
