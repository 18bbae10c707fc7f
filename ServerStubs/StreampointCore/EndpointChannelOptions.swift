import CamNIO
import Foundation

/// Checks --endpoint-api and --endpoint-token-file. Errors name the option or the
/// file, never the token.
public enum EndpointChannelOptions {
    public static let path = "/api/streampoint-channel"

    /// `http://HOST:PORT` (the endpoint's API listener) → the channel's `ws://HOST:PORT/api/streampoint-channel`;
    /// https gives wss.
    public static func channelURL(endpointAPI: String) throws -> String {
        var text = endpointAPI
        while text.hasSuffix("/") { text.removeLast() }
        let scheme: String
        let authority: String
        if text.hasPrefix("http://") {
            scheme = "ws://"
            authority = String(text.dropFirst("http://".count))
        } else if text.hasPrefix("https://") {
            scheme = "wss://"
            authority = String(text.dropFirst("https://".count))
        } else {
            throw ValidationFailure("--endpoint-api must be http://HOST:PORT or https://HOST:PORT, got \(endpointAPI)")
        }
        guard !authority.isEmpty, !authority.contains("/"), !authority.contains("@"),
              authority.allSatisfy({ $0.isASCII && !$0.isWhitespace }) else {
            throw ValidationFailure("--endpoint-api must be http://HOST:PORT with no path, got \(endpointAPI)")
        }
        if let port = authority.split(separator: ":").last, authority.contains(":"), !authority.hasSuffix("]") {
            guard let number = Int(port), (1...65535).contains(number) else {
                throw ValidationFailure("--endpoint-api has a bad port: \(endpointAPI)")
            }
        }
        return scheme + authority + path
    }

    /// The bearer token, whitespace trimmed. It goes into an HTTP header, so
    /// anything but visible ASCII is refused.
    public static func readToken(path: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ValidationFailure("cannot read --endpoint-token-file \(path)")
        }
        let token = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard !token.isEmpty else { throw ValidationFailure("--endpoint-token-file \(path) is empty") }
        guard token.utf8.allSatisfy({ (0x21...0x7e).contains($0) }) else {
            throw ValidationFailure("--endpoint-token-file \(path) must hold one token (visible ASCII, no spaces)")
        }
        return token
    }
}
