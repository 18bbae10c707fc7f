@testable import EndpointCore
import CamNIO
import CamProtocol
import Foundation
import Testing

/// Bearer tokens for /api/: their format, their hash, and the api_tokens rows
/// (migration 2) on a real SQLite file.
@Suite struct APITokenTests {
    @Test func tokensAreRecognisableAndRandom() {
        let a = APIToken.generate(), b = APIToken.generate()
        #expect(a != b)
        for token in [a, b] {
            #expect(token.hasPrefix("cat_") && token.utf8.count == 4 + 43, "\(token)")
            #expect(token.dropFirst(4).allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") })
        }
        // RFC 4648 test vectors, base64url without padding.
        #expect(APIToken.base64URL(Array("f".utf8)) == "Zg")
        #expect(APIToken.base64URL(Array("foob".utf8)) == "Zm9vYg")
        #expect(APIToken.base64URL(Array("foobar".utf8)) == "Zm9vYmFy")
        #expect(APIToken.base64URL([0xfb, 0xff]) == "-_8")
        // SHA-256("abc"), FIPS 180-2.
        #expect(APIToken.hashHex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test func tokensAreStoredAsHashesListedAndRevoked() throws {
        let scratch = try RegistryStoreTests.Scratch()
        let store = try scratch.open()
        defer { store.close() }
        #expect(try store.apiTokens().isEmpty)
        let token = APIToken.generate()
        try store.addAPIToken(APITokenRecord(name: "ops", role: .admin, hash: APIToken.hashHex(token), createdAt: "2026-01-01T00:00:00Z"))
        try store.addAPIToken(APITokenRecord(name: "sp1", role: .streampoint, hash: APIToken.hashHex(APIToken.generate()), createdAt: "t"))
        #expect {
            try store.addAPIToken(APITokenRecord(name: "ops", role: .admin, hash: "00", createdAt: "t"))
        } throws: { error in
            "\(error)".contains("exists already")
        }
        var tokens = try store.apiTokens()
        #expect(tokens.map(\.name) == ["ops", "sp1"] && tokens.map(\.role) == [.admin, .streampoint])
        #expect(tokens[0].hash == APIToken.hashHex(token) && tokens[0].lastUsedAt == nil)
        try store.markAPITokenUsed(name: "ops", at: "2026-01-02T00:00:00Z")
        tokens = try store.apiTokens()
        #expect(tokens[0].lastUsedAt == "2026-01-02T00:00:00Z")
        #expect(try store.revokeAPIToken(name: "ops"))
        #expect(try !store.revokeAPIToken(name: "ops"))
        #expect(try store.apiTokens().map(\.name) == ["sp1"])
    }

    @Test func aSchemaOneRegistryGainsTheTokenTable() throws {
        let scratch = try RegistryStoreTests.Scratch()
        let store = try scratch.open()
        _ = try store.enroll(agentID: "cam-1", verifierHex: RegistryStoreTests.verifier, streampoint: nil)
        // Back to how a release with only migration 1 left it.
        try store.database.transaction { session in
            try session.execute("DROP TABLE api_tokens", [])
            // And the console's tables of migration 3.
            for table in ["console_sessions", "operators", "audit"] { try session.execute("DROP TABLE \(table)", []) }
            // And the viewer-token keys of migration 4.
            try session.execute("DROP TABLE viewer_token_keys", [])
            // And the camera media settings of migration 5.
            try session.execute("DROP TABLE camera_media", [])
            try session.execute("UPDATE registry_meta SET value = 1 WHERE name = 'schema'", [])
        }
        store.close()
        let reopened = try scratch.open()
        defer { reopened.close() }
        #expect(try reopened.snapshot().registry["cam-1"] != nil)
        try reopened.addAPIToken(APITokenRecord(name: "ops", role: .admin, hash: "ab", createdAt: "t"))
        #expect(try reopened.apiTokens().count == 1)
        #expect(try reopened.viewerTokenKeys().isEmpty, "migration 4 ran too")
    }
}

