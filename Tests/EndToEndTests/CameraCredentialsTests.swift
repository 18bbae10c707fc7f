import CamNIO
import EndpointCore
import Foundation
import Testing

/// Issue 11 §2: camera credentials are held per camera by the servers, never
/// by viewers. Real processes: simcam asking for Digest, the agent, the
/// endpoint (its API and CLI keep the credentials in the registry) and the
/// streampoint (it gets them down the channel and answers the camera's 401).
extension EndToEnd {
@Suite struct CameraCredentialsTests {
    static let password = "pr1vate-Digest-pass"

    /// simcam with `--rtsp-user admin` and a password file; the media cluster
    /// around it, the agent registered.
    private func startDigestCamera(_ cluster: Cluster) throws -> Cluster.MediaPorts {
        try Self.password.write(toFile: cluster.path("camera.pass"), atomically: true, encoding: .utf8)
        return try cluster.startMediaCamera(simcamArguments: ["--rtsp-user", "admin", "--rtsp-password-file", cluster.path("camera.pass")])
    }

    private func putMedia(_ cluster: Cluster, _ body: String) throws -> (code: Int, body: String) {
        let answer = try apiRequest(port: cluster.endpointAdminPort, "PUT", "/api/agents/\(cluster.agentID)/targets/rtsp/media",
                                    headers: ["Authorization: Bearer \(cluster.adminToken)"], body: body)
        return (answer.code, answer.body)
    }

    /// Waits until the streampoint has logged `text` `count` times.
    private func waitForStreampoint(_ cluster: Cluster, _ text: String, count: Int = 1, timeout: TimeInterval = 20) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while cluster.streampoint.stderr.components(separatedBy: text).count - 1 < count, Date() < deadline {
            Thread.sleep(forTimeInterval: 0.05)
        }
        guard cluster.streampoint.stderr.components(separatedBy: text).count - 1 >= count else {
            throw ClusterError("the streampoint never logged '\(text)' \(count) time(s)\n\(cluster.allLogs)")
        }
    }

    @Test func withoutCredentialsNoVideoWithThemFromTheAPIVideo() throws {
        let cluster = try Cluster()
        defer { cluster.stop(); cluster.removeDirectory() }
        let ports = try startDigestCamera(cluster)
        try waitForStreampoint(cluster, "camera media settings from the endpoint: 0 target(s)")
        let token = try cluster.viewerToken()
        let url = "rtsp://127.0.0.1:\(ports.rtsp)/\(cluster.agentID)/rtsp?token=\(token)"

        // No credentials in the registry: the camera's 401 cannot be answered.
        let refused = Result { try countFrames(url, seconds: 4) }
        switch refused {
        case .success(let frames): #expect(frames == 0, "a viewer decoded \(frames) frames from a camera that wants credentials")
        case .failure(let error): #expect("\(error)".contains("503"), "the viewer hears why at once: \(error)")
        }
        #expect(cluster.streampoint.stderr.contains("the camera asks for credentials and the endpoint holds none for it"),
                "\(cluster.streampoint.stderr)")
        #expect(cluster.simcam.stderr.contains("DESCRIBE refused with 401: no credentials"), "\(cluster.simcam.stderr)")

        // An operator sets them through the API; the answer never holds the password.
        let put = try putMedia(cluster, #"{"username":"admin","password":"\#(Self.password)"}"#)
        #expect(put.code == 200 && put.body.contains(#""hasPassword" : true"#) && !put.body.contains(Self.password), "\(put)")
        try waitForStreampoint(cluster, "camera media settings from the endpoint: 1 target(s), 1 with credentials")
        let get = try apiRequest(port: cluster.endpointAdminPort, "GET", "/api/agents/\(cluster.agentID)/targets/rtsp/media",
                                 headers: ["Authorization: Bearer \(cluster.adminToken)"])
        #expect(get.code == 200 && get.body.contains(#""username" : "admin""#) && !get.body.contains(Self.password), "\(get)")

        let frames = try countFrames(url, seconds: 6)
        #expect(frames >= 50, "only \(frames) frames with the credentials set\n\(cluster.allLogs)")
        // The streampoint answered Digest: simcam let an authorized DESCRIBE through after its 401.
        #expect(!cluster.simcam.stderr.contains("wrong Digest answer"), "\(cluster.simcam.stderr)")

        let audit = try apiRequest(port: cluster.endpointAdminPort, "GET", "/api/audit",
                                   headers: ["Authorization: Bearer \(cluster.adminToken)"])
        #expect(audit.body.contains(#""action" : "camera-media-set""#) && audit.body.contains("\(cluster.agentID)/rtsp"), "\(audit.body)")
        #expect(!cluster.allLogs.contains(Self.password), "the camera's password is never logged")
        #expect(!audit.body.contains(Self.password))
    }

