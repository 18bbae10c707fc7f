import Foundation
import NIOCore
import NIOSSL

/// TLS on the agent-facing listener of a server (`--tls-cert FILE --tls-key FILE`),
/// shared by the endpoint and the streampoint; the streampoint's media viewer
/// ports use it too (`--viewer-tls-cert`/`--viewer-tls-key`: https, wss, rtsps).
/// Admin APIs and the passthrough viewer ports stay plain.
///
/// Pipeline of an agent link with TLS:
///   NIOSSLServerHandler → TLSLinkObserver → LinkKeepaliveHandler → ByteToMessageHandler(LinkDecoder) → link handler
/// The keepalive's handshake deadline starts at accept, so it bounds the TLS
/// handshake, the HTTP upgrade and authentication together (slowloris).
public final class AgentLinkTLS: Sendable {
    public static let certificateHelp =
        "PEM certificate for agent links (leaf first, then any intermediates). With --tls-key, every agent link speaks TLS 1.2 or later; without both, agent links are plain TCP (lab use only)."
    public static let keyHelp = "PEM private key of --tls-cert (unencrypted; keep it readable by this server only)."

    public let certificateFile: String
    public let keyFile: String
    public let sslContext: NIOSSLContext
    private let leaf: NIOSSLCertificate

    /// The command-line options a certificate and key came from, for error messages.
    public struct OptionNames: Sendable {
        public var certificate: String
        public var key: String
        /// What the pair secures, e.g. "agent links".
        public var purpose: String

        public init(certificate: String, key: String, purpose: String) {
            self.certificate = certificate
            self.key = key
            self.purpose = purpose
        }

        public static let agentLinks = OptionNames(certificate: "--tls-cert", key: "--tls-key", purpose: "agent links")
    }

    /// Both or neither: nil for plain links, a ValidationFailure for only one of them.
    public static func checkOptions(certificateFile: String?, keyFile: String?, names: OptionNames = .agentLinks) throws {
        switch (certificateFile, keyFile) {
        case (nil, nil), (.some, .some):
            return
        case (.some, nil):
            throw ValidationFailure("\(names.certificate) needs \(names.key) too (give both for TLS on \(names.purpose), or neither for plain TCP)")
        case (nil, .some):
            throw ValidationFailure("\(names.key) needs \(names.certificate) too (give both for TLS on \(names.purpose), or neither for plain TCP)")
        }
    }

    /// Loads the pair if both options are given; nil if neither is.
    public static func load(certificateFile: String?, keyFile: String?, names: OptionNames = .agentLinks) throws -> AgentLinkTLS? {
        try checkOptions(certificateFile: certificateFile, keyFile: keyFile, names: names)
        guard let certificateFile, let keyFile else { return nil }
        return try AgentLinkTLS(certificateFile: certificateFile, keyFile: keyFile, names: names)
    }

