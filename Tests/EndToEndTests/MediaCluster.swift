import Foundation

/// A cluster whose streampoint serves media (--rtsp, --web) and holds the
/// streampoint channel to the real endpoint, which brings the viewer-token keys.
extension Cluster {
    struct MediaPorts {
        var rtsp: Int
        var web: Int
        var admin: Int
    }

    /// After `startServers()`: restarts the streampoint on its agent port with the
    /// channel to the endpoint's API and both media outputs, and waits until the
    /// viewer keys have arrived.
    func startMediaStreampoint(extraArguments: [String] = []) throws -> MediaPorts {
        try addToken(name: "sp1-channel", role: "streampoint")
            .write(toFile: path("sp.token"), atomically: true, encoding: .utf8)
        streampoint.stop()
        streampoint = try spawn("streampoint-media", Binaries.host("camagent-streampoint"), [
            "--id", "sp1", "--listen", "127.0.0.1:\(streampointPort)", "--admin", "127.0.0.1:0",
            "--ticket-key-file", path("ticket.key"),
            "--endpoint-api", "http://127.0.0.1:\(endpointAdminPort)", "--endpoint-token-file", path("sp.token"),
            "--rtsp", "127.0.0.1:0", "--web", "127.0.0.1:0",
        ] + extraArguments)
        _ = try streampoint.waitForLine(startingWith: "streampoint: agents listening on ")
        let admin = try port(fromAnnouncement: streampoint.waitForLine(startingWith: "streampoint: admin listening on "))
        let rtsp = try port(fromAnnouncement: streampoint.waitForLine(startingWith: "streampoint: rtsp listening on "))
        let web = try port(fromAnnouncement: streampoint.waitForLine(startingWith: "streampoint: web listening on "))
        let deadline = Date().addingTimeInterval(15)
        while !streampoint.stderr.contains("viewer-token keys from the endpoint"), Date() < deadline {
            Thread.sleep(forTimeInterval: 0.05)
        }
        guard streampoint.stderr.contains("viewer-token keys from the endpoint") else {
            throw ClusterError("the streampoint never received the viewer-token keys\n\(allLogs)")
        }
        return MediaPorts(rtsp: rtsp, web: web, admin: admin)
    }

    /// The whole cluster with a media streampoint, and the agent registered there.
    /// `agentConfig` writes the agent's config once simcam's ports are known (default: `agentConfig()`).
    func startMediaCamera(simcamArguments: [String] = [], streampointArguments: [String] = [],
                          agentConfig: ((Cluster) -> String)? = nil) throws -> MediaPorts {
        try startServers(simcamArguments: simcamArguments)
        let ports = try startMediaStreampoint(extraArguments: streampointArguments)
        try startAgent(config: agentConfig?(self))
        _ = try viewerURL(target: "rtsp")
        return ports
    }

    /// The servers and the media streampoint, with a second camera enrolled
    /// (same key) whose tokens must not open this camera's streams.
    func startMediaServersWithASecondCamera(_ otherAgentID: String) throws -> MediaPorts {
        try startServers()
        let (enrolled, _, enrollError) = try run(Binaries.host("camagent-endpoint"), [
            "enroll", "--registry", registry, "--id", otherAgentID, "--key-file", path("device.key"),
        ])
        guard enrolled == 0 else { throw ClusterError("enrolling \(otherAgentID) failed: \(enrollError)") }
        return try startMediaStreampoint()
    }

