import Foundation
import Testing

@Suite struct ProvisionTests {
    @Test func eachUnitGetsItsConfigAndTheCSVLoadsIntoTheEndpointWithOneCommand() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        try scratch.write("serials.txt", "# batch 1\nXM0001,00:12:34:56:78:9A\nXM0002\n\nXM0003 00-12-34-56-78-9c\n")
        let result = try firmware(["provision", "--board", "hi3518ev200", "--serials", scratch.path("serials.txt"),
                                   "--endpoint", "https://endpoint.example.net", "--endpoint", "https://backup.example.net:7443",
                                   "--streampoint-admin", "http://sp1.example.net:7101", "--firmware", "V5.00.R03",
                                   "--out", scratch.path("batch")])
        #expect(result.status == 0, "\(result.all)")
        #expect(result.stdout.contains("provisioned 3 units"))
        #expect(mode(of: scratch.path("batch")) == 0o700)
        #expect(mode(of: scratch.path("batch/units.csv")) == 0o600)

        let csv = try String(contentsOfFile: scratch.path("batch/units.csv"), encoding: .utf8)
        let lines = csv.split(separator: "\n").map(String.init)
        #expect(lines.first == "agent_id,serial,activation_secret,model,mac,firmware,stream_list_url,rtsp_path,snapshot_path")
        #expect(lines.count == 4)
        var secrets: [String] = []
        for (line, (serial, mac)) in zip(lines.dropFirst(), [("XM0001", "00:12:34:56:78:9a"), ("XM0002", ""), ("XM0003", "00:12:34:56:78:9c")]) {
            let fields = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            #expect(fields.count == 9)
            #expect(fields[0] == "cam-\(serial)" && fields[1] == serial && fields[3] == "IPC-HI3518EV200" && fields[4] == mac && fields[5] == "V5.00.R03")
            #expect(fields[6] == "http://sp1.example.net:7101/agents/cam-\(serial)" && fields[7] == "/stream0" && fields[8] == "/webcapture.jpg")
            let secret = fields[2]
            #expect(secret.count == 64 && secret.allSatisfy(\.isHexDigit))
            secrets.append(secret)
            let configPath = scratch.path("batch/units/\(serial).conf")
            #expect(mode(of: configPath) == 0o600)
            let config = try String(contentsOfFile: configPath, encoding: .utf8)
            for line in ["serial = \(serial)", "activation_secret = \(secret)", "model = IPC-HI3518EV200", "firmware = V5.00.R03",
                         "state_file = /mnt/mtd/camagent/state", "endpoint = https://endpoint.example.net",
                         "endpoint = https://backup.example.net:7443", "ca_file = /etc/camagent/ca.pem",
                         "target = rtsp=127.0.0.1:554/stream0", "target = http=127.0.0.1:80"] {
                #expect(config.contains(line + "\n"), "\(line)\n\(config)")
            }
            #expect(config.contains("mac = ") == !mac.isEmpty)
        }
        #expect(Set(secrets).count == 3, "secrets repeat")
        for secret in secrets {
            #expect(!result.stdout.contains(secret) && !result.stderr.contains(secret), "a secret reached the terminal")
        }

        // The agent's own parser accepts every unit config (with a real CA file in place of the device path).
        let pki = scratch.path("pki")
        #expect(try run(Repo.path("Scripts/lib/make-test-pki.sh"), [pki]).status == 0)
        for serial in ["XM0001", "XM0002", "XM0003"] {
            var config = try String(contentsOfFile: scratch.path("batch/units/\(serial).conf"), encoding: .utf8)
            config = config.replacingOccurrences(of: "ca_file = /etc/camagent/ca.pem", with: "ca_file = \(pki)/ca.pem")
            try scratch.write("\(serial).check.conf", config)
            let check = try run(Repo.binary("camagent"), ["--config", scratch.path("\(serial).check.conf"), "--check"])
            #expect(check.status == 0, "\(serial): \(check.all)")
        }