    /// Reads and checks the files. Errors name the file and never show its content.
    public init(certificateFile: String, keyFile: String, names: OptionNames = .agentLinks) throws {
        self.certificateFile = certificateFile
        self.keyFile = keyFile
        guard let certificateBytes = FileManager.default.contents(atPath: certificateFile) else {
            throw ValidationFailure("cannot read \(names.certificate) \(certificateFile)")
        }
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMBytes(Array(certificateBytes))
        } catch {
            chain = []
        }
        guard let leaf = chain.first else {
            throw ValidationFailure("\(names.certificate) \(certificateFile) holds no PEM certificate (expected -----BEGIN CERTIFICATE-----)")
        }
        self.leaf = leaf
        guard let keyBytes = FileManager.default.contents(atPath: keyFile) else {
            throw ValidationFailure("cannot read \(names.key) \(keyFile)")
        }
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(bytes: Array(keyBytes), format: .pem)
        } catch {
            throw ValidationFailure("\(names.key) \(keyFile) holds no usable PEM private key (an unencrypted EC or RSA key is expected)")
        }
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        // No server cipher preference (NIOSSL never sets SSL_OP_CIPHER_SERVER_PREFERENCE):
        // the agent's order wins, ChaCha20 first on CPUs without AES hardware
        // (TLSSuiteTests.serversHonourTheClientsOrder).
        do {
            sslContext = try NIOSSLContext(configuration: configuration)
        } catch {
            throw ValidationFailure("\(names.key) \(keyFile) does not match the certificate in \(names.certificate) \(certificateFile) (or cannot be used with it)")
        }
    }

    /// The certificate's validity, in UTC.
    public var notValidBefore: Date { Date(timeIntervalSince1970: TimeInterval(leaf.notValidBefore)) }
    public var notValidAfter: Date { Date(timeIntervalSince1970: TimeInterval(leaf.notValidAfter)) }

    /// "CN x, names a,b" from the leaf, for the startup line (agents check HOST against the names).
    public var names: String {
        // NIOSSLCertificate's description is "<NIOSSLCertificate;serial_number=…;common_name=…;alternative_names=…>".
        let fields = "\(leaf)".trimmingCharacters(in: CharacterSet(charactersIn: "<>")).split(separator: ";")
        func field(_ key: String) -> String? {
            fields.first { $0.hasPrefix(key + "=") }.map { String($0.dropFirst(key.count + 1)) }
        }
        return "CN \(field("common_name") ?? "none"), names \(field("alternative_names") ?? "none")"
    }

    /// Logs once at startup whether agent links are TLS or plain, and warns about
    /// a certificate agents will refuse because of its dates.
    public static func logMode(_ component: String, _ tls: AgentLinkTLS?) {
        guard let tls else {
            ServerLog.warn(component, "agent links are PLAIN TCP (no --tls-cert/--tls-key): tickets and sessions travel unencrypted; lab use only")
            return
        }
        let formatter = ISO8601DateFormatter()
        ServerLog.info(component, "agent links use TLS 1.2+ with certificate \(tls.certificateFile) (\(tls.names)), valid \(formatter.string(from: tls.notValidBefore)) to \(formatter.string(from: tls.notValidAfter))")
        let now = Date()
        if tls.notValidAfter < now {
            ServerLog.warn(component, "certificate \(tls.certificateFile) expired at \(formatter.string(from: tls.notValidAfter)); agents will refuse it")
        } else if tls.notValidBefore > now {
            ServerLog.warn(component, "certificate \(tls.certificateFile) is not valid before \(formatter.string(from: tls.notValidBefore)); agents will refuse it until then")
        }
    }

    /// Puts TLS first in a new agent link's pipeline. Call from the child channel
    /// initializer, before adding LinkKeepaliveHandler.
    public func addHandlers(to channel: Channel, component: String) throws {
        try channel.pipeline.syncOperations.addHandlers([
            NIOSSLServerHandler(context: sslContext),
            TLSLinkObserver(component: component),
        ])
    }

    /// The same for a viewer port, which has no link keepalive: a connection
    /// that has not finished its handshake and sent its first bytes within
    /// `handshakeTimeout` (a plain client waiting for the server to speak, a
    /// slowloris) is closed.
    public func addViewerHandlers(to channel: Channel, component: String, handshakeTimeout: TimeAmount = .seconds(10)) throws {
        try channel.pipeline.syncOperations.addHandlers([
            NIOSSLServerHandler(context: sslContext),
            TLSHandshakeDeadline(timeout: handshakeTimeout, component: component),
            TLSLinkObserver(component: component),
        ])
    }
}

