import Crypto
import Foundation

/// A stored password: PBKDF2-HMAC-SHA256 with a 16-byte random salt and a per-credential iteration count,
/// serialized as `PBKDF2-SHA256,<iterations>,<salt hex>,<hash hex>` (the iteration count travels with the hash
/// so it can be raised later without invalidating existing users).
public struct Credential: Sendable, Hashable {
    public var iterations: Int
    public var salt: [UInt8]
    public var hash: [UInt8]

    /// Iterations for new credentials. Each login pays this once per connection (drivers pool connections).
    public static let defaultIterations = 100_000
    static let scheme = "PBKDF2-SHA256"

    public static func create(password: String, iterations: Int = defaultIterations) -> Credential {
        var salt = [UInt8](repeating: 0, count: 16)
        var rng = SystemRandomNumberGenerator()
        for i in salt.indices { salt[i] = UInt8.random(in: .min ... .max, using: &rng) }
        let hash = PBKDF2.sha256(password: Array(password.utf8), salt: salt, iterations: iterations)
        return Credential(iterations: iterations, salt: salt, hash: hash)
    }

    /// Constant-time comparison of the derived key, so timing does not reveal how much of a guess matched.
    public func matches(_ password: String) -> Bool {
        let candidate = PBKDF2.sha256(
            password: Array(password.utf8), salt: salt, iterations: iterations, keyLength: hash.count)
        var difference: UInt8 = 0
        for (a, b) in zip(candidate, hash) { difference |= a ^ b }
        return difference == 0 && candidate.count == hash.count
    }

    public var serialized: String { "\(Credential.scheme),\(iterations),\(salt.hexString),\(hash.hexString)" }

    public init(iterations: Int, salt: [UInt8], hash: [UInt8]) {
        self.iterations = iterations
        self.salt = salt
        self.hash = hash
    }

    public init?(serialized: String) {
        let parts = serialized.split(separator: ",", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == Credential.scheme, let n = Int(parts[1]), n >= 1,
            let salt = [UInt8](hexString: String(parts[2])), let hash = [UInt8](hexString: String(parts[3])),
            !hash.isEmpty
        else { return nil }
        self.init(iterations: n, salt: salt, hash: hash)
    }
}
