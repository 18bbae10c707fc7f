import ArgumentParser
import Foundation

struct FirmwareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "camagent-firmware",
        abstract: "Package camagent for a camera or router board: overlay, unit configs, patched flash images.",
        discussion: """
            Usually run through Scripts/firmware, which builds this tool and the agent
            for the board's CPU first and passes --agent. docs/VENDOR.md walks through
            the whole job; Firmware/boards/README.md describes the board profiles.

              boards      list and check the board profiles
              build       overlay tar.gz (+ .ipk for OpenWrt): agent, init, config, CA
              provision   unit configs + the operator CSV (camagent-endpoint import-units)
              patch       add the overlay to a vendor image's squashfs rootfs
            """,
        subcommands: [Boards.self, Build.self, Provision.self, Patch.self]
    )
}

/// Options shared by the commands that write a config.
struct ConfigOptions: ParsableArguments {
    @Option(name: .customLong("endpoint"), help: ArgumentHelp(
        "Management endpoint the units dial: https://host[:port] (repeatable: main, then backups).", valueName: "url"))
    var endpoints: [String] = []

    @Flag(help: "Permit http:// endpoints (lab use only: the links are not encrypted).")
    var allowPlaintext = false

    @Option(name: .customLong("camera"), help: ArgumentHelp(
        "Router boards: a LAN camera behind the router, NAME=HOST (repeatable). Gives targets NAME-rtsp and NAME-http.",
        valueName: "name=host"))
    var cameras: [String] = []

    func agentConfig(board: BoardProfile) throws -> AgentConfig {
        AgentConfig(board: board, endpoints: endpoints, allowPlaintext: allowPlaintext,
                    cameras: try cameras.map(AgentConfig.parseCamera))
    }
}

/// Options shared by the commands that lay out the overlay.
struct OverlayOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The stripped static agent for the board's CPU (Scripts/cross-build TARGET -> .build-cross/TARGET/camagent).", valueName: "file"))
    var agent: String

    @Option(help: ArgumentHelp("PEM CA bundle the agent verifies its servers with; installed at the board's ca_path.", valueName: "file"))
    var ca: String
}

struct Boards: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the board profiles in Firmware/boards and check each one.",
        discussion: "Exits 1 if any profile has an error (printed with its file and line).")

    func run() throws {
        var failed = false
        for name in BoardProfile.availableNames() {
            do {
                let board = try BoardProfile.load(name)
                func column(_ text: String, _ width: Int) -> String { text.padding(toLength: max(width, text.count), withPad: " ", startingAt: 0) }
                print(column(board.name, 16) + " " + column(board.cpuTarget, 8) + " " + column(board.agentType.rawValue, 7)
                      + column(board.initSystem.rawValue, 12) + "agent budget " + describeBytes(board.flashBudget))
            } catch {
                FileHandle.standardError.write(Data("camagent-firmware: \(error)\n".utf8))
                failed = true
            }
        }
        if failed { throw ExitCode(1) }
    }
}

