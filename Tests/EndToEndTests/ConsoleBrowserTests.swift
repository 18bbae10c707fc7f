import Foundation
import Testing

/// The web console in a real browser against a running cluster (endpoint,
/// streampoint, simcam, agent): headless Chromium driven over the DevTools
/// protocol by Scripts/lib/console-browser.py. It logs in, finds the camera
/// online, presses Reboot and reads the COMMAND_RESULT, visits every page
/// (screenshots in .build/test-artifacts/console/), and the DOM is checked,
/// not only the pictures. Without Chromium the test fails, naming the package.
@Suite(.serialized) struct ConsoleBrowserTests {
    static var artifacts: URL {
        Binaries.repository.appendingPathComponent(".build/test-artifacts/console")
    }

    /// curl against the admin listener with a cookie jar; returns (status, headers, body).
    static func curl(_ cluster: Cluster, _ method: String, _ path: String, jar: String? = nil, headers: [String] = [],
                     body: String? = nil) throws -> (Int, String, String) {
        let curl = try #require(which("curl"), "curl is not installed")
        let headerFile = cluster.path("curl-headers-\(UUID().uuidString)")
        var arguments = ["-sS", "--max-time", "20", "-D", headerFile, "-o", "-", "-w", "\n%{http_code}", "-X", method]
        if let jar { arguments += ["-b", jar, "-c", jar] }
        for header in headers { arguments += ["-H", header] }
        if let body { arguments += ["--data-binary", body] }
        let (status, out, err) = try run(curl, arguments + ["http://127.0.0.1:\(cluster.endpointAdminPort)\(path)"])
        guard status == 0, let split = out.lastIndex(of: "\n"), let code = Int(out[out.index(after: split)...]) else {
            throw ClusterError("curl \(method) \(path) failed: \(err)")
        }
        let received = (try? String(contentsOfFile: headerFile, encoding: .utf8)) ?? ""
        return (code, received, String(out[..<split]))
    }

    @Test func anOperatorUsesTheConsoleInHeadlessChromium() throws {
        // Debian's python3: python3-websocket is installed for it, not for a python3 earlier on PATH (pyenv).
        let python = "/usr/bin/python3"
        guard FileManager.default.isExecutableFile(atPath: python) else { throw ClusterError("\(python) is not installed (Scripts/test installs python3)") }
        guard which("chromium") != nil || which("chromium-browser") != nil else {
            throw ClusterError("chromium is not installed: the console's browser test needs Debian's chromium and python3-websocket (Scripts/test installs both: apt-get install chromium python3-websocket)")
        }
        let cluster = try Cluster()
        defer { cluster.stop(); cluster.removeDirectory() }
        try cluster.startServers()
        let touch = try #require(which("touch"))
        let marker = cluster.path("rebooted-marker")
        let agent = try cluster.startAgent(config: cluster.agentConfig(extra: "reboot_command = \(touch) \(marker)\n"))
        try agent.waitForStderr("authenticated to ")
        try cluster.waitForAgentView(cluster.agentID, timeout: 30, "came online") { $0["online"] as? Bool == true }

        // An operator with a generated one-time password, as an admin would make one.
        let endpoint = Binaries.host("camagent-endpoint")
        let (addStatus, addOut, addErr) = try run(endpoint, ["operator", "add", "--registry", cluster.registry, "--name", "alice"])
        #expect(addStatus == 0, "operator add: \(addErr)")
        let prefix = "operator alice password "
        let password = try #require(addOut.split(separator: "\n").first { $0.hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)) },
                                    "operator add printed no password: \(addOut)")
        #expect(password.count == 20)
        let (listStatus, listOut, _) = try run(endpoint, ["operator", "list", "--registry", cluster.registry])
        #expect(listStatus == 0 && listOut.hasPrefix("alice created "), "\(listOut)")
        let passwordFile = cluster.path("alice.password")
        try password.write(toFile: passwordFile, atomically: true, encoding: .utf8)

