@testable import camagent_firmware
import Foundation
import Testing

@Suite struct BoardProfileTests {
    @Test func everyShippedBoardLoadsAndNamesACrossBuildTarget() throws {
        let names = BoardProfile.availableNames(in: Repo.path("Firmware/boards"))
        #expect(Set(names) == ["hi3518ev200", "hi3516ev300", "dm365", "t31", "openwrt-mipsel", "generic-x86_64"])
        // The targets Scripts/cross-build knows (one function per target).
        let table = try String(contentsOfFile: Repo.path("Scripts/lib/cross-targets.sh"), encoding: .utf8)
        for name in names {
            let board = try BoardProfile.load(name, directory: Repo.path("Firmware/boards"))
            #expect(table.contains("cross_target_\(board.cpuTarget)() {"), "\(name): \(board.cpuTarget)")
            #expect(board.rootfsSize > 0 && board.flashBudget > 0)
        }
        let expected = ["hi3518ev200": "armv5", "hi3516ev300": "armv7", "dm365": "armv5", "t31": "mipsel",
                        "openwrt-mipsel": "mipsel", "generic-x86_64": "x86_64"]
        for (name, cpu) in expected {
            #expect(try BoardProfile.load(name, directory: Repo.path("Firmware/boards")).cpuTarget == cpu)
        }
        let router = try BoardProfile.load("openwrt-mipsel", directory: Repo.path("Firmware/boards"))
        #expect(router.agentType == .router && router.initSystem == .procd && router.opkgArch == "mipsel_24kc")
    }

    @Test func scriptListsTheBoards() throws {
        let result = try firmware(["boards"])
        #expect(result.status == 0, "\(result.all)")
        #expect(result.stdout.contains("hi3518ev200") && result.stdout.contains("armv5") && result.stdout.contains("procd"))
    }

    @Test func badProfilesNameTheLineAndTheKey() {
        let good = try! String(contentsOfFile: Repo.path("Firmware/boards/hi3518ev200.board"), encoding: .utf8)
        func problem(_ text: String) -> String {
            do { _ = try BoardProfile.parse(text, path: "x.board"); return "" } catch { return "\(error)" }
        }
        #expect(problem(good) == "")
        #expect(problem(good + "colour = red\n").contains("colour: unknown key"))
        #expect(problem(good.replacingOccurrences(of: "cpu_target = armv5", with: "cpu_target = sparc")).contains("'sparc' is not one of"))
        #expect(problem(good.replacingOccurrences(of: "flash_budget = 400K", with: "flash_budget = lots")).contains("is not a size"))
        #expect(problem(good.replacingOccurrences(of: "init_system = busybox-rcs", with: "init_system = systemd")).contains("busybox-rcs or procd"))
        #expect(problem(good.replacingOccurrences(of: "rtsp_port = 554\n", with: "")).contains("needs rtsp_port"))
        #expect(problem(good.replacingOccurrences(of: "model = IPC-HI3518EV200\n", with: "")).contains("model: missing"))
        #expect(problem(good + "model = again\n").contains("model: given twice"))
        #expect(parseSize("400K") == 409_600 && parseSize("0x250000") == 0x250000 && parseSize("16M") == 16 << 20 && parseSize("4k2") == nil)
    }
}