struct Build: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Build the overlay for a board: tar.gz, plus an OpenWrt .ipk for procd boards.",
        discussion: """
            The overlay holds the agent (checked: the board's CPU, static, within the
            board's flash_budget, else refused), the init script, a default config
            (board targets and endpoints, no identity: `provision` writes each unit's)
            and the CA bundle. Unpack it over the device's root: tar -xzf FILE -C /

            Example:
              camagent-firmware build --board hi3518ev200 \\
                  --agent .build-cross/armv5/camagent --ca ca.pem \\
                  --endpoint https://endpoint.example.net --out out/
            """)

    @Option(help: ArgumentHelp("Board name (Firmware/boards/NAME.board) or a .board file.", valueName: "board"))
    var board: String

    @OptionGroup var overlayOptions: OverlayOptions
    @OptionGroup var configOptions: ConfigOptions

    @Option(help: ArgumentHelp("Output directory.", valueName: "dir"))
    var out: String

    @Option(help: ArgumentHelp("Package version of the .ipk.", valueName: "version"))
    var packageVersion: String = "0.1.0-1"

    func run() throws {
        let board = try BoardProfile.load(self.board)
        let config = try configOptions.agentConfig(board: board)
        try config.validate(forProvisioning: false)
        guard packageVersion.range(of: "^[0-9][A-Za-z0-9.+~-]*$", options: .regularExpression) != nil else {
            throw ValidationError("--package-version must start with a digit: letters, digits, . + ~ -")
        }
        progress("board \(board.name): \(board.cpuTarget), \(board.initSystem.rawValue), budget \(describeBytes(board.flashBudget))")
        let overlay = try Overlay.make(board: board, agent: overlayOptions.agent, caBundle: overlayOptions.ca,
                                       config: Array(config.render(unit: nil).utf8))
        let agentSize = overlay.files.first { $0.path == board.installPath }!.contents!.count
        progress("agent \(describeBytes(agentSize)): within the budget (\(describeBytes(board.flashBudget - agentSize)) left)")
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let mtime = Int(ProcessInfo.processInfo.environment["SOURCE_DATE_EPOCH"] ?? "") ?? Int(Date().timeIntervalSince1970)
        let tarPath = "\(out)/camagent-overlay-\(board.name).tar.gz"
        progress("writing \(tarPath)…")
        try writeFile(tarPath, try overlay.tarGz(mtime: mtime), mode: 0o644)
        print("overlay: \(tarPath)")
        if board.initSystem == .procd {
            let ipkPath = "\(out)/\(OpkgPackage.packageName)_\(packageVersion)_\(board.opkgArch!).ipk"
            progress("writing \(ipkPath)…")
            try writeFile(ipkPath, try OpkgPackage.make(overlay: overlay, board: board, version: packageVersion, mtime: mtime), mode: 0o644)
            print("package: \(ipkPath)")
        }
    }
}

struct Provision: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write one config per unit and the operator CSV for a batch of serials.",
        discussion: """
            --serials lists one unit per line: SERIAL or SERIAL,MAC (# comments). Each
            unit gets a fresh 32-byte activation secret from the system CSPRNG, in
              OUT/units/SERIAL.conf   the unit's config (serial, mac, model, firmware,
                                      activation_secret, state_file, endpoint, ca_file,
                                      target): flash it as the board's config_path
              OUT/units.csv           agent_id,serial,activation_secret,model,mac,firmware,
                                      stream_list_url,rtsp_path,snapshot_path
            Secrets are never printed; every file is mode 0600 (OUT 0700). Load the CSV
            into the endpoint with one command:
              camagent-endpoint import-units --registry agents.json --csv OUT/units.csv
            The unit activates on first contact as agent_id (cam-SERIAL). stream_list_url
            (with --streampoint-admin) is where the streampoint lists the unit's viewer
            URLs; add rtsp_path/snapshot_path to them.

            Example:
              camagent-firmware provision --board hi3518ev200 --serials serials.txt \\
                  --endpoint https://endpoint.example.net --out batch-0001
            """)

    @Option(help: ArgumentHelp("Board name (Firmware/boards/NAME.board) or a .board file.", valueName: "board"))
    var board: String

    @Option(help: ArgumentHelp("Serials file: SERIAL or SERIAL,MAC per line.", valueName: "file"))
    var serials: String

    @OptionGroup var configOptions: ConfigOptions

    @Option(help: ArgumentHelp("Output directory (must not hold a batch already).", valueName: "dir"))
    var out: String

    @Option(help: ArgumentHelp("Model string (default: the board's model).", valueName: "text"))
    var model: String?

    @Option(help: ArgumentHelp("Firmware version string (default: the board's firmware).", valueName: "text"))
    var firmware: String?

    @Option(help: ArgumentHelp("Streampoint admin API base URL, for the CSV's stream_list_url.", valueName: "url"))
    var streampointAdmin: String?

    func validate() throws {
        for (name, value) in [("--model", model), ("--firmware", firmware)] {
            if let value, value.isEmpty || value.utf8.count > 64 || value.contains(",") || value.contains("#") || value.contains("\n") {
                throw ValidationError("\(name) must be 1-64 bytes without commas, # or line breaks")
            }
        }
    }

    func run() throws {
        let board = try BoardProfile.load(self.board)
        let config = try configOptions.agentConfig(board: board)
        try config.validate()
        let text = try readFile(serials, what: "serials file")
        let units = try Provisioning.parseSerials(String(decoding: text, as: UTF8.self), path: serials)
        let provisioning = Provisioning(config: config, model: model ?? board.model, firmware: firmware ?? board.firmware,
                                        streampointAdmin: try streampointAdmin.map(Provisioning.validate(streampointAdmin:)))
        progress("provisioning \(units.count) units of \(board.name)…")
        try provisioning.write(units: units, to: out)
        print("provisioned \(units.count) units: configs in \(out)/units/, operator CSV \(out)/units.csv (mode 0600, holds the secrets)")
        print("load them into the endpoint: camagent-endpoint import-units --registry REGISTRY --csv \(out)/units.csv")
    }
}

