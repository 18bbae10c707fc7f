import CamNIO
import CamProtocol
import Foundation
import Hummingbird
import Logging
import NIOConcurrencyHelpers
import NIOCore

/// `Authorization: Bearer cat_…` against the registry's api_tokens. The token
/// list is read at most once a second (a `token revoke` at any endpoint counts
/// within about a second) and compared by hash, in constant time, against
/// every row, so timing tells nothing about which hash came close.
public final class BearerTokenAuthenticator: APIAuthenticator, @unchecked Sendable {
    private struct Cache {
        var tokens: [(record: APITokenRecord, hash: [UInt8])] = []
        var loadedAt: NIODeadline?
        /// When each token's last_used_at was last written, to write it at most once a minute.
        var usedWrittenAt: [String: NIODeadline] = [:]
    }

    private let worker: RegistryWorker
    private let loop: EventLoop
    private let cache = NIOLockedValueBox(Cache())
    static let cacheLifetime = TimeAmount.seconds(1)
    static let lastUsedInterval = TimeAmount.seconds(60)
    static let missReloadInterval = TimeAmount.milliseconds(250)

    public init(worker: RegistryWorker, loop: EventLoop) {
        self.worker = worker
        self.loop = loop
    }

    public func authenticate(_ request: Request, context: APIRequestContext) async throws -> APIPrincipal? {
        try await principal(authorization: request.headers[.authorization])
    }

    /// The token's principal for an Authorization header value; nil without a
    /// bearer token, APIError 401 for a token that is not (or no longer) valid.
    public func principal(authorization header: String?) async throws -> APIPrincipal? {
        guard let header else { return nil }
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        let presented = APIToken.hash(String(parts[1]).trimmingCharacters(in: .whitespaces))
        var match = Self.find(presented, in: try await currentTokens())
        if match == nil, let fresher = try await reloadAfterMiss() {
            // A token made a moment ago (the cache is up to a second old).
            match = Self.find(presented, in: fresher)
        }
        guard let match else {
            throw APIError(.unauthorized, "unknown or revoked bearer token", headers: APIAuthMiddleware.challenge(error: "invalid_token"))
        }
        noteUse(of: match.name)
        return APIPrincipal(name: match.name, role: match.role, kind: .token)
    }

    /// Every row is compared, so the time taken does not depend on which one matched.
    private static func find(_ presented: [UInt8], in tokens: [(record: APITokenRecord, hash: [UInt8])]) -> APITokenRecord? {
        var match: APITokenRecord?
        for token in tokens where constantTimeEqual(token.hash, presented) { match = token.record }
        return match
    }

    private func currentTokens() async throws -> [(record: APITokenRecord, hash: [UInt8])] {
        let now = NIODeadline.now()
        if let cached = cache.withLockedValue({ cache -> [(record: APITokenRecord, hash: [UInt8])]? in
            guard let loadedAt = cache.loadedAt, now - loadedAt < Self.cacheLifetime else { return nil }
            return cache.tokens
        }) { return cached }
        return try await load(now: now)
    }

    /// After an unknown token, re-reads the table unless it was read in the last
    /// quarter second: wrong tokens cannot make the registry busy.
    private func reloadAfterMiss() async throws -> [(record: APITokenRecord, hash: [UInt8])]? {
        let now = NIODeadline.now()
        let recent = cache.withLockedValue { cache in cache.loadedAt.map { now - $0 < Self.missReloadInterval } ?? false }
        guard !recent else { return nil }
        return try await load(now: now)
    }

    private func load(now: NIODeadline) async throws -> [(record: APITokenRecord, hash: [UInt8])] {
        let records: [APITokenRecord]
        do {
            records = try await worker.run(on: loop) { store in try store.apiTokens() }.get()
        } catch {
            throw APIError(.serviceUnavailable, "registry unavailable, cannot check the token; retry later")
        }
        let tokens = records.compactMap { record in Hex.decode(record.hash).map { (record: record, hash: $0) } }
        cache.withLockedValue { cache in
            cache.tokens = tokens
            cache.loadedAt = now
        }
        return tokens
    }

    private func noteUse(of name: String) {
        let now = NIODeadline.now()
        let due = cache.withLockedValue { cache -> Bool in
            if let last = cache.usedWrittenAt[name], now - last < Self.lastUsedInterval { return false }
            cache.usedWrittenAt[name] = now
            return true
        }
        guard due else { return }
        let at = isoTimestamp()
        worker.run(on: loop) { store in try store.markAPITokenUsed(name: name, at: at) }.whenFailure { error in
            APILog.logger.debug("token \(name): last use not recorded: \(error)")
        }
    }
}
