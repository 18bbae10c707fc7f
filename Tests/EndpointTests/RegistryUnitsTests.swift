@testable import EndpointCore
import CamProtocol
import Foundation
import Testing

@Suite struct RegistryUnitsTests {
    let verifierHex = String(repeating: "ab", count: 32)

    @Test func aRegistryWithoutUnitsOrRevocationsLoadsAndSavesAsBefore() throws {
        let old = """
        {"version":1,"agents":[{"id":"cam-1","verifier":"\(verifierHex)","streampoint":null}]}
        """
        let registry = try Registry.decode(Data(old.utf8), path: "old.json")
        #expect(registry.agents["cam-1"]?.revoked == nil)
        #expect(registry.units.isEmpty)
        let text = String(decoding: try registry.encoded(), as: UTF8.self)
        #expect(!text.contains("units") && !text.contains("revoked"))
    }

    @Test func unitsAndRevocationsRoundTrip() throws {
        var registry = Registry()
        try registry.addUnit(serial: "XM0001", activationSecret: [UInt8](repeating: 1, count: 32), agentID: nil, model: "IPC", mac: nil)
        try registry.addUnit(serial: "XM0002", activationSecret: [UInt8](repeating: 2, count: 16), agentID: "door-2", model: nil, mac: "aa:bb")
        _ = registry.activate(ActivationRequest(serial: "XM0001", mac: "m", model: "x", firmware: "f"),
                              newKey: [UInt8](repeating: 9, count: 32), isOnline: { _ in false }, at: "2025-01-01T00:00:00Z")
        #expect(registry.revoke(agentID: "door-2", reason: "lost", at: "2025-01-02T00:00:00Z") == .changed)
        let decoded = try Registry.decode(try registry.encoded(), path: "r.json")
        #expect(decoded == registry)
        #expect(decoded.unit(agentID: "door-2")?.serial == "XM0002")
        #expect(decoded.units["XM0002"]?.state == .revoked)
        #expect(decoded.revocation(ofAgent: "door-2")?.reason == "lost")
        #expect(decoded.units["XM0001"]?.agentID == "cam-XM0001")
        #expect(decoded.units["XM0001"]?.model == "IPC")  // the import's model wins over the reported one
    }

    @Test func malformedUnitsAreRejectedWithTheirSerial() {
        func load(_ units: String) -> String {
            let json = #"{"version":1,"agents":[],"units":[\#(units)]}"#
            do { _ = try Registry.decode(Data(json.utf8), path: "r.json"); return "" } catch { return "\(error)" }
        }
        let unit = { (serial: String, id: String, verifier: String) in
            #"{"serial":"\#(serial)","agentID":"\#(id)","activationVerifier":"\#(verifier)","state":"new"}"#
        }
        #expect(load(unit("A1", "cam-A1", verifierHex)) == "")
        #expect(load(unit("A1", "cam-A1", "abc")).contains("unit A1 has an activationVerifier"))
        #expect(load(unit("A1", "cam-A1", verifierHex) + "," + unit("A1", "cam-A2", verifierHex)).contains("appears more than once"))
        #expect(load(unit("A1", "cam-x", verifierHex) + "," + unit("A2", "cam-x", verifierHex)).contains("both have agentID cam-x"))
        #expect(load(unit("bad serial", "cam-x", verifierHex)).contains("invalid serial"))
        #expect(load(#"{"serial":"A1","agentID":"cam-A1","activationVerifier":"\#(verifierHex)","state":"lost"}"#).contains("malformed"))
    }