struct Patch: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Add the overlay to the squashfs rootfs of a vendor image, for a field reflash.",
        discussion: """
            Reads --image (never modified) as one of:
              a raw squashfs; a U-Boot legacy uImage holding a squashfs; a full flash
              dump with such a rootfs at the board's rootfs_offset.
            Unpacks the rootfs (unsquashfs), adds the overlay (agent, init script, config,
            CA), repacks with the same compression and block size (from the superblock),
            re-wraps in the same uImage header (only size and CRCs change) or puts it
            back into the dump (rest of the partition 0xFF), and writes --out. If the
            result is bigger than the board's rootfs_size, nothing is written.
            Needs root (file owners, device nodes) and squashfs-tools.

            Example:
              camagent-firmware patch --image vendor.bin --board hi3518ev200 \\
                  --out patched.bin --agent .build-cross/armv5/camagent \\
                  --ca ca.pem --config batch-0001/units/XM0001.conf
            """)

    @Option(help: ArgumentHelp("The vendor image (read only).", valueName: "file"))
    var image: String

    @Option(help: ArgumentHelp("Board name (Firmware/boards/NAME.board) or a .board file.", valueName: "board"))
    var board: String

    @Option(help: ArgumentHelp("Where to write the patched image.", valueName: "file"))
    var out: String

    @Option(help: ArgumentHelp("A unit's config (from provision) to install; default: the board's unprovisioned default config.", valueName: "file"))
    var config: String?

    @OptionGroup var overlayOptions: OverlayOptions
    @OptionGroup var configOptions: ConfigOptions

    func run() throws {
        let board = try BoardProfile.load(self.board)
        let configBytes: [UInt8]
        if let config {
            configBytes = try readFile(config, what: "config")
            guard configBytes.count <= 16384, String(validating: configBytes, as: UTF8.self) != nil else {
                throw FirmwareError("\(config) is not a camagent config (UTF-8 text, at most 16 KiB)")
            }
        } else {
            let agentConfig = try configOptions.agentConfig(board: board)
            try agentConfig.validate(forProvisioning: false)
            configBytes = Array(agentConfig.render(unit: nil).utf8)
        }
        let overlay = try Overlay.make(board: board, agent: overlayOptions.agent, caBundle: overlayOptions.ca, config: configBytes)
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("camagent-firmware-\(getpid())-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        defer { try? FileManager.default.removeItem(atPath: work) }
        try ImagePatcher(board: board).patch(imagePath: image, outputPath: out, overlay: overlay, workDirectory: work)
    }
}