/// The streampoint channel's frames (docs/PROTOCOL.md "Streampoint channel"):
/// one codec (CamNIO) for both ends.
@Suite struct StreampointChannelFrameTests {
    @Test func helloLoadAndUnknownTypesParse() throws {
        #expect(try StreampointChannelFrame.parse(#"{"type":"hello","version":1,"streampoint":"sp1"}"#)
                == .hello(version: 1, streampoint: "sp1"))
        #expect(try StreampointChannelFrame.parse(#"{"type":"load","agents":3,"tunnels":5,"viewers":5,"bytesToViewers":123,"bytesFromViewers":45}"#)
                == .load(StreampointLoad(agents: 3, tunnels: 5, viewers: 5, bytesToViewers: 123, bytesFromViewers: 45)))
        #expect(try StreampointChannelFrame.parse(#"{"type":"recordings","x":[1]}"#) == .unknown(type: "recordings"))
        #expect(try StreampointChannelFrame.parse(#"{"type":"revoked","agents":["a","b","a"]}"#) == .revoked(["a", "b"]))
    }

    @Test func framesEncodeStablyAndRoundTrip() throws {
        let load = StreampointChannelFrame.load(StreampointLoad(agents: 3, tunnels: 5, viewers: 5, bytesToViewers: 123, bytesFromViewers: 45))
        #expect(load.text == #"{"agents":3,"bytesFromViewers":45,"bytesToViewers":123,"tunnels":5,"type":"load","viewers":5}"#)
        let hello = StreampointChannelFrame.hello(version: 1, streampoint: "sp1")
        #expect(hello.text == #"{"streampoint":"sp1","type":"hello","version":1}"#)
        for frame in [load, hello, .revoked(["cam-2", "cam-1"])] {
            #expect(try StreampointChannelFrame.parse(frame.text) == frame)
        }
    }

    @Test func malformedFramesAreRefused() {
        for text in ["{not json", "[]", "7", #"{"kind":"hello"}"#, #"{"type":3}"#,
                     #"{"type":"hello","version":"1","streampoint":"sp1"}"#,
                     #"{"type":"hello","version":1,"streampoint":"bad id\n"}"#,
                     #"{"type":"load","agents":-1,"tunnels":0,"viewers":0,"bytesToViewers":0,"bytesFromViewers":0}"#,
                     #"{"type":"load","agents":1.5,"tunnels":0,"viewers":0,"bytesToViewers":0,"bytesFromViewers":0}"#,
                     #"{"type":"load","agents":true,"tunnels":0,"viewers":0,"bytesToViewers":0,"bytesFromViewers":0}"#,
                     #"{"type":"load","agents":1}"#,
                     #"{"type":"revoked"}"#, #"{"type":"revoked","agents":[1]}"#, #"{"type":"revoked","agents":"a"}"#] {
            #expect(throws: StreampointChannelFrame.Malformed.self, "\(text)") { try StreampointChannelFrame.parse(text) }
        }
    }

    @Test func theRevokedFrameCarriesTheFullSet() throws {
        let text = StreampointChannelFrame.revoked(["cam-2", "cam-1"]).text
        let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        #expect(object["type"] as? String == "revoked" && object["agents"] as? [String] == ["cam-1", "cam-2"])
        #expect(StreampointChannelFrame.revoked([]).text == #"{"agents":[],"type":"revoked"}"#)
    }

    @Test func theHubSendsTheSetOnlyWhenItChanges() async {
        let hub = StreampointHub()
        hub.publishRevoked(["cam-2", "cam-1"])
        let (key, updates) = hub.connect(name: "sp-token", id: "sp1", remoteAddress: "127.0.0.1:1")
        hub.publishRevoked(["cam-1", "cam-2"])
        hub.publishRevoked(["cam-1"])
        hub.recordLoad(StreampointLoad(agents: 1, tunnels: 0, viewers: 0, bytesToViewers: 0, bytesFromViewers: 0), key: key)
        #expect(hub.connections.first?.load?.agents == 1 && hub.connections.first?.id == "sp1")
        hub.end(key: key)
        var signals = 0
        for await _ in updates { signals += 1 }
        // Only the newest signal is kept when the channel lags; it then reads the full current set.
        #expect(signals == 1)
        #expect(hub.currentFrames.revoked == ["cam-1"])
        #expect(hub.connections.isEmpty)
    }
}
