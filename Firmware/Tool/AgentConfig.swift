import CamCore
import CamProtocol

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

    /// The agent's `target` lines. The camera's own RTSP target carries the
    /// board's `rtsp_path`, which the streampoint's media pull asks for.
    var targets: [String] {
        switch board.agentType {
        case .camera:
            return ["rtsp=127.0.0.1:\(board.rtspPort!)\(board.rtspPath)", "http=127.0.0.1:\(board.httpPort!)"]
        case .router:
            return cameras.flatMap { camera in
                ["\(camera.name)-rtsp=\(camera.host):\(board.cameraRTSPPort!)",
                 "\(camera.name)-http=\(camera.host):\(board.cameraHTTPPort!)"]
            }
        }
    }

    var targetNames: [String] { targets.map { String($0.prefix { $0 != "=" }) } }

    /// The camera's two targets are NAME-rtsp and NAME-http, and target names stop at 32.
    static let maxCameraName = 27

    static func parseCamera(_ text: String) throws -> (name: String, host: String) {
        let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
        guard parts.count == 2, Identifier.isValid(parts[0]), parts[0].utf8.count <= maxCameraName, !parts[1].isEmpty else {
            throw FirmwareError("--camera \(text.prefix(80)): expected NAME=HOST (NAME 1-\(maxCameraName) characters of A-Z a-z 0-9 . _ -)")
        }
        return (parts[0], parts[1])
    }

    /// The agent's own parser judges every config this tool writes, so the
    /// factory can never flash a file the agent refuses at boot (and the two
    /// can never disagree about what a valid endpoint or target is).
    static func checkWithAgentParser(_ text: String, what: String) throws {
        do {
            _ = try ConfigParser.parse(text)
        } catch {
            throw FirmwareError("\(what) would be refused by the agent: \(error.description)")
        }
    }

    /// `forProvisioning` false: an overlay's default config, which may leave the
    /// endpoints and a router's cameras to provisioning; what it names is still
    /// judged by the agent's parser.
    func validate(forProvisioning: Bool = true) throws {
        guard !endpoints.isEmpty || !forProvisioning else { throw FirmwareError("give at least one --endpoint https://host[:port]") }
        guard endpoints.count <= 8 else { throw FirmwareError("at most 8 --endpoint") }
        for endpoint in endpoints {
            if endpoint.hasPrefix("http://") && !allowPlaintext {
                throw FirmwareError("--endpoint \(endpoint) is plain http://: the agent refuses it unless --allow-plaintext (lab use only)")
            }
        }
        switch board.agentType {
        case .camera:
            guard cameras.isEmpty else { throw FirmwareError("--camera is for router boards; \(board.name) is a camera") }
        case .router:
            guard !cameras.isEmpty || !forProvisioning else {
                throw FirmwareError("board \(board.name) is a router: name its LAN cameras with --camera NAME=HOST (repeatable, at most 8)")
            }
            guard cameras.count <= 8 else { throw FirmwareError("at most 8 --camera (16 targets)") }
            guard Set(cameras.map(\.name)).count == cameras.count else { throw FirmwareError("--camera names must be unique") }
        }
        guard !endpoints.isEmpty else { return }
        // The overlay's own config has no identity yet, so the agent would refuse
        // it for that alone: judge it as the first provisioned unit will see it.
        let sample = Unit(serial: "SAMPLE", mac: nil, model: board.model, firmware: board.firmware,
                          activationSecret: String(repeating: "0", count: 64))
        try Self.checkWithAgentParser(render(unit: sample), what: "the config for board \(board.name) (--endpoint, --camera)")
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
