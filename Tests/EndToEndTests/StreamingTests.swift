import CamProtocol
import Foundation
import Testing

/// Decoded video frames ffprobe reads from `url` in `seconds` of stream time.
func countFrames(_ url: String, seconds: Int = 4) throws -> Int {
    guard let ffprobe = which("ffprobe") else { throw ClusterError("ffprobe is not installed (Scripts/test installs ffmpeg)") }
    let (status, out, err) = try run(ffprobe, [
        "-v", "error", "-rtsp_transport", "tcp", "-select_streams", "v:0", "-count_frames",
        "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", "-read_intervals", "%+\(seconds)", url,
    ], timeout: 60)
    guard status == 0, let frames = Int(out.trimmingCharacters(in: .whitespacesAndNewlines)) else {
        throw ClusterError("ffprobe \(url) failed (status \(status)): \(out) \(err)")
    }
    return frames
}

/// Real processes on loopback: simcam → agent → streampoint → ffprobe/curl.
extension EndToEnd {
@Suite struct StreamingTests {
    @Test func ffprobeDecodesVideoThroughTheStreampoint() throws {
        let cluster = try Cluster()
        defer { cluster.stop(); cluster.removeDirectory() }
        try cluster.startServers()
        try cluster.startAgent()
        let url = try cluster.viewerURL(target: "rtsp")
        let frames = try countFrames(url)
        #expect(frames >= 50, "only \(frames) frames\n\(cluster.allLogs)")
        #expect(cluster.agent?.isRunning == true)
    }

    @Test func twoViewersAtOnceBothDecode() throws {
        let cluster = try Cluster()
        defer { cluster.stop(); cluster.removeDirectory() }
        try cluster.startServers()
        try cluster.startAgent()
        let url = try cluster.viewerURL(target: "rtsp")
        var results: [Result<Int, Error>] = [.success(0), .success(0)]
        let lock = NSLock()
        DispatchQueue.concurrentPerform(iterations: 2) { index in
            let result = Result { try countFrames(url) }
            lock.lock()
            results[index] = result
            lock.unlock()
        }
        for result in results {
            let frames = try result.get()
            #expect(frames >= 50, "only \(frames) frames\n\(cluster.allLogs)")
        }
        // Both went through their own tunnels.
        #expect(cluster.agent!.stderr.components(separatedBy: ": open to ").count - 1 >= 2)
    }

    @Test func snapshotThroughTheStreampointIsAValidJPEG() throws {
        let cluster = try Cluster()
        defer { cluster.stop(); cluster.removeDirectory() }
        try cluster.startServers()
        try cluster.startAgent()
        let base = try cluster.viewerURL(target: "http")
        let file = cluster.path("snapshot.jpg")
        let curl = try #require(which("curl"), "curl is not installed")
        let (status, _, err) = try run(curl, ["-sSf", "--max-time", "20", "-o", file, "\(base)snapshot.jpg"])
        #expect(status == 0, "curl failed: \(err)\n\(cluster.allLogs)")
        let bytes = [UInt8]((try? Data(contentsOf: URL(fileURLWithPath: file))) ?? Data())
        #expect(bytes.count > 1000)
        #expect(bytes.starts(with: [0xFF, 0xD8, 0xFF]), "not a JPEG start of image")
        #expect(bytes.suffix(2) == [0xFF, 0xD9], "JPEG end of image missing")
        let ffprobe = try #require(which("ffprobe"))
        let (probeStatus, codec, _) = try run(ffprobe, ["-v", "error", "-show_entries", "stream=codec_name", "-of", "csv=p=0", file])
        #expect(probeStatus == 0 && codec.contains("mjpeg"), "ffprobe says: \(codec)")
    }

    /// The x86_64 agent built as Embedded Swift, static against musl.
    @Test(.enabled(if: crossAgentPath("CAMAGENT_CROSS_X86_64") != nil,
                   "set CAMAGENT_CROSS_X86_64 to the cross-built agent (Scripts/test does)"))
    func embeddedX86AgentStreams() throws {
        try crossBuiltAgentStreams("CAMAGENT_CROSS_X86_64", runner: "", build: "x86_64-linux (embedded)")
    }

