import CamNIO
import CamProtocol
import Crypto
import _CryptoExtras

/// How an operator's password is stored: PBKDF2-SHA256 with a random salt.
/// Slow on purpose (OWASP's 2023 floor of 210,000 rounds for SHA-256), so a
/// copied registry does not give the passwords away cheaply.
public struct PasswordHash: Sendable, Equatable {
    public static let defaultIterations = 210_000
    static let saltBytes = 16
    static let hashBytes = 32

    public var hashHex: String
    public var saltHex: String
    public var iterations: Int

    public init(hashHex: String, saltHex: String, iterations: Int) {
        self.hashHex = hashHex
        self.saltHex = saltHex
        self.iterations = iterations
    }

    /// A fresh salt and the derived hash; CPU-bound (a fraction of a second),
    /// so never on an event loop.
    public static func make(password: String, iterations: Int = defaultIterations) throws -> PasswordHash {
        let salt = SecureRandom.bytes(saltBytes)
        let hash = try derive(password: password, salt: salt, iterations: iterations)
        return PasswordHash(hashHex: Hex.encode(hash), saltHex: Hex.encode(salt), iterations: iterations)
    }

    /// Compares in constant time; false for a malformed stored row too.
    public func verify(password: String) -> Bool {
        guard let salt = Hex.decode(saltHex), let expected = Hex.decode(hashHex), expected.count == Self.hashBytes,
              iterations >= Self.defaultIterations,
              let derived = try? Self.derive(password: password, salt: salt, iterations: iterations)
        else { return false }
        return constantTimeEqual(derived, expected)
    }

    static func derive(password: String, salt: [UInt8], iterations: Int) throws -> [UInt8] {
        let key = try KDF.Insecure.PBKDF2.deriveKey(from: Array(password.utf8), salt: salt, using: .sha256,
                                                    outputByteCount: hashBytes, rounds: iterations)
        return key.withUnsafeBytes { Array($0) }
    }
}

/// Rules for what an operator may choose, and the generated one-time password.
public enum OperatorPassword {
    public static let minimumLength = 12
    public static let maximumLength = 256

    /// nil if acceptable, else why not (never echoing the password).
    public static func problem(_ password: String) -> String? {
        let length = password.utf8.count
        if length < minimumLength { return "a password needs at least \(minimumLength) bytes" }
        if length > maximumLength { return "a password may have at most \(maximumLength) bytes" }
        if password.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) { return "a password must not contain control characters" }
        return nil
    }

    /// 20 characters from a 56-letter alphabet without look-alikes (about 116 bits).
    public static func generate() -> String {
        let alphabet = Array("abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789".utf8)
        var out: [UInt8] = []
        while out.count < 20 {
            for byte in SecureRandom.bytes(32) where Int(byte) < 224 && out.count < 20 {
                // 224 = 4 × 56: rejection keeps every letter equally likely.
                out.append(alphabet[Int(byte) % alphabet.count])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Operator names: the identifier rule (A-Z a-z 0-9 . _ -, 1 to 64).
    public static func nameProblem(_ name: String) -> String? {
        Identifier.isValid(name) ? nil : "an operator name must be \(Identifier.rule)"
    }
}

/// Random bytes from the system's CSPRNG (swift-crypto's SymmetricKey draws from it).
public enum SecureRandom {
    public static func bytes(_ count: Int) -> [UInt8] {
        SymmetricKey(size: SymmetricKeySize(bitCount: count * 8)).withUnsafeBytes { Array($0) }
    }

    /// URL-safe text of `count` random bytes (base64url, no padding).
    public static func token(bytes count: Int) -> String {
        Base64URL.encode(bytes(count))
    }

    public static func sha256Hex(_ text: String) -> String {
        Hex.encode(Array(Crypto.SHA256.hash(data: Array(text.utf8))))
    }
}

enum Base64URL {
    static func encode(_ bytes: [UInt8]) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
        var out: [UInt8] = []
        var index = 0
        while index + 3 <= bytes.count {
            let n = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2])
            out += [alphabet[Int(n >> 18 & 63)], alphabet[Int(n >> 12 & 63)], alphabet[Int(n >> 6 & 63)], alphabet[Int(n & 63)]]
            index += 3
        }
        let rest = bytes.count - index
        if rest == 1 {
            let n = UInt32(bytes[index]) << 16
            out += [alphabet[Int(n >> 18 & 63)], alphabet[Int(n >> 12 & 63)]]
        } else if rest == 2 {
            let n = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8
            out += [alphabet[Int(n >> 18 & 63)], alphabet[Int(n >> 12 & 63)], alphabet[Int(n >> 6 & 63)]]
        }
        return String(decoding: out, as: UTF8.self)
    }
}
