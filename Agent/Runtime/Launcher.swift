import CCamShim
import CamCore
import CamProtocol

/// Command-line handling for `camagent`. The only place the agent exits with an
/// error: a usage mistake or a broken config. Everything after start-up is
/// retried, never fatal.
public enum Launcher {
    public static let usage = """
        usage: camagent --config FILE [--check]
               camagent --version | --help

        camagent dials out to its endpoint (management server), authenticates with
        its device key, registers with the streampoint (streaming server) the
        endpoint names, and opens tunnels to the camera's local services on request.

          --config FILE   agent configuration (key = value lines; see docs/CONFIG.md)
          --check         validate the configuration and exit
          --version       print version and build target
          --help          print this text

        Exit status: 0 on a signal or after --check, 64 on a usage error,
        78 on a configuration error. Network failures are never fatal.

        """

    public static func main() -> Never {
        let arguments = commandLineArguments()
        var configPath: String?
        var checkOnly = false
        var index = 1
        while index < arguments.count {
            switch arguments[index] {
            case "--version", "-V":
                writeStdout("camagent \(AgentVersion.number) (\(BuildInfo.target))\n")
                cs_exit(0)
            case "--help", "-h":
                writeStdout(usage)
                cs_exit(0)
            case "--config", "-c":
                guard index + 1 < arguments.count else { usageError("--config needs a file") }
                configPath = arguments[index + 1]
                index += 1
            case "--check":
                checkOnly = true
            default:
                usageError("unknown argument '\(arguments[index])'")
            }
            index += 1
        }
        guard let configPath else { usageError("--config FILE is required") }
        let config = loadConfig(configPath)
        if let caFile = config.caFile { loadCertificateAuthorities(caFile) }
        if checkOnly {
            writeStdout("camagent: config \(configPath) is valid\n")
            cs_exit(0)
        }
        var runtime = AgentRuntime(config: config, state: loadState(config))
        runtime.run()
        cs_exit(0)
    }

    /// The identity from an earlier activation and the endpoint list last
    /// pushed. A missing file is normal for a fresh unit; an unreadable or
    /// corrupt one is reported and ignored (the unit activates again and uses
    /// its config's endpoints rather than staying offline).
    static func loadState(_ config: AgentConfig) -> AgentState {
        guard let stateFile = config.stateFile else { return AgentState() }
        var buffer = [UInt8](repeating: 0, count: 4096)
        var pathBytes = Array(stateFile.utf8)
        let n = pathBytes.withUnsafeMutableBufferPointer { pp in
            buffer.withUnsafeMutableBufferPointer { bp in cs_read_file(pp.baseAddress, pp.count, bp.baseAddress, bp.count) }
        }
        if n == -2 { return AgentState() }  // ENOENT: not activated yet
        guard n >= 0, let text = decodeUTF8(Array(buffer[0..<n])), var state = StateFile.parse(text) else {
            writeStderr("camagent: state file \(stateFile) is unreadable or corrupt; starting from the config alone\n")
            return AgentState()
        }
        // An identity fixed in the config wins over one in the state file.
        if config.identity != nil { state.identity = nil }
        return state
    }

    static func loadConfig(_ path: String) -> AgentConfig {
        var buffer = [UInt8](repeating: 0, count: ConfigParser.maxFileBytes)
        var pathBytes = Array(path.utf8)
        let n = pathBytes.withUnsafeMutableBufferPointer { pp in
            buffer.withUnsafeMutableBufferPointer { bp in cs_read_file(pp.baseAddress, pp.count, bp.baseAddress, bp.count) }
        }
        guard n >= 0 else {
            configError("cannot read \(path): \(n == Int(CS_ETOOBIG) ? "larger than \(ConfigParser.maxFileBytes) bytes" : errorText(n))")
        }
        guard let text = decodeUTF8(Array(buffer[0..<n])) else { configError("\(path): not valid UTF-8") }
        do {
            return try ConfigParser.parse(text)
        } catch {
            configError("\(path) \(error.description)")
        }
    }

    /// A CA bundle that cannot be read or parsed is a broken config: without it
    /// no server can ever be trusted.
    static func loadCertificateAuthorities(_ path: String) {
        var bytes = Array(path.utf8)
        let rc = bytes.withUnsafeMutableBufferPointer { cs_tls_configure($0.baseAddress, $0.count) }
        guard rc == 0 else {
            configError("ca_file \(path): \(Transport.plain(-1).errorText(Int(rc)))")
        }
    }

    static func commandLineArguments() -> [String] {
        var buffer = [UInt8](repeating: 0, count: 8192)
        let n = buffer.withUnsafeMutableBufferPointer { cs_command_line($0.baseAddress, $0.count) }
        guard n > 0 else { return [] }
        var arguments: [String] = []
        var current: [UInt8] = []
        for byte in buffer[0..<n] {
            if byte == 0 {
                arguments.append(decodeUTF8Lossy(current))
                current.removeAll()
            } else {
                current.append(byte)
            }
        }
        if !current.isEmpty { arguments.append(decodeUTF8Lossy(current)) }
        return arguments
    }

    static func usageError(_ text: String) -> Never {
        writeStderr("camagent: \(text)\n\(usage)")
        cs_exit(64)
    }

    static func configError(_ text: String) -> Never {
        writeStderr("camagent: config error: \(text)\n")
        cs_exit(78)
    }
}