    // The cross-built agents under qemu user mode, one per target of
    // Scripts/lib/cross-targets.sh. Scripts/test builds them and sets the
    // variables (the default run: armv7, armv5; --full: all of them).

    /// ARMv7-A, Thumb-2, soft-float ABI (armel).
    @Test(.enabled(if: crossAgentPath("CAMAGENT_CROSS_ARMV7") != nil,
                   "set CAMAGENT_CROSS_ARMV7 to the cross-built agent (Scripts/test does)"))
    func crossBuiltArmv7AgentStreamsUnderQemu() throws {
        try crossBuiltAgentStreams("CAMAGENT_CROSS_ARMV7", runner: "qemu-arm-static -cpu cortex-a7", build: "arm-linux (embedded)")
    }

    /// ARMv5TE on an ARM926 CPU model: an instruction the real ARM926 lacks
    /// (VFP, NEON, ARMv6+ such as ldrex/strex) is an illegal instruction here,
    /// and broken atomics (refcounting) would not survive a streaming session.
    @Test(.enabled(if: crossAgentPath("CAMAGENT_CROSS_ARMV5") != nil,
                   "set CAMAGENT_CROSS_ARMV5 to the cross-built agent (Scripts/test does)"))
    func crossBuiltArmv5AgentStreamsUnderQemu() throws {
        try crossBuiltAgentStreams("CAMAGENT_CROSS_ARMV5", runner: "qemu-arm-static -cpu arm926", build: "arm-linux (embedded)")
    }

    /// ARMv7-A with the hard-float ABI (armhf).
    @Test(.enabled(if: crossAgentPath("CAMAGENT_CROSS_ARMV7HF") != nil,
                   "set CAMAGENT_CROSS_ARMV7HF to the cross-built agent (Scripts/test --full does)"))
    func crossBuiltArmv7hfAgentStreamsUnderQemu() throws {
        try crossBuiltAgentStreams("CAMAGENT_CROSS_ARMV7HF", runner: "qemu-arm-static -cpu cortex-a7", build: "arm-linux (embedded)")
    }

    /// AArch64.
    @Test(.enabled(if: crossAgentPath("CAMAGENT_CROSS_AARCH64") != nil,
                   "set CAMAGENT_CROSS_AARCH64 to the cross-built agent (Scripts/test --full does)"))
    func crossBuiltAarch64AgentStreamsUnderQemu() throws {
        try crossBuiltAgentStreams("CAMAGENT_CROSS_AARCH64", runner: "qemu-aarch64-static", build: "aarch64-linux (embedded)")
    }

    /// MIPS32r2 little-endian, through wasm2c (Swift cannot target MIPS): the
    /// agent is a wasm32 module translated to C, so it reports the wasm32 build.
    @Test(.enabled(if: crossAgentPath("CAMAGENT_CROSS_MIPSEL") != nil,
                   "set CAMAGENT_CROSS_MIPSEL to the cross-built agent (Scripts/test --full does)"))
    func crossBuiltMipselAgentStreamsUnderQemu() throws {
        try crossBuiltAgentStreams("CAMAGENT_CROSS_MIPSEL", runner: "qemu-mipsel-static -cpu 24Kf", build: "wasm32-linux (embedded)")
    }

    /// The same mipsel binary on a 24Kc, a MIPS32r2 core without an FPU (as
    /// MT7628's 24KEc and MT7621's 1004Kc): qemu user mode emulates no FPU, so
    /// a single FPU instruction on the path is SIGILL. The build is soft-float.
    @Test(.enabled(if: crossAgentPath("CAMAGENT_CROSS_MIPSEL") != nil,
                   "set CAMAGENT_CROSS_MIPSEL to the cross-built agent (Scripts/test --full does)"))
    func crossBuiltMipselAgentStreamsWithoutFPU() throws {
        try crossBuiltAgentStreams("CAMAGENT_CROSS_MIPSEL", runner: "qemu-mipsel-static -cpu 24Kc", build: "wasm32-linux (embedded)")
    }

