import Foundation
import HummingbirdWSClient
import Logging
import NIOConcurrencyHelpers
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// One HTTP request to the endpoint's API listener with curl; returns (status, headers, body).
func apiRequest(port: Int, _ method: String, _ path: String, headers: [String] = [], body: String? = nil)
    throws -> (code: Int, headers: String, body: String) {
    let curl = try #require(which("curl"), "curl is not installed")
    var arguments = ["-sS", "--max-time", "10", "-D", "-", "-o", "-", "-w", "\n%{http_code}", "-X", method]
    for header in headers { arguments += ["-H", header] }
    if let body { arguments += ["-H", "Content-Type: application/json", "-d", body] }
    let (status, out, err) = try run(curl, arguments + ["http://127.0.0.1:\(port)\(path)"])
    guard status == 0, let split = out.lastIndex(of: "\n"), let code = Int(out[out.index(after: split)...]) else {
        throw ClusterError("curl \(method) \(path) failed: \(err)")
    }
    let response = String(out[..<split])
    let parts = response.components(separatedBy: "\r\n\r\n")
    return (code, parts.first ?? "", parts.dropFirst().joined(separator: "\r\n\r\n"))
}

extension EndToEnd {
/// /api/ needs a bearer token made by `camagent-endpoint token add`; roles
/// decide what it opens. A real endpoint process and the real CLI.
@Suite struct APIAuthTests {
    @Test func tokensGuardTheAPI() throws {
        let cluster = try Cluster()
        defer { cluster.stop(); cluster.removeDirectory() }
        try cluster.startServers()
        let port = cluster.endpointAdminPort

        // No token, a wrong one, a malformed header: 401 JSON with the Bearer challenge.
        for headers in [[], ["Authorization: Bearer cat_wrongwrongwrongwrongwrongwrongwrongwrongwro"], ["Authorization: Basic Zm9vOmJhcg=="]] {
            let answer = try apiRequest(port: port, "GET", "/api/agents", headers: headers)
            #expect(answer.code == 401, "\(headers): \(answer)")
            #expect(answer.headers.lowercased().contains("www-authenticate: bearer"), "\(answer.headers)")
            let object = try JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [String: Any]
            #expect(object?["error"] is String, "\(answer.body)")
        }
        // Unknown paths under /api/ are 401 too without a token, 404 JSON with one.
        #expect(try apiRequest(port: port, "GET", "/api/nothing-here").code == 401)
        let admin = ["Authorization: Bearer \(cluster.adminToken)"]
        let missing = try apiRequest(port: port, "GET", "/api/nothing-here", headers: admin)
        #expect(missing.code == 404 && missing.body.contains("\"error\""), "\(missing)")
        // The old unprefixed routes are gone; /health stays open and says nothing.
        #expect(try apiRequest(port: port, "GET", "/agents", headers: admin).code == 404)
        let health = try apiRequest(port: port, "GET", "/health")
        #expect(health.code == 200 && health.body.contains("\"ok\""), "\(health)")

        // An admin token opens /api/ but not the streampoint channel.
        let agents = try apiRequest(port: port, "GET", "/api/agents", headers: admin)
        #expect(agents.code == 200 && agents.body.contains(cluster.agentID), "\(agents)")
        #expect(try apiRequest(port: port, "GET", "/api/streampoint-channel", headers: admin).code == 403)
        // A streampoint token opens only the channel.
        let spToken = try cluster.addToken(name: "sp-test", role: "streampoint")
        let spOnAgents = try apiRequest(port: port, "GET", "/api/agents", headers: ["Authorization: Bearer \(spToken)"])
        #expect(spOnAgents.code == 403 && spOnAgents.body.contains("\"error\""), "\(spOnAgents)")
        // Bad input is a 4xx JSON error, never a 5xx.
        let badBody = try apiRequest(port: port, "POST", "/api/agents/\(cluster.agentID)/revoke", headers: admin, body: "{")
        #expect(badBody.code == 400 && badBody.body.contains("\"error\""), "\(badBody)")
        #expect(try apiRequest(port: port, "DELETE", "/api/agents", headers: admin).code == 405)

        // `token list` names tokens and never shows one; a name is taken once.
        let (listStatus, list, _) = try run(Binaries.host("camagent-endpoint"), ["token", "list", "--registry", cluster.registry])
        #expect(listStatus == 0 && list.contains("e2e-admin\tadmin") && list.contains("sp-test\tstreampoint"), "\(list)")
        #expect(!list.contains("cat_") && !list.contains(cluster.adminToken), "\(list)")
        #expect(list.contains("last used 20"), "the admin token's use is recorded: \(list)")
        let (dupStatus, _, dupErr) = try run(Binaries.host("camagent-endpoint"),
                                             ["token", "add", "--registry", cluster.registry, "--name", "sp-test"])
        #expect(dupStatus != 0 && dupErr.contains("exists already"), "\(dupErr)")
        // The registry holds only hashes.
        for file in [cluster.registry, cluster.registry + "-wal"] {
            guard let bytes = FileManager.default.contents(atPath: file) else { continue }
            #expect(bytes.range(of: Data(cluster.adminToken.utf8)) == nil, "a token is stored in clear in \(file)")
        }

        // A revoked token stops working within about a second (bounded wait).
        let (revokeStatus, revokeOut, revokeErr) = try run(Binaries.host("camagent-endpoint"),
                                                           ["token", "revoke", "--registry", cluster.registry, "--name", "e2e-admin"])
        #expect(revokeStatus == 0 && revokeOut.contains("revoked token e2e-admin"), "\(revokeErr)")
        let deadline = Date().addingTimeInterval(10)
        var code = 0
        while Date() < deadline {
            code = try apiRequest(port: port, "GET", "/api/agents", headers: admin).code
            if code == 401 { break }
            Thread.sleep(forTimeInterval: 0.2)
        }
        #expect(code == 401, "a revoked token still works")
        #expect(!cluster.endpoint.stderr.contains(cluster.adminToken), "a token reached the log")
    }
}
}