        // One command loads the CSV into the endpoint's registry.
        let imported = try run(Repo.binary("camagent-endpoint"), ["import-units", "--registry", scratch.path("registry.sqlite"),
                                                                  "--csv", scratch.path("batch/units.csv")])
        #expect(imported.status == 0 && imported.stdout == "imported 3 units\n", "\(imported.all)")
        // The SQLite file's bytes, and its write-ahead log if one is left.
        let registry = [scratch.path("registry.sqlite"), scratch.path("registry.sqlite-wal")]
            .compactMap { FileManager.default.contents(atPath: $0) }.map { String(decoding: $0, as: UTF8.self) }.joined()
        #expect(registry.contains("cam-XM0002") && registry.contains("00:12:34:56:78:9c"))
        #expect(secrets.allSatisfy { !registry.contains($0) }, "the registry stores a secret")

        // A second run into the same directory refuses, so no secret is overwritten.
        let again = try firmware(["provision", "--board", "hi3518ev200", "--serials", scratch.path("serials.txt"),
                                  "--endpoint", "https://endpoint.example.net", "--out", scratch.path("batch")])
        #expect(again.status == 1 && again.stderr.contains("already holds a provisioned batch"), "\(again.all)")
        #expect(try String(contentsOfFile: scratch.path("batch/units.csv"), encoding: .utf8) == csv)
    }

    @Test func routerUnitsNameTheirCamerasAndBadInputIsExplained() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        try scratch.write("serials.txt", "RT0001\n")
        let router = try firmware(["provision", "--board", "openwrt-mipsel", "--serials", scratch.path("serials.txt"),
                                   "--endpoint", "https://endpoint.example.net", "--camera", "door=192.168.1.20",
                                   "--camera", "yard=192.168.1.21", "--out", scratch.path("r")])
        #expect(router.status == 0, "\(router.all)")
        let config = try String(contentsOfFile: scratch.path("r/units/RT0001.conf"), encoding: .utf8)
        for target in ["door-rtsp=192.168.1.20:554", "door-http=192.168.1.20:80", "yard-rtsp=192.168.1.21:554", "yard-http=192.168.1.21:80"] {
            #expect(config.contains("target = \(target)\n"), "\(config)")
        }
        #expect(config.contains("state_file = /etc/camagent/state\n"))

        func failure(_ serials: String, _ extra: [String] = [], board: String = "hi3518ev200") throws -> String {
            try scratch.write("bad.txt", serials)
            let result = try firmware(["provision", "--board", board, "--serials", scratch.path("bad.txt"),
                                       "--out", scratch.path("bad-\(UUID().uuidString)")] + extra)
            #expect(result.status != 0)
            return result.stderr
        }
        let endpoint = ["--endpoint", "https://e.example.net"]
        #expect(try failure("RT1\n", endpoint, board: "openwrt-mipsel").contains("is a router: name its LAN cameras with --camera"))
        #expect(try failure("X1\nX2\nX1\n", endpoint).contains("bad.txt line 3: serial X1 appears twice (first on line 1)"))
        #expect(try failure("X0 00:12:34:56:78:9a extra\n", endpoint).contains("line 1: expected SERIAL or SERIAL,MAC"))
        #expect(try failure("bad/serial\n", endpoint).contains("line 1: serial 'bad/serial' must be 1-60 characters"))
        #expect(try failure("X1,zz:00\n", endpoint).contains("MAC 'zz:00' of X1 must look like"))
        #expect(try failure("# nothing\n", endpoint).contains("lists no serials"))
        #expect(try failure("X1\n").contains("give at least one --endpoint"))
        #expect(try failure("X1\n", ["--endpoint", "http://e.example.net"]).contains("--allow-plaintext"))
        // The agent's own ConfigParser judges what the tool writes: no regex of its own to drift from it.
        let refused = try failure("X1\n", ["--endpoint", "https://e.example.net/path"])
        #expect(refused.contains("would be refused by the agent") && refused.contains("endpoint: must not have a path"), "\(refused)")
        #expect(try failure("X1\n", ["--endpoint", "https://e.example.net:99999"]).contains("would be refused by the agent"))
        let badCamera = try failure("RT1\n", endpoint + ["--camera", "door=bad host"], board: "openwrt-mipsel")
        #expect(badCamera.contains("would be refused by the agent") && badCamera.contains("target"), "\(badCamera)")
    }
}