    /// A viewer token from the endpoint's API, as an operator's portal would get one.
    func viewerToken(agent: String? = nil, target: String = "rtsp", ttlSeconds: Int = 600) throws -> String {
        let answer = try apiRequest(port: endpointAdminPort, "POST", "/api/agents/\(agent ?? agentID)/viewer-token",
                                    headers: ["Authorization: Bearer \(adminToken)"],
                                    body: #"{"target":"\#(target)","ttl_seconds":\#(ttlSeconds)}"#)
        guard answer.code == 200,
              let object = try JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [String: Any],
              let token = object["token"] as? String
        else { throw ClusterError("viewer-token request failed: \(answer)") }
        return token
    }

    /// How many tunnels the agent has opened to `target` (its log line per TUNNEL_OPEN it served).
    func tunnelsOpened(toPort port: Int) -> Int {
        (agent?.stderr ?? "").components(separatedBy: ": open to 127.0.0.1:\(port)").count - 1
    }

    /// How many of the agent's tunnels have finished (its log line per tunnel closed).
    func tunnelsClosed() -> Int {
        (agent?.stderr ?? "").components(separatedBy: ": closed (").count - 1
    }

    /// The bytes the agent has sent up its finished tunnels, from a fresh
    /// AGENT_STATS asked for through the endpoint's API (STATS_REQUEST).
    func agentBytesToStreampoint() throws -> Int {
        let (code, answer) = try endpointPost("/api/agents/\(agentID)/stats")
        guard code == 200, let stats = answer["stats"] as? [String: Any], let counters = stats["counters"] as? [String: Any],
              let bytes = (counters["bytesToStreampoint"] as? NSNumber)?.intValue
        else { throw ClusterError("no bytesToStreampoint in the agent's stats: \(answer)") }
        return bytes
    }
}

/// The realistic camera streams (Scripts/make-simcam-media --realistic), made
/// once into the build's cache and reused: generated media is never committed.
func realisticMedia() throws -> URL {
    let directory = Binaries.repository.appendingPathComponent(".build/simcam-media")
    let script = Binaries.repository.appendingPathComponent("Scripts/make-simcam-media").path
    let (status, out, err) = try run("/bin/bash", [script, "--realistic", directory.path], timeout: 900)
    guard status == 0 else { throw ClusterError("make-simcam-media --realistic failed (\(status)): \(out) \(err)") }
    return directory
}

/// Saves a `/live/…` WebSocket's media segments, kind bytes stripped, to `file`
/// for `seconds` (a playable fragmented MP4, as a browser would get it);
/// returns the first (`init`) text message.
func saveLiveOutput(_ url: String, to file: String, seconds: Int) throws -> String {
    let client = """
    import sys, time, websocket
    ws = websocket.create_connection(sys.argv[1], timeout=10)
    init = ws.recv()
    print(init)
    end = time.time() + float(sys.argv[3])
    with open(sys.argv[2], "wb") as out:
        while time.time() < end:
            message = ws.recv()
            if isinstance(message, bytes) and message:
                out.write(message[1:])
    ws.close()
    """
    let (status, initMessage, error) = try run("/usr/bin/python3", ["-c", client, url, file, "\(seconds)"], timeout: 60)
    guard status == 0 else { throw ClusterError("the WebSocket client of \(url) failed (\(status)): \(error)") }
    return initMessage
}

/// One stream as ffprobe reports it: `codec_type`, `codec_name`, size, and the
/// frames it decoded (`-count_frames`).
struct ProbedStream {
    var type: String
    var codec: String
    var width: Int
    var height: Int
    var frames: Int
}

/// Every stream of `input` (an RTSP URL, read for `seconds`, or a file), decoded by ffprobe.
func probeStreams(_ input: String, seconds: Int? = nil) throws -> [ProbedStream] {
    guard let ffprobe = which("ffprobe") else { throw ClusterError("ffprobe is not installed (Scripts/test installs ffmpeg)") }
    var arguments = ["-v", "error", "-count_frames", "-show_entries", "stream=codec_type,codec_name,width,height,nb_read_frames",
                     "-of", "json"]
    if input.hasPrefix("rtsp://") { arguments += ["-rtsp_transport", "tcp"] }
    if let seconds { arguments += ["-read_intervals", "%+\(seconds)"] }
    let (status, out, err) = try run(ffprobe, arguments + [input], timeout: 90)
    guard status == 0, let object = try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any],
          let streams = object["streams"] as? [[String: Any]] else {
        throw ClusterError("ffprobe \(input) failed (status \(status)): \(out) \(err)")
    }
    return streams.map { stream in
        ProbedStream(type: stream["codec_type"] as? String ?? "", codec: stream["codec_name"] as? String ?? "",
                     width: stream["width"] as? Int ?? 0, height: stream["height"] as? Int ?? 0,
                     frames: Int(stream["nb_read_frames"] as? String ?? "") ?? 0)
    }
}