    @Test func addUnitRefusesConflictsAndNeverStoresTheSecret() throws {
        var registry = Registry()
        let secret = (0..<32).map { UInt8($0 * 7 & 0xFF) }
        try registry.addUnit(serial: "S1", activationSecret: secret, agentID: "cam-1", model: nil, mac: nil)
        #expect(throws: (any Error).self) {
            try registry.addUnit(serial: "S2", activationSecret: secret, agentID: "cam-1", model: nil, mac: nil)
        }
        #expect(throws: (any Error).self) {
            try registry.addUnit(serial: "S3", activationSecret: [1, 2, 3], agentID: nil, model: nil, mac: nil)
        }
        #expect(throws: (any Error).self) {  // cam- + 64 characters is not a valid id
            try registry.addUnit(serial: String(repeating: "S", count: 64), activationSecret: secret, agentID: nil, model: nil, mac: nil)
        }
        let text = String(decoding: try registry.encoded(), as: UTF8.self)
        #expect(!text.contains(Hex.encode(secret)))
        #expect(text.contains(Hex.encode(Activation.verifier(activationSecret: secret, serial: "S1"))))
    }

    @Test func factoryCSVParses() throws {
        let secret = String(repeating: "5a", count: 32)
        let csv = "agent_id,serial,activation_secret,model,mac\r\n"
            + "cam-0001,XM0001,\(secret),IPC-3518,00:12:34:56:78:9a\r\n"
            + "# a comment\r\n\r\n"
            + ",XM0002,\(secret),,\r\n"
        let rows = try UnitCSV.parse(csv, path: "units.csv")
        #expect(rows.count == 2)
        #expect(rows[0] == UnitImport(agentID: "cam-0001", serial: "XM0001", activationSecret: [UInt8](repeating: 0x5A, count: 32),
                                      model: "IPC-3518", mac: "00:12:34:56:78:9a"))
        #expect(rows[1].agentID == nil && rows[1].model == nil && rows[1].mac == nil)
        // Columns by name, optional ones may be left out.
        #expect(try UnitCSV.parse("serial,activation_secret,agent_id\nX1,\(secret),\n", path: "u").first?.serial == "X1")
    }

    @Test func theProvisioningToolsInformationalColumnsAreAcceptedAndNotStored() throws {
        let secret = String(repeating: "5a", count: 32)
        let csv = "agent_id,serial,activation_secret,model,mac,firmware,stream_list_url,rtsp_path,snapshot_path\n"
            + "cam-XM1,XM1,\(secret),IPC-3518,00:12:34:56:78:9a,V5.00,http://sp1:7101/agents/cam-XM1,/stream0,/webcapture.jpg\n"
        let rows = try UnitCSV.parse(csv, path: "units.csv")
        #expect(rows == [UnitImport(agentID: "cam-XM1", serial: "XM1", activationSecret: [UInt8](repeating: 0x5A, count: 32),
                                    model: "IPC-3518", mac: "00:12:34:56:78:9a")])
        // A typo is still an unknown column.
        #expect(throws: (any Error).self) { try UnitCSV.parse("agent_id,serial,activation_secret,firmwar\n", path: "u") }
    }

    @Test func badCSVNamesTheLineAndNeverTheSecret() {
        let secret = String(repeating: "5a", count: 8)  // too short
        func problem(_ text: String) -> String {
            do { _ = try UnitCSV.parse(text, path: "units.csv"); return "" } catch { return "\(error)" }
        }
        let short = problem("agent_id,serial,activation_secret\ncam-1,XM1,\(secret)\n")
        #expect(short.contains("units.csv line 2") && short.contains("activation_secret of XM1"))
        #expect(!short.contains(secret))
        #expect(problem("serial,activation_secret\n").contains("lacks agent_id"))
        #expect(problem("agent_id,serial,activation_secret,colour\n").contains("unknown column"))
        #expect(problem("agent_id,serial,activation_secret\ncam-1,XM1\n").contains("line 2: 2 fields"))
        let long = String(repeating: "ab", count: 32)
        #expect(problem("agent_id,serial,activation_secret\n,XM1,\(long)\n,XM1,\(long)\n").contains("line 3: serial XM1 appears twice"))
        #expect(problem("").contains("empty"))
    }

    @Test func revocationReasonsAreOneBoundedLine() {
        #expect(Revocation.validate(reason: "stolen") == nil)
        #expect(Revocation.validate(reason: " ") != nil)
        #expect(Revocation.validate(reason: "two\nlines") != nil)
        #expect(Revocation.validate(reason: String(repeating: "x", count: 201)) != nil)
        let text = Revocation(reason: String(repeating: "é", count: 200), at: nil).errorText
        #expect(text.utf8.count <= ProtocolConstants.maxStringBytes)
    }
}
