import ArgumentParser
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

@main
struct SimCam: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "camagent-simcam",
        abstract: "A simulated IP camera: RTSP H.264/H.265 streams (with AAC audio) and an HTTP JPEG snapshot.",
        discussion: """
            Stands in for a real IP camera in camagent tests and demos. It serves:

              RTSP  rtsp://HOST:RTSP_PORT/<any path>
                    One H.264 video track (RTP payload type 96, packetization-mode=1),
                    a short clip looped forever at its native frame rate (25 fps for
                    the bundled clip). Only RTP-over-RTSP interleaved TCP transport is
                    offered; UDP SETUPs get 461 Unsupported Transport. Any path and any
                    host:port in the request URL are accepted, so it works through TCP
                    relays. Each client gets an independent stream; a client that stops
                    reading has frames dropped until the next keyframe.

                    With --stream (repeatable) it serves several streams, each at its own
                    path, as a camera serves its main and sub streams:
                      --stream /main=main.h264,audio=main.aac --stream /sub=sub.h264
                    A stream with audio has a second track (trackID=1): AAC from the
                    ADTS file, RTP payload type 97, RFC 3640 AAC-hbr, looping in step
                    with the video. Paths then match exactly (a track's /trackID=N may
                    follow), / serves the --clip (or bundled) stream, and any other path
                    is answered 404 Not Found.

              With --rtsp-user NAME --rtsp-password-file FILE, every RTSP request but
              OPTIONS needs that user's credentials: without or with wrong ones it gets
              401 Unauthorized with WWW-Authenticate (Digest MD5 with qop=auth, or Basic
              with --rtsp-auth basic), as real cameras answer.

              HTTP  http://HOST:HTTP_PORT/snapshot.jpg   (GET or HEAD; image/jpeg)
                    http://HOST:HTTP_PORT/                (small index page)

            The bundled media (320x240 testsrc clip, 640x480 snapshot) comes from
            Scripts/make-simcam-media; use --clip/--snapshot to serve your own. A clip
            must be a raw Annex-B H.264 stream with SPS/PPS and at least one IDR, without
            B-frames, e.g.:
              ffmpeg -i in.mp4 -c:v libx264 -bf 0 -g 25 -f h264 clip.h264
            and audio an ADTS AAC stream, e.g.:
              ffmpeg -i in.mp4 -vn -c:a aac -ac 1 -f adts audio.aac
            Scripts/make-simcam-media --realistic makes a 1080p main stream with audio
            and a 640x360 substream in .build/simcam-media.

            Port 0 picks a free port. Once listening, exactly one line per listener
            is printed to stdout (and flushed), which scripts can parse:
              simcam: rtsp listening on 127.0.0.1:41234
              simcam: http listening on 127.0.0.1:41235
            Connections and errors are logged to stderr. SIGINT/SIGTERM exit cleanly.

            Examples:
              camagent-simcam --rtsp-port 8554 --http-port 8080
              ffprobe -rtsp_transport tcp -count_frames -select_streams v:0 \\
                  -show_entries stream=nb_read_frames -read_intervals %+4 \\
                  rtsp://127.0.0.1:8554/stream
              ffplay -rtsp_transport tcp rtsp://127.0.0.1:8554/stream
              curl -o snap.jpg http://127.0.0.1:8080/snapshot.jpg
              M=.build/simcam-media   # Scripts/make-simcam-media --realistic
              camagent-simcam --stream /main=$M/main-h264.h264,audio=$M/main-h264.aac \\
                  --stream /sub=$M/sub-h264.h264
            """
    )

    @Option(help: "TCP port for RTSP (0 = pick a free port).")
    var rtspPort: Int = 8554

    @Option(help: "TCP port for the HTTP snapshot server (0 = pick a free port).")
    var httpPort: Int = 8080

    @Option(help: "Address to listen on, for both servers.")
    var bind: String = "127.0.0.1"

    @Option(help: ArgumentHelp("Annex-B H.264 file to loop instead of the bundled clip; a name ending .h265 or .hevc is read as H.265.", valueName: "file"))
    var clip: String?

    @Option(help: ArgumentHelp("JPEG file to serve at /snapshot.jpg instead of the bundled one.", valueName: "file"))
    var snapshot: String?

    @Option(name: .customLong("stream"),
            help: ArgumentHelp("Serve another stream at PATH: an Annex-B video file (.h265/.hevc read as H.265), optionally with ADTS AAC audio. Repeatable.",
                               valueName: "/PATH=FILE[,audio=FILE]"))
    var streams: [String] = []

    @Option(help: ArgumentHelp("Ask RTSP clients for this user's credentials (401 with WWW-Authenticate on every request but OPTIONS).", valueName: "name"))
    var rtspUser: String?

    @Option(help: ArgumentHelp("File holding the --rtsp-user password (one trailing newline dropped).", valueName: "file"))
    var rtspPasswordFile: String?

    @Option(help: ArgumentHelp("How to ask: digest (MD5, qop=auth) or basic.", valueName: "digest|basic"))
    var rtspAuth: RTSPAuthPolicy.Scheme = .digest

    func validate() throws {
        for (name, port) in [("--rtsp-port", rtspPort), ("--http-port", httpPort)] where !(0...65535).contains(port) {
            throw ValidationError("\(name) must be between 0 and 65535, got \(port)")
        }
    }

    func run() throws {
        let clipBytes = try loadMedia(override: clip, resource: "clip", ext: "h264")
        let defaultStream = SimStream(path: "/", clip: try StreamCatalog.loadClip(bytes: clipBytes, named: clip), audio: nil)
        var extraStreams: [SimStream] = []
        for option in streams {
            let (path, video, audio) = try StreamCatalog.parseOption(option)
            guard !extraStreams.contains(where: { $0.path == path }) else { throw StartupError("--stream \(path) given twice") }
            extraStreams.append(try StreamCatalog.loadStream(path: path, video: video, audio: audio))
        }
        let catalog = StreamCatalog(defaultStream: defaultStream, extra: extraStreams)
        let jpeg = try loadMedia(override: snapshot, resource: "snapshot", ext: "jpg")
        if !(jpeg.count > 2 && jpeg[0] == 0xFF && jpeg[1] == 0xD8) {
            logEvent("warning: snapshot does not start with a JPEG SOI marker; serving it anyway")
        }
        for stream in [defaultStream] + extraStreams {
            logEvent("clip \(stream.summary)\(catalog.anyPathIsDefault ? " (served at any path)" : "")")
        }

        let group = MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount)
        defer { try? group.syncShutdownGracefully() }

        // Signal handling is armed before the "listening" lines are printed, so
        // a test that reads them and immediately sends SIGTERM gets a clean exit.
        // The listeners are closed once bound; the event loop group shutdown
        // then closes every client connection.
        let shutdown = group.next().makePromise(of: Int32.self)
        let signalQueue = DispatchQueue(label: "simcam.signals")
        let signalSources = [SIGINT, SIGTERM].map { sig -> DispatchSourceSignal in
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: signalQueue)
            source.setEventHandler { shutdown.succeed(sig) }
            source.resume()
            return source
        }
        defer { shutdown.succeed(0) }  // never leave a promise unfulfilled

        var rtspConfig = RTSPServerConfig(catalog: catalog)
        rtspConfig.auth = try RTSPAuthPolicy.load(username: rtspUser, passwordFile: rtspPasswordFile, scheme: rtspAuth)
        if let auth = rtspConfig.auth { logEvent("rtsp: \(auth.scheme.rawValue) authentication for user \(auth.username)") }
        let rtsp = try ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 64)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            // Bounds per-client buffering: once this much is queued the channel
            // turns unwritable and the streamer starts dropping frames.
            .childChannelOption(.writeBufferWaterMark, value: .init(low: 64 * 1024, high: 256 * 1024))
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(RTSPStreamDecoder()))
                    try channel.pipeline.syncOperations.addHandler(RTSPConnectionHandler(config: rtspConfig))
                }
            }
            .bind(host: bind, port: rtspPort).wait(orExplain: "rtsp", bind, rtspPort)
        // Registered right away so a signal during the HTTP bind is not lost.
        shutdown.futureResult.whenSuccess { sig in
            if sig != 0 { logEvent("received signal \(sig), shutting down") }
            rtsp.close(promise: nil)
        }
        announce("rtsp", rtsp)

        let snapshotBuffer = ByteBuffer(bytes: jpeg)
        let http: Channel
        do {
            http = try ServerBootstrap(group: group)
                .serverChannelOption(.backlog, value: 64)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                        try channel.pipeline.syncOperations.addHandler(SnapshotHTTPHandler(snapshot: snapshotBuffer))
                    }
                }
                .bind(host: bind, port: httpPort).wait(orExplain: "http", bind, httpPort)
        } catch {
            try? rtsp.close().wait()
            throw error
        }
        shutdown.futureResult.whenSuccess { _ in http.close(promise: nil) }
        announce("http", http)

        _ = try withExtendedLifetime(signalSources) {
            try rtsp.closeFuture.and(http.closeFuture).wait()
        }
    }

    private func announce(_ name: String, _ channel: Channel) {
        print("simcam: \(name) listening on \(formatAddress(channel.localAddress))")
        fflush(stdout)
    }

    private func loadMedia(override path: String?, resource: String, ext: String) throws -> [UInt8] {
        let url: URL
        if let path {
            url = URL(fileURLWithPath: path)
        } else if let bundled = bundledMediaURL(resource, ext) {
            url = bundled
        } else {
            throw StartupError(
                "bundled \(resource).\(ext) not found (resource bundle missing next to the executable); "
                    + "pass --\(resource == "clip" ? "clip" : "snapshot") FILE")
        }
        do {
            return Array(try Data(contentsOf: url))
        } catch {
            throw StartupError("cannot read \(url.path): \(error.localizedDescription)")
        }
    }

    private func bundledMediaURL(_ name: String, _ ext: String) -> URL? {
        // SwiftPM's generated Bundle.module traps if the resource bundle is
        // missing (e.g. the binary was copied elsewhere), so only touch it
        // when the bundle is known to sit next to the executable.
        let bundleName = "camagent_camagent-simcam.resources"
        let executableDir = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        let dirs = [Bundle.main.bundleURL, executableDir]
        if dirs.contains(where: { FileManager.default.fileExists(atPath: $0.appendingPathComponent(bundleName).path) }),
            let url = Bundle.module.url(forResource: name, withExtension: ext, subdirectory: "Media")
        {
            return url
        }
        // Running from a source checkout with a relocated binary: use the tree.
        let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Media").appendingPathComponent("\(name).\(ext)")
        return FileManager.default.fileExists(atPath: source.path) ? source : nil
    }
}

/// Startup failures are reported as one plain line (no usage text: the
/// arguments were fine, the environment was not).
struct StartupError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension EventLoopFuture where Value == Channel {
    fileprivate func wait(orExplain service: String, _ host: String, _ port: Int) throws -> Channel {
        do {
            return try wait()
        } catch {
            throw StartupError("cannot listen for \(service) on \(host):\(port): \(error)")
        }
    }
}
