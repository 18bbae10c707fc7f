/// The agent's config file (docs/CONFIG.md), as the overlay's default config
/// and as each provisioned unit's config.
struct AgentConfig {
    struct Unit {
        var serial: String
        var mac: String?
        var model: String
        var firmware: String?
        /// Hex.
        var activationSecret: String
    }

    var board: BoardProfile
    var endpoints: [String]
    var allowPlaintext: Bool
    /// Router boards: NAME=HOST of each LAN camera.
    var cameras: [(name: String, host: String)]

    /// The agent's `target` lines.
    var targets: [String] {
        switch board.agentType {
        case .camera:
            return ["rtsp=127.0.0.1:\(board.rtspPort!)", "http=127.0.0.1:\(board.httpPort!)"]
        case .router:
            return cameras.flatMap { camera in
                ["\(camera.name)-rtsp=\(camera.host):\(board.cameraRTSPPort!)",
                 "\(camera.name)-http=\(camera.host):\(board.cameraHTTPPort!)"]
            }
        }
    }

    var targetNames: [String] { targets.map { String($0.prefix { $0 != "=" }) } }

    static func validate(endpoint: String) throws {
        let pattern = #"^https?://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)(:[0-9]{1,5})?/?$"#
        guard endpoint.range(of: pattern, options: .regularExpression) != nil else {
            throw FirmwareError("--endpoint \(endpoint): expected https://host[:port] (http:// only with --allow-plaintext)")
        }
    }

    static func parseCamera(_ text: String) throws -> (name: String, host: String) {
        let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
        guard parts.count == 2, parts[0].range(of: "^[A-Za-z0-9._-]{1,27}$", options: .regularExpression) != nil,
              parts[1].range(of: #"^[A-Za-z0-9._:-]{1,253}$"#, options: .regularExpression) != nil else {
            throw FirmwareError("--camera \(text): expected NAME=HOST (NAME 1-27 characters of A-Z a-z 0-9 . _ -)")
        }
        return (parts[0], parts[1])
    }

    func validate() throws {
        guard !endpoints.isEmpty else { throw FirmwareError("give at least one --endpoint https://host[:port]") }
        guard endpoints.count <= 8 else { throw FirmwareError("at most 8 --endpoint") }
        for endpoint in endpoints {
            try Self.validate(endpoint: endpoint)
            if endpoint.hasPrefix("http://") && !allowPlaintext {
                throw FirmwareError("--endpoint \(endpoint) is plain http://: the agent refuses it unless --allow-plaintext (lab use only)")
            }
        }
        switch board.agentType {
        case .camera:
            guard cameras.isEmpty else { throw FirmwareError("--camera is for router boards; \(board.name) is a camera") }
        case .router:
            guard !cameras.isEmpty else {
                throw FirmwareError("board \(board.name) is a router: name its LAN cameras with --camera NAME=HOST (repeatable, at most 8)")
            }
            guard cameras.count <= 8 else { throw FirmwareError("at most 8 --camera (16 targets)") }
            guard Set(cameras.map(\.name)).count == cameras.count else { throw FirmwareError("--camera names must be unique") }
        }
    }

    /// The config file: `unit` nil gives the overlay's default config, which
    /// has no identity yet (the agent refuses it until provisioning adds one).
    func render(unit: Unit?) -> String {
        var lines = ["# camagent config for board \(board.name) (docs/CONFIG.md); written by camagent-firmware."]
        if let unit {
            lines += ["serial = \(unit.serial)"]
            if let mac = unit.mac { lines += ["mac = \(mac)"] }
            lines += ["model = \(unit.model)"]
            if let firmware = unit.firmware { lines += ["firmware = \(firmware)"] }
            lines += ["activation_secret = \(unit.activationSecret)"]
        } else {
            lines += ["# Not provisioned: `Scripts/firmware provision` writes each unit's serial and",
                      "# activation_secret. Until then the agent refuses this file and does not start."]
        }
        lines += ["state_file = \(board.stateFile)"]
        lines += endpoints.map { "endpoint = \($0)" }
        if endpoints.contains(where: { $0.hasPrefix("https://") }) { lines += ["ca_file = \(board.caPath)"] }
        if allowPlaintext { lines += ["allow_plaintext = yes   # lab use only: plain-TCP links are not encrypted"] }
        lines += targets.map { "target = \($0)" }
        return lines.joined(separator: "\n") + "\n"
    }
}
