// Fuzz target: the agent's config parser (ConfigParser.parse) and the state
// file parser (StateFile.parse), fed the way the agent's Launcher feeds them:
// at most ConfigParser.maxFileBytes, strictly UTF-8. Beyond "no crash" it checks
// - an accepted config keeps the documented limits (docs/CONFIG.md);
// - an error names a line that exists, and an error about a device_key or
//   activation_secret line never repeats the secret (errors go to stderr);
// - with CRLF line endings instead of LF the result is the same;
// - an identity (from a config or a state file) survives StateFile.render -> parse.
import CamCore
import CamProtocol

func summary(_ config: AgentConfig) -> String {
    var text = ""
    if let identity = config.identity { text += "id=\(identity.agentID) key=\(Hex.encode(identity.deviceKey));" }
    if let factory = config.factory {
        text += "serial=\(factory.serial) mac=\(factory.mac) model=\(factory.model) fw=\(factory.firmware) secret=\(Hex.encode(factory.activationSecret));"
    }
    for endpoint in config.endpoints { text += "endpoint=\(endpoint.tls ? "tls:" : "")\(endpoint.display);" }
    for target in config.targets { text += "target=\(target.name)=\(target.host):\(target.port);" }
    text += "state=\(config.stateFile ?? "-") ca=\(config.caFile ?? "-") plain=\(config.allowPlaintext) log=\(config.logLevel.label)"
    text += " tunnels=\(config.maxTunnels) backoff=\(config.backoffInitialMs)..\(config.backoffMaxMs)"
    return text
}

func parseSummary(_ text: String) -> String {
    do { return "ok " + summary(try ConfigParser.parse(text)) } catch { return "error " + error.description }
}

func checkLimits(_ config: AgentConfig) {
    require((1...8).contains(config.endpoints.count), "\(config.endpoints.count) endpoints accepted")
    require((1...ProtocolConstants.maxTargets).contains(config.targets.count), "\(config.targets.count) targets accepted")
    require((1...64).contains(config.maxTunnels), "max_tunnels \(config.maxTunnels) accepted")
    require(config.backoffInitialMs >= 100 && config.backoffInitialMs <= config.backoffMaxMs, "backoff \(config.backoffInitialMs)..\(config.backoffMaxMs) accepted")
    require((config.identity == nil) != (config.factory == nil), "config must have exactly one of identity and factory identity")
    if let identity = config.identity {
        require(Identifier.isValid(identity.agentID), "invalid agent id accepted")
        require((16...64).contains(identity.deviceKey.count), "device key of \(identity.deviceKey.count) bytes accepted")
    }
    if let factory = config.factory {
        require(config.stateFile != nil, "factory unit without a state file accepted")
        require((16...64).contains(factory.activationSecret.count), "activation secret of \(factory.activationSecret.count) bytes accepted")
    }
    for endpoint in config.endpoints {
        require(endpoint.port != 0 && !endpoint.host.isEmpty, "endpoint \(endpoint.display) accepted")
        require(endpoint.tls || config.allowPlaintext, "plain endpoint accepted without allow_plaintext")
        require(!endpoint.tls || config.caFile != nil, "https endpoint accepted without ca_file")
    }
    for (index, target) in config.targets.enumerated() {
        require(target.port != 0 && !target.host.isEmpty, "target \(target.name) with empty host or port 0 accepted")
        for other in config.targets[..<index] { require(other.name != target.name, "duplicate target name \(target.name) accepted") }
    }
    for path in [config.stateFile, config.caFile].compactMap({ $0 }) { require(path.hasPrefix("/"), "relative path \(path) accepted") }
}

/// Hex runs of 32+ digits (a 16-byte secret or longer) on line `number` (1-based,
/// counted as ConfigParser counts) if that line names a secret key.
func secretsWritten(onLine number: Int, of text: String) -> [String] {
    let lines = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
    guard number >= 1 && number <= lines.count else { return [] }
    let line = lines[number - 1].drop { $0 == " " || $0 == "\t" }
    guard line.hasPrefix("device_key") || line.hasPrefix("activation_secret") else { return [] }
    var secrets: [String] = []
    var run = ""
    for character in line.dropFirst(10) + " " {
        if character.isHexDigit && character.isASCII {
            run.append(character)
        } else {
            if run.count >= 32 { secrets.append(run) }
            run = ""
        }
    }
    return secrets
}

func checkStateFileRoundTrip(_ state: AgentState) {
    let rendered = StateFile.render(state)
    require(StateFile.parse(rendered) == state, "StateFile.render -> parse loses part of the state")
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConfig(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = fuzzInput(data, size)
    guard input.count <= ConfigParser.maxFileBytes, let text = decodeUTF8(input) else { return 0 }

    var lineCount = 1
    for byte in input where byte == 10 { lineCount += 1 }
    do {
        let config = try ConfigParser.parse(text)
        checkLimits(config)
        if let identity = config.identity {
            checkStateFileRoundTrip(AgentState(identity: identity, endpoints: config.endpoints))
        }
    } catch {
        require(error.line >= 0 && error.line <= lineCount, "error names line \(error.line) of a \(lineCount)-line file")
        require(!error.description.isEmpty, "empty error description")
        for secret in secretsWritten(onLine: error.line, of: text) {
            require(!error.description.contains(secret), "error message repeats a secret: \(error.description)")
        }
    }

    if !input.contains(13) {
        var crlf: [UInt8] = []
        for byte in input {
            if byte == 10 { crlf.append(13) }
            crlf.append(byte)
        }
        if crlf.count <= ConfigParser.maxFileBytes, let crlfText = decodeUTF8(crlf) {
            let lf = parseSummary(text), dos = parseSummary(crlfText)
            require(lf == dos, "CRLF changes the result: [\(lf)] vs [\(dos)]")
        }
    }

    if let state = StateFile.parse(text) {
        if let identity = state.identity {
            require(Identifier.isValid(identity.agentID) && (16...64).contains(identity.deviceKey.count), "state file with invalid identity accepted")
        }
        require(state.endpoints.count <= ProtocolConstants.maxEndpoints, "state file with too many endpoints accepted")
        for endpoint in state.endpoints + state.configEndpointAddresses {
            require(endpoint.knownAddress.map(isNumericAddress) ?? true, "state file with a non-numeric known address accepted")
        }
        checkStateFileRoundTrip(state)
    }
    return 0
}
