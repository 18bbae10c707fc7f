import CamProtocol
import Testing

@Suite struct SHA256Tests {
    @Test func nistVectors() {
        #expect(Hex.encode(SHA256.hash([])) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(Hex.encode(SHA256.hash(Array("abc".utf8))) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        let twoBlocks = Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)
        #expect(Hex.encode(SHA256.hash(twoBlocks)) == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        let million = [UInt8](repeating: 0x61, count: 1_000_000)
        #expect(Hex.encode(SHA256.hash(million)) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test func incrementalUpdatesMatchOneShot() {
        let data = (0..<1000).map { UInt8(truncatingIfNeeded: $0 * 7) }
        for split in [0, 1, 55, 56, 63, 64, 65, 999] {
            var hasher = SHA256()
            hasher.update(Array(data[0..<split]))
            hasher.update(Array(data[split...]))
            #expect(hasher.finalize() == SHA256.hash(data), "split at \(split)")
        }
    }
}

/// RFC 4231 HMAC-SHA256 test cases.
@Suite struct HMACTests {
    struct Vector {
        var key: [UInt8]
        var data: [UInt8]
        var mac: String
        var truncate: Int? = nil
    }

    static let vectors: [Vector] = [
        Vector(key: [UInt8](repeating: 0x0b, count: 20), data: Array("Hi There".utf8),
               mac: "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
        Vector(key: Array("Jefe".utf8), data: Array("what do ya want for nothing?".utf8),
               mac: "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
        Vector(key: [UInt8](repeating: 0xaa, count: 20), data: [UInt8](repeating: 0xdd, count: 50),
               mac: "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"),
        Vector(key: (1...25).map { UInt8($0) }, data: [UInt8](repeating: 0xcd, count: 50),
               mac: "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"),
        Vector(key: [UInt8](repeating: 0x0c, count: 20), data: Array("Test With Truncation".utf8),
               mac: "a3b6167473100ee06e0c796c2955552b", truncate: 16),
        Vector(key: [UInt8](repeating: 0xaa, count: 131),
               data: Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8),
               mac: "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"),
        Vector(key: [UInt8](repeating: 0xaa, count: 131),
               data: Array("This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.".utf8),
               mac: "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"),
    ]

    @Test(arguments: 0..<HMACTests.vectors.count)
    func rfc4231(_ index: Int) {
        let vector = HMACTests.vectors[index]
        var mac = hmacSHA256(key: vector.key, message: vector.data)
        if let truncate = vector.truncate { mac = Array(mac[0..<truncate]) }
        #expect(Hex.encode(mac) == vector.mac)
    }

    @Test func constantTimeEqualCompares() {
        #expect(constantTimeEqual([1, 2, 3], [1, 2, 3]))
        #expect(!constantTimeEqual([1, 2, 3], [1, 2, 4]))
        #expect(!constantTimeEqual([1, 2, 3], [1, 2]))
    }

    @Test func hexRoundTripAndRejection() {
        #expect(Hex.decode("00ffA5") == [0x00, 0xff, 0xa5])
        #expect(Hex.decode("abc") == nil)
        #expect(Hex.decode("zz") == nil)
        #expect(Hex.encode([0xde, 0xad]) == "dead")
    }
}

@Suite struct AuthenticationTests {
    let key = [UInt8](repeating: 0x42, count: 32)
    let clientNonce = [UInt8](repeating: 1, count: 32)
    let serverNonce = [UInt8](repeating: 2, count: 32)

    @Test func proofsAreBoundToEverything() {
        let verifier = Authentication.verifier(deviceKey: key, agentID: "cam-1")
        #expect(verifier != key)
        #expect(verifier != Authentication.verifier(deviceKey: key, agentID: "cam-2"))
        let client = Authentication.clientProof(verifier: verifier, agentID: "cam-1", clientNonce: clientNonce, serverNonce: serverNonce)
        let server = Authentication.serverProof(verifier: verifier, agentID: "cam-1", clientNonce: clientNonce, serverNonce: serverNonce)
        #expect(client != server)
        // A fresh server nonce invalidates a recorded proof.
        let other = Authentication.clientProof(verifier: verifier, agentID: "cam-1", clientNonce: clientNonce,
                                               serverNonce: [UInt8](repeating: 3, count: 32))
        #expect(client != other)
    }
}

@Suite struct TicketTests {
    let key = [UInt8](repeating: 7, count: 32)
    let ticket = Ticket(agentID: "cam-1", streampointID: "sp1", expiresAt: 1000, nonce: [UInt8](repeating: 9, count: 16))

    @Test func validTicketVerifies() throws {
        let bytes = ticket.signed(key: key)
        #expect(try Ticket.verify(bytes, key: key, streampointID: "sp1", now: 999) == ticket)
    }

    @Test func forgedExpiredAndMisdirectedTicketsAreRejected() {
        var bytes = ticket.signed(key: key)
        #expect(throws: Ticket.Rejection.badSignature) {
            try Ticket.verify(bytes, key: [UInt8](repeating: 8, count: 32), streampointID: "sp1", now: 0)
        }
        #expect(throws: Ticket.Rejection.expired) { try Ticket.verify(bytes, key: key, streampointID: "sp1", now: 1000) }
        #expect(throws: Ticket.Rejection.wrongStreampoint("sp1")) {
            try Ticket.verify(bytes, key: key, streampointID: "sp2", now: 0)
        }
        bytes[3] ^= 1
        #expect(throws: Ticket.Rejection.badSignature) { try Ticket.verify(bytes, key: key, streampointID: "sp1", now: 0) }
        #expect(throws: Ticket.Rejection.malformed) { try Ticket.verify([1, 2, 3], key: key, streampointID: "sp1", now: 0) }
    }
}