    @Test func aWrongPasswordFailsClearlyAndBacksOffWhileAViewerWaits() throws {
        let cluster = try Cluster()
        defer { cluster.stop(); cluster.removeDirectory() }
        try Self.password.write(toFile: cluster.path("camera.pass"), atomically: true, encoding: .utf8)
        try cluster.startServers(simcamArguments: ["--rtsp-user", "admin", "--rtsp-password-file", cluster.path("camera.pass")])
        // The CLI, password on standard input: the endpoint picks it up from the registry.
        let wrong = "not-the-camera-password"
        let (status, out, err) = try run(Binaries.host("camagent-endpoint"), [
            "camera", "media", "set", "--registry", cluster.registry, "--agent", cluster.agentID, "--target", "rtsp",
            "--username", "admin", "--password-stdin",
        ], stdin: wrong + "\n")
        #expect(status == 0 && out.contains("user admin password set") && !out.contains(wrong), "\(out)\(err)")
        let ports = try cluster.startMediaStreampoint()
        try waitForStreampoint(cluster, "camera media settings from the endpoint: 1 target(s), 1 with credentials")
        try cluster.startAgent()
        _ = try cluster.viewerURL(target: "rtsp")
        let token = try cluster.viewerToken()

        // A browser viewer stays connected while the pull keeps failing.
        let viewer = try RawClient(port: ports.web)
        viewer.send("GET /live/\(cluster.agentID)/rtsp?token=\(token) HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                    + "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
        let refusal = "the camera refused the credentials of user admin (401)"
        try waitForStreampoint(cluster, refusal)
        let started = Date()
        var heard: [UInt8] = []
        while Date().timeIntervalSince(started) < 12 {
            let chunk = viewer.read(atLeast: 1)
            if chunk.isEmpty { Thread.sleep(forTimeInterval: 0.2) }
            heard += chunk
        }
        let attempts = cluster.streampoint.stderr.components(separatedBy: refusal).count - 1
        // Backoff 0.5 s, 1 s, 2 s, 4 s, 8 s (±25 %): about 5 attempts in 12 s; a tight loop makes hundreds.
        #expect((2...8).contains(attempts), "\(attempts) attempts in 12 s\n\(cluster.streampoint.stderr)")
        let text = String(decoding: heard, as: UTF8.self)
        #expect(text.contains("101 Switching Protocols") && text.contains("the camera refused the credentials set for it"), "\(text)")
        #expect(!text.contains("\"type\":\"init\""), "no video for a camera that refuses the credentials")
        #expect(!cluster.allLogs.contains(wrong) && !cluster.allLogs.contains(Self.password), "no password in any log")
    }
}
}

/// The table and the CLI on a real PostgreSQL (a throwaway cluster): the same
/// statements as on SQLite, shared by two stores as by two endpoints.
@Suite struct CameraMediaPostgresTests {
    @Test func cameraMediaSettingsWorkOnPostgreSQL() throws {
        let postgres = try ThrowawayPostgres()
        defer { postgres.stop() }
        let url = try postgres.createDatabase("media")
        let endpoint = Binaries.host("camagent-endpoint")
        let keyFile = FileManager.default.temporaryDirectory.appendingPathComponent("camera-media-\(UUID().uuidString).key")
        try String(repeating: "ab", count: 32).write(to: keyFile, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: keyFile) }
        let (enrolled, _, enrollError) = try run(endpoint, ["enroll", "--registry", url, "--id", "cam-1", "--key-file", keyFile.path])
        #expect(enrolled == 0, "\(enrollError)")

        let passwordFile = FileManager.default.temporaryDirectory.appendingPathComponent("camera-media-\(UUID().uuidString).pass")
        try "pg-secret\n".write(to: passwordFile, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: passwordFile) }
        let main = try SQLRegistryStore.open(RegistryLocation(argument: url))
        let backup = try SQLRegistryStore.open(RegistryLocation(argument: url))
        defer { main.close(); backup.close() }
        let before = try main.generation()
        let (set, setOut, setError) = try run(endpoint, [
            "camera", "media", "set", "--registry", url, "--agent", "cam-1", "--target", "rtsp",
            "--path", "/Streaming/Channels/101", "--username", "admin", "--password-file", passwordFile.path,
        ])
        #expect(set == 0 && !setOut.contains("pg-secret"), "\(setOut)\(setError)")
        #expect(try backup.generation() == before + 1)
        #expect(try backup.cameraMediaSettings(agentID: "cam-1", target: "rtsp")?.settings
                == CameraMediaTarget(agentID: "cam-1", target: "rtsp", path: "/Streaming/Channels/101",
                                     credentials: CameraCredentials(username: "admin", password: "pg-secret")))
        // The path alone changes; the password stays.
        _ = try main.setCameraMedia(agentID: "cam-1", target: "rtsp", path: "/Streaming/Channels/102", username: "admin",
                                    password: .keep, at: "2026-12-03T19:00:00Z")
        #expect(try backup.cameraMediaSettings().map(\.settings.credentials?.password) == ["pg-secret"])
        let (_, shown, _) = try run(endpoint, ["camera", "media", "show", "--registry", url])
        #expect(shown.hasPrefix("cam-1/rtsp path /Streaming/Channels/102 user admin password set") && !shown.contains("pg-secret"), "\(shown)")
        #expect(try main.setCameraMedia(agentID: "cam-9", target: "rtsp", path: "/x", username: nil, password: .keep, at: "t") == nil)

        let (cleared, clearedOut, _) = try run(endpoint, ["camera", "media", "clear", "--registry", url, "--agent", "cam-1", "--target", "rtsp"])
        #expect(cleared == 0 && clearedOut == "cleared cam-1/rtsp\n")
        #expect(try backup.cameraMediaSettings().isEmpty && backup.generation() == before + 3)
        #expect(Set(try main.auditTrail(limit: 10).map { "\($0.actor) \($0.action) \($0.target)" })
                == ["cli camera-media-set cam-1/rtsp", "cli camera-media-clear cam-1/rtsp"])
    }
}