    /// mipsel with MIPS16e code (the 16-bit encoding of the 24K/1004K family):
    /// on a 24Kf and on a 24Kc (no FPU); both qemu models have MIPS16e.
    @Test(.enabled(if: crossAgentPath("CAMAGENT_CROSS_MIPSEL16") != nil,
                   "set CAMAGENT_CROSS_MIPSEL16 to the cross-built agent (Scripts/test --full does)"))
    func crossBuiltMipsel16AgentStreamsUnderQemu() throws {
        try crossBuiltAgentStreams("CAMAGENT_CROSS_MIPSEL16", runner: "qemu-mipsel-static -cpu 24Kf", build: "wasm32-linux (embedded)")
    }

    @Test(.enabled(if: crossAgentPath("CAMAGENT_CROSS_MIPSEL16") != nil,
                   "set CAMAGENT_CROSS_MIPSEL16 to the cross-built agent (Scripts/test --full does)"))
    func crossBuiltMipsel16AgentStreamsWithoutFPU() throws {
        try crossBuiltAgentStreams("CAMAGENT_CROSS_MIPSEL16", runner: "qemu-mipsel-static -cpu 24Kc", build: "wasm32-linux (embedded)")
    }

    /// MIPS32r2 big-endian, through wasm2c like mipsel: wasm2c keeps linear
    /// memory byte-reversed on big-endian hosts, so this also proves the host
    /// layer's reversed buffers and the wabt memory.copy/fill fix.
    @Test(.enabled(if: crossAgentPath("CAMAGENT_CROSS_MIPS") != nil,
                   "set CAMAGENT_CROSS_MIPS to the cross-built agent (Scripts/test --full does)"))
    func crossBuiltMipsAgentStreamsUnderQemu() throws {
        try crossBuiltAgentStreams("CAMAGENT_CROSS_MIPS", runner: "qemu-mips-static -cpu 24Kf", build: "wasm32-linux (embedded)")
    }

    /// The same mips binary on a 24Kc (no FPU), as for mipsel.
    @Test(.enabled(if: crossAgentPath("CAMAGENT_CROSS_MIPS") != nil,
                   "set CAMAGENT_CROSS_MIPS to the cross-built agent (Scripts/test --full does)"))
    func crossBuiltMipsAgentStreamsWithoutFPU() throws {
        try crossBuiltAgentStreams("CAMAGENT_CROSS_MIPS", runner: "qemu-mips-static -cpu 24Kc", build: "wasm32-linux (embedded)")
    }
}
}

/// The path in the environment variable `name`, if it is set and not empty.
func crossAgentPath(_ name: String) -> String? {
    guard let path = ProcessInfo.processInfo.environment[name], !path.isEmpty else { return nil }
    return path
}

/// The shared body of the cross-built agent tests: the agent whose path is in
/// `variable`, started through `runner` ("" = directly), streams ≥ 50 decodable
/// frames through the streampoint, and `--version`/its log name the `build`
/// it was meant to be (so a host binary in the variable cannot pass).
func crossBuiltAgentStreams(_ variable: String, runner: String, build: String) throws {
    let binary = try #require(crossAgentPath(variable), "\(variable) is not set")
    #expect(FileManager.default.isExecutableFile(atPath: binary), "\(variable)=\(binary) is not an executable file")
    let cluster = try Cluster()
    defer { cluster.stop(); cluster.removeDirectory() }
    // Every target is proven on the product path: TLS on all agent links.
    try cluster.startServers(tls: true)
    try cluster.startAgent(binary: binary, runner: runner)
    // qemu's translation makes the first connection slower than native.
    let url = try cluster.viewerURL(target: "rtsp", timeout: runner.isEmpty ? 30 : 60)
    let frames = try countFrames(url)
    #expect(frames >= 50, "only \(frames) frames via \(variable)\n\(cluster.allLogs)")
    #expect(cluster.agent?.isRunning == true, "the agent exited:\n\(cluster.allLogs)")
    #expect(cluster.agent!.stderr.contains(build), "not the \(build) build:\n\(cluster.agent!.stderr)")
}