@Suite struct BuildTests {
    /// A board file for the packaging tests, derived from a shipped one.
    static func board(_ base: String, in scratch: Scratch, name: String, replacing: [String: String] = [:]) throws -> String {
        var text = try String(contentsOfFile: Repo.path("Firmware/boards/\(base).board"), encoding: .utf8)
        text = text.replacingOccurrences(of: "name = \(base)\n", with: "name = \(name)\n")
        for (old, new) in replacing { text = text.replacingOccurrences(of: old, with: new) }
        let path = scratch.path("\(name).board")
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func overlayHoldsAgentInitScriptConfigAndCAWithTheirModes() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let agent = fakeAgent(machine: 40, size: 300_000)
        _ = FileManager.default.createFile(atPath: scratch.path("camagent"), contents: Data(agent))
        try scratch.write("ca.pem", testCA)
        let result = try firmware(["build", "--board", "hi3518ev200", "--agent", scratch.path("camagent"), "--ca", scratch.path("ca.pem"),
                                   "--endpoint", "https://endpoint.example.net", "--out", scratch.path("out")])
        #expect(result.status == 0, "\(result.all)")
        let tarball = scratch.path("out/camagent-overlay-hi3518ev200.tar.gz")
        #expect(result.stdout.contains("overlay: \(tarball)"))
        let listing = try shell("tar -tzvf '\(tarball)'")
        #expect(listing.status == 0, "\(listing.all)")
        for (path, perms) in [("./usr/bin/camagent", "-rwxr-xr-x"), ("./etc/init.d/S95camagent", "-rwxr-xr-x"),
                              ("./etc/camagent/camagent.conf", "-rw-------"), ("./etc/camagent/ca.pem", "-rw-r--r--")] {
            #expect(listing.stdout.split(separator: "\n").contains { $0.hasPrefix(perms) && $0.hasSuffix(" \(path)") && $0.contains("root/root") },
                    "\(path) \(perms)\n\(listing.stdout)")
        }
        let extract = try shell("mkdir -p '\(scratch.path("x"))' && tar -xzf '\(tarball)' -C '\(scratch.path("x"))'")
        #expect(extract.status == 0)
        #expect(FileManager.default.contents(atPath: scratch.path("x/usr/bin/camagent")) == Data(agent))
        let config = try String(contentsOfFile: scratch.path("x/etc/camagent/camagent.conf"), encoding: .utf8)
        #expect(config.contains("endpoint = https://endpoint.example.net\n") && config.contains("ca_file = /etc/camagent/ca.pem\n"))
        #expect(config.contains("target = rtsp=127.0.0.1:554/stream0\n") && config.contains("state_file = /mnt/mtd/camagent/state\n"))
        #expect(!config.contains("activation_secret =") && !config.contains("serial ="))
        let script = scratch.path("x/etc/init.d/S95camagent")
        #expect(try shell("sh -n '\(script)'").status == 0, "the init script is not valid sh")
        let text = try String(contentsOfFile: script, encoding: .utf8)
        #expect(text.contains("AGENT=/usr/bin/camagent") && text.contains("/proc/net/route") && text.contains("64|78)"))
    }

    @Test func anAgentOverTheFlashBudgetIsRefused() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        _ = FileManager.default.createFile(atPath: scratch.path("camagent"), contents: Data(fakeAgent(machine: 40, size: 409_601)))
        try scratch.write("ca.pem", testCA)
        let result = try firmware(["build", "--board", "hi3518ev200", "--agent", scratch.path("camagent"), "--ca", scratch.path("ca.pem"),
                                   "--out", scratch.path("out")])
        #expect(result.status == 1, "\(result.all)")
        #expect(result.stderr.contains("409,601 bytes (401 KiB), over board hi3518ev200's flash budget of 409,600 bytes (400 KiB) by 1 bytes"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: scratch.path("out/camagent-overlay-hi3518ev200.tar.gz")))
    }

    @Test func anAgentForAnotherCPUOrDynamicallyLinkedIsRefused() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        _ = FileManager.default.createFile(atPath: scratch.path("mips"), contents: Data(fakeAgent(machine: 8, size: 1000)))
        try scratch.write("ca.pem", testCA)
        let wrongCPU = try firmware(["build", "--board", "hi3518ev200", "--agent", scratch.path("mips"), "--ca", scratch.path("ca.pem"), "--out", scratch.path("o")])
        #expect(wrongCPU.status == 1 && wrongCPU.stderr.contains("is a 32-bit little-endian MIPS binary, but board hi3518ev200 needs cpu_target armv5"), "\(wrongCPU.all)")
        // The host build of the agent is dynamically linked against glibc.
        let dynamic = try firmware(["build", "--board", "generic-x86_64", "--agent", Repo.binary("camagent"), "--ca", scratch.path("ca.pem"), "--out", scratch.path("o")])
        #expect(dynamic.status == 1 && dynamic.stderr.contains("is dynamically linked"), "\(dynamic.all)")
        let unknown = try firmware(["build", "--board", "nosuchboard", "--agent", scratch.path("mips"), "--ca", scratch.path("ca.pem")])
        #expect(unknown.status == 1 && unknown.stderr.contains("unknown board 'nosuchboard'"), "\(unknown.all)")
    }

    @Test func procdBoardsAlsoGetAnOpenWrtPackage() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let agentPath = Repo.crossAgent("mipsel") ?? scratch.path("camagent")
        if Repo.crossAgent("mipsel") == nil {
            _ = FileManager.default.createFile(atPath: agentPath, contents: Data(fakeAgent(machine: 8, size: 200_000)))
        }
        try scratch.write("ca.pem", testCA)
        let result = try firmware(["build", "--board", "openwrt-mipsel", "--agent", agentPath, "--ca", scratch.path("ca.pem"),
                                   "--endpoint", "https://endpoint.example.net:7443", "--camera", "door=192.168.1.20",
                                   "--out", scratch.path("out")])
        #expect(result.status == 0, "\(result.all)")
        let ipk = scratch.path("out/camagent_0.1.0-1_mipsel_24kc.ipk")
        #expect(result.stdout.contains("package: \(ipk)"))
        let unpack = try shell("""
            set -e; cd '\(scratch.path("out"))'; mkdir ipk && cd ipk && tar -xzf '\(ipk)'
            tar -tzf data.tar.gz; mkdir control && tar -xzf control.tar.gz -C control; cat debian-binary control/control control/conffiles
            """)
        #expect(unpack.status == 0, "\(unpack.all)")
        for expected in ["./usr/bin/camagent", "./etc/init.d/camagent", "./etc/camagent/camagent.conf", "./etc/camagent/ca.pem",
                         "2.0", "Package: camagent", "Architecture: mipsel_24kc", "/etc/camagent/camagent.conf"] {
            #expect(unpack.stdout.contains(expected), "\(expected)\n\(unpack.stdout)")
        }
        let initScript = try shell("cd '\(scratch.path("out/ipk"))' && tar -xzf data.tar.gz ./etc/init.d/camagent ./etc/camagent/camagent.conf && cat etc/init.d/camagent etc/camagent/camagent.conf")
        #expect(initScript.stdout.contains("USE_PROCD=1") && initScript.stdout.contains("procd_set_param respawn"))
        #expect(initScript.stdout.contains("target = door-rtsp=192.168.1.20:554") && initScript.stdout.contains("target = door-http=192.168.1.20:80"))
    }
}