        // Without a credential /api/ answers 401; the console's page needs none.
        #expect(try Self.curl(cluster, "GET", "/api/agents").0 == 401)
        #expect(try Self.curl(cluster, "POST", "/api/agents/\(cluster.agentID)/reboot").0 == 401)
        let page = try Self.curl(cluster, "GET", "/console/")
        #expect(page.0 == 200 && page.2.contains("camagent console") && page.1.lowercased().contains("content-security-policy"))

        // The cookie as a browser gets it; a session POST without the CSRF token is refused.
        let jar = cluster.path("cookies.txt")
        let login = try Self.curl(cluster, "POST", "/console/login", jar: jar, headers: ["Content-Type: application/json"],
                                  body: #"{"name":"alice","password":"\#(password)"}"#)
        #expect(login.0 == 200, "\(login)")
        let setCookie = login.1.split(separator: "\r\n").first { $0.lowercased().hasPrefix("set-cookie: camagent_session=") }.map(String.init) ?? ""
        #expect(setCookie.contains("HttpOnly") && setCookie.contains("SameSite=Strict") && setCookie.contains("Path=/"), "\(setCookie)")
        #expect(!setCookie.contains("Secure"), "a plain-HTTP listener must not mark the cookie Secure: \(setCookie)")
        let session = try #require(try JSONSerialization.jsonObject(with: Data(login.2.utf8)) as? [String: Any])
        let csrf = try #require(session["csrfToken"] as? String)
        #expect(try Self.curl(cluster, "GET", "/api/agents", jar: jar).0 == 200)
        let noCSRF = try Self.curl(cluster, "POST", "/api/agents/\(cluster.agentID)/stats", jar: jar)
        #expect(noCSRF.0 == 403 && noCSRF.2.contains("X-CSRF-Token"), "\(noCSRF)")
        #expect(try Self.curl(cluster, "POST", "/api/agents/\(cluster.agentID)/stats", jar: jar,
                              headers: ["X-CSRF-Token: wrong"]).0 == 403)
        #expect(try Self.curl(cluster, "POST", "/api/agents/\(cluster.agentID)/stats", jar: jar,
                              headers: ["X-CSRF-Token: \(csrf)"]).0 == 200)

        // A token's action is audited under the token's name.
        let bearer = ["Authorization: Bearer \(cluster.adminToken)"]
        #expect(try Self.curl(cluster, "POST", "/api/agents/\(cluster.agentID)/stats", headers: bearer).0 == 200)
        let trail = try Self.curl(cluster, "GET", "/api/audit?limit=50", headers: bearer)
        let entries = try #require(try JSONSerialization.jsonObject(with: Data(trail.2.utf8)) as? [[String: String]], "\(trail)")
        #expect(entries.first { $0["action"] == "stats" && $0["actor"] == "e2e-admin" }?["result"] == "ok (200) (token)", "\(entries)")
        #expect(try Self.curl(cluster, "GET", "/api/audit?limit=0", headers: bearer).0 == 400)

        // The browser.
        try? FileManager.default.removeItem(at: Self.artifacts)
        try FileManager.default.createDirectory(at: Self.artifacts, withIntermediateDirectories: true)
        let csv = cluster.path("units.csv")
        try "agent_id,serial,activation_secret,model,mac\n,XM7001,\(Cluster.randomHex(32)),IPC-3518,00:12:34:56:78:9a\n"
            .write(toFile: csv, atomically: true, encoding: .utf8)
        let script = Binaries.repository.appendingPathComponent("Scripts/lib/console-browser.py").path
        let (status, out, err) = try run(python, [script, "--base", "http://127.0.0.1:\(cluster.endpointAdminPort)",
                                                  "--name", "alice", "--password-file", passwordFile,
                                                  "--agent", cluster.agentID, "--out", Self.artifacts.path, "--units-csv", csv],
                                         timeout: 180)
        guard status == 0, let seen = try? JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any] else {
            throw ClusterError("console-browser.py failed (\(status)):\n\(err)\n\(out)\n\(cluster.allLogs)")
        }
        print("console browser saw: \(out)")

        #expect(seen["loginFormVisible"] as? Bool == true)
        #expect((seen["wrongPasswordMessage"] as? String ?? "").contains("wrong operator name or password"), "\(seen)")
        #expect(seen["operatorShown"] as? String == "alice")
        #expect(!(seen["cookieVisibleToScript"] as? String ?? "").contains("camagent_session"), "the session cookie must be HttpOnly")
        #expect(seen["cameraState"] as? String == "online", "\(seen)")
        let row = seen["cameraRow"] as? [String] ?? []
        #expect(row.count == 11 && row[1] == cluster.agentID, "\(row)")
        #expect(row.count == 11 && row[6] == "sp1", "streampoint column: \(row)")
        #expect(row.count == 11 && row[7].hasPrefix("127.0.0.1"), "LAN address column: \(row)")
        #expect(row.count == 11 && !row[9].isEmpty, "bytes column: \(row)")
        #expect(seen["cameraColumns"] as? [String] == ["State", "Agent id", "Serial", "Model", "Firmware", "Endpoint",
                                                        "Streampoint", "LAN address", "Last seen", "Bytes", "Errors"])
        #expect(seen["rowsFilteredById"] as? Int == 1)
        #expect(seen["rowsFilteredByMadeUpId"] as? Int == 0)
        #expect(seen["rowsFilteredOffline"] as? Int == 0)
        #expect(seen["cameraPageBadge"] as? String == "online")
        #expect((seen["cameraReportFields"] as? Int ?? 0) >= 5)
        let reboot = seen["rebootSummary"] as? String ?? ""
        #expect(reboot.hasPrefix("COMMAND_RESULT ok") && reboot.contains("HTTP 200"), "\(reboot)")
        #expect((seen["rebootResultJSON"] as? String ?? "").contains("\"command\": \"reboot\""))
        let markerDeadline = Date().addingTimeInterval(10)
        while !FileManager.default.fileExists(atPath: marker) && Date() < markerDeadline { Thread.sleep(forTimeInterval: 0.05) }
        #expect(FileManager.default.fileExists(atPath: marker), "the reboot pressed in the console did not reach the agent")
        #expect(seen["postWithoutCSRF"] as? Int == 403)
        let streampoints = seen["streampointsRows"] as? [[String]] ?? []
        #expect(streampoints.contains { $0.contains("sp1") }, "\(streampoints)")
        // The CSV upload did what import-units does: the unit is in the registry, ready to activate.
        #expect(seen["unitsUpload"] as? String == "Imported 1 units.", "\(seen["unitsUpload"] ?? "")")
        let units = seen["unitsRows"] as? [[String]] ?? []
        #expect(units.contains { $0.count == 10 && $0[0] == "XM7001" && $0[1] == "cam-XM7001" && $0[2] == "IPC-3518" }, "\(units)")
        #expect(registryFileText(cluster.registry).contains("XM7001"))
        let audit = seen["auditRows"] as? [[String]] ?? []
        #expect(audit.contains { $0.count == 5 && $0[1] == "alice" && $0[2] == "reboot" && $0[3] == cluster.agentID && $0[4].hasPrefix("ok") },
                "no audit entry for alice's reboot: \(audit)")
        #expect(audit.contains { $0.count == 5 && $0[1] == "alice" && $0[2] == "login" && $0[4] == "ok" })
        #expect(audit.contains { $0.count == 5 && $0[1] == "alice" && $0[2] == "import-units" && $0[4].hasPrefix("ok") })
        #expect(seen["afterLogoutAPI"] as? Int == 401)
        #expect((seen["statusLine"] as? String ?? "").isEmpty, "the console showed an error: \(seen["statusLine"] ?? "")")

        let shots = seen["screenshots"] as? [String] ?? []
        #expect(shots.count == 6, "\(shots)")
        for shot in shots {
            let data = FileManager.default.contents(atPath: shot) ?? Data()
            #expect(data.count > 5_000 && data.starts(with: [0x89, 0x50, 0x4E, 0x47]), "\(shot): \(data.count) bytes, not a PNG")
        }
        // The endpoint logged the operator's actions, never the password.
        #expect(cluster.endpoint.stderr.contains("audit: alice reboot \(cluster.agentID)"), "\(cluster.endpoint.stderr)")
        #expect(!cluster.allLogs.contains(password))
    }
}
