import CamCore
import Testing

/// Inputs found by Scripts/fuzz's config target (Tests/Fuzz/config/), replayed.
@Suite struct ConfigFuzzRegressionTests {
    /// A device_key line missing its "=" was echoed whole in the error, and the
    /// agent prints config errors to stderr: the key ended up in the log.
    /// The same through an unknown key made of a secret key name, a secret and a later "=".
    @Test func lineWithoutEqualsDoesNotEchoASecret() {
        let input = "# Every ke ,ywith comments and blank lines.\nagent_id = XM_3518.unit-42\n\n"
            + "device_key 9 00112233445566778899AABBCCDDEEFF   # upper-case hex is fine\n"
            + "endpoint = https://endp443\nca_file = /etc/camXgent/cag\nmax_tunnels = 4\n"
            + "backoff_initial_ms = 500\nbackoff_max_mb = 30000\n"
        do {
            _ = try ConfigParser.parse(input)
            Issue.record("the fuzz input parsed")
        } catch {
            #expect(error.description == "line 4: device_key: expected 'key = value'")
        }
        // Later: the text before a later "=" was echoed as an unknown key.
        let unknownKey = "# exp0\nfirmware = V5.00.R02\nactivation_secret & 00112233445566778899aabbccddeeff0011223)4455"
            + String(repeating: "\u{12}", count: 24) + " = V5.00.R02\n"
        do {
            _ = try ConfigParser.parse(unknownKey)
            Issue.record("the fuzz input parsed")
        } catch {
            #expect(error.description == "line 3: activation_secret: unknown key")
        }
        // Later still: hex letters glued to the key name passed as part of the key-like word.
        let glued = "# pxeect: s001\nactivation_secretnnn" + String(repeating: "b", count: 65) + " = x\n"
        do {
            _ = try ConfigParser.parse(glued)
            Issue.record("the fuzz input parsed")
        } catch {
            #expect(error.description == "line 2: activation_secret: unknown key")
        }
        for line in ["device_key: 00112233445566778899aabbccddeeff", "00112233445566778899aabbccddeeff",
                     "device_key 00112233445566778899aabbccddeeff = x",

                     "activation_secret00112233445566778899aabbccddeeff"] {
            do {
                _ = try ConfigParser.parse(line)
                Issue.record("'\(line)' parsed")
            } catch {
                #expect(!error.description.contains("2233445566778899"), "secret echoed: \(error.description)")
            }
        }
    }
}