/// Closes a connection that has not completed its TLS handshake and sent its
/// first request in time. Sits right behind NIOSSLServerHandler, where
/// plaintext only ever arrives after a completed handshake, and leaves the
/// pipeline with the first bytes.
final class TLSHandshakeDeadline: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    private let timeout: TimeAmount
    private let component: String
    private var timer: Scheduled<Void>?

    init(timeout: TimeAmount, component: String) {
        self.timeout = timeout
        self.component = component
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let channel = context.channel
        let component = self.component
        let seconds = timeout.nanoseconds / 1_000_000_000
        timer = context.eventLoop.scheduleTask(in: timeout) {
            ServerLog.info(component, "\(describeRemote(channel.remoteAddress)): no TLS handshake and request within \(seconds) s; closing")
            channel.close(promise: nil)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        timer?.cancel()
        timer = nil
        context.fireChannelRead(data)
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}

/// Sits right behind NIOSSLServerHandler. Logs a failed handshake (garbage, plain
/// HTTP, a client that refuses the certificate) at warn with the remote address
/// and closes that connection only; the link handlers never see TLS errors.
/// A peer that closes TCP without close_notify after the handshake is not an
/// error: NIOSSL follows it with channelInactive or inputClosed, which the link
/// handlers already handle.
final class TLSLinkObserver: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let component: String
    private var remote = "?"
    private var established = false

    init(component: String) { self.component = component }

    func handlerAdded(context: ChannelHandlerContext) {
        remote = describeRemote(context.channel.remoteAddress)
    }

    func channelActive(context: ChannelHandlerContext) {
        remote = describeRemote(context.channel.remoteAddress)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if !established {
            // Plaintext only ever arrives after a completed handshake.
            established = true
            let handler = try? context.pipeline.syncOperations.handler(type: NIOSSLServerHandler.self)
            ServerLog.debug(component, "\(remote): TLS established (\(handler?.tlsVersion.map { "\($0)" } ?? "?"))")
        }
        context.fireChannelRead(data)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        switch error {
        case NIOSSLError.uncleanShutdown:
            ServerLog.debug(component, "\(remote): peer closed TCP without TLS close_notify")
        case NIOSSLError.handshakeFailed(.sslError(let stack)) where stack == [.eofDuringHandshake]:
            // A bare TCP connect and close (port scan, load-balancer health check) is not an attack.
            ServerLog.info(component, "\(remote): closed the connection during the TLS handshake")
        case NIOSSLError.handshakeFailed(let cause):
            ServerLog.warn(component, "\(remote): TLS handshake failed: \(Self.explain(cause)); closing")
            context.close(promise: nil)
        case let error as NIOSSLError:
            ServerLog.warn(component, "\(remote): TLS error: \(error); closing")
            context.close(promise: nil)
        case let error as BoringSSLError:
            ServerLog.warn(component, "\(remote): TLS error\(established ? "" : " during the handshake"): \(Self.explain(error)); closing")
            context.close(promise: nil)
        default:
            context.fireErrorCaught(error)
        }
    }

    /// BoringSSL's reason names (no source paths), with a hint for the common cases.
    static func explain(_ error: BoringSSLError) -> String {
        switch error {
        case .sslError(let stack), .unknownError(let stack), .invalidSNIName(let stack), .failedToSetALPN(let stack):
            let reasons = stack.map(reason)
            guard !reasons.isEmpty else { return "\(error)" }
            let hint = reasons.lazy.compactMap(Self.hint).first.map { " (\($0))" } ?? ""
            return reasons.joined(separator: ", ") + hint
        case .zeroReturn:
            return "the peer closed the TLS session"
        case .syscallError:
            return "connection error"
        default:
            return "\(error)"
        }
    }

    private static func reason(_ error: BoringSSLInternalError) -> String {
        if error == .eofDuringHandshake { return "the peer closed the connection during the handshake" }
        // "Error: <n> error:<hex>:<library>:<function>:<REASON> at <file>:<line>"
        let text = error.description
        let head = text.range(of: " at ").map { String(text[..<$0.lowerBound]) } ?? text
        return head.split(separator: ":").last.map(String.init) ?? head
    }

    private static func hint(_ reason: String) -> String? {
        switch reason {
        case "HTTP_REQUEST", "HTTPS_PROXY_REQUEST":
            return "plain HTTP on the TLS port: is the client using http:// instead of https://?"
        case "UNSUPPORTED_PROTOCOL", "TLSV1_ALERT_PROTOCOL_VERSION":
            return "the client offers no TLS version >= 1.2"
        case "NO_SHARED_CIPHER", "NO_SHARED_GROUP", "NO_COMMON_SIGNATURE_ALGORITHMS":
            return "no cipher suite, curve or signature algorithm in common with the client"
        case "TLSV1_ALERT_UNKNOWN_CA", "SSLV3_ALERT_BAD_CERTIFICATE", "SSLV3_ALERT_CERTIFICATE_EXPIRED",
             "SSLV3_ALERT_CERTIFICATE_UNKNOWN", "SSLV3_ALERT_UNSUPPORTED_CERTIFICATE", "TLSV1_ALERT_ACCESS_DENIED",
             "SSLV3_ALERT_CERTIFICATE_REVOKED", "TLSV1_ALERT_DECRYPT_ERROR":
            return "the client refused this server's certificate"
        case "WRONG_VERSION_NUMBER", "UNKNOWN_PROTOCOL", "BAD_PACKET_LENGTH", "RECORD_TOO_LARGE", "DECODE_ERROR",
             "ENCRYPTED_LENGTH_TOO_LONG", "UNEXPECTED_RECORD", "DECRYPTION_FAILED_OR_BAD_RECORD_MAC":
            return "bytes that are not TLS, or a client that gave up mid-handshake, e.g. refusing this certificate"
        default:
            return nil
        }
    }
}
