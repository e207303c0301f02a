import Crypto
import Foundation

/// PBKDF2 with HMAC-SHA256 (RFC 8018 §5.2), built on swift-crypto's HMAC because the package exposes no
/// PBKDF2 on Linux. Each block's iterations reuse one keyed HMAC state (copied, not re-keyed), which is the
/// expensive part otherwise.
public enum PBKDF2 {
    public static func sha256(password: [UInt8], salt: [UInt8], iterations: Int, keyLength: Int = 32) -> [UInt8] {
        precondition(iterations >= 1, "PBKDF2 needs at least one iteration, got \(iterations)")
        precondition(keyLength >= 1, "PBKDF2 key length must be positive, got \(keyLength)")
        let keyed = HMAC<SHA256>(key: SymmetricKey(data: password))
        var derived: [UInt8] = []
        derived.reserveCapacity(keyLength)
        var blockIndex: UInt32 = 1
        while derived.count < keyLength {
            var first = keyed
            first.update(data: salt)
            first.update(data: withUnsafeBytes(of: blockIndex.bigEndian) { Array($0) })
            var u = Array(first.finalize())
            var t = u
            if iterations > 1 {
                // U_i is overwritten in place: no allocation per iteration (the loop runs ~10^5 times per login).
                for _ in 1..<iterations {
                    var h = keyed
                    h.update(data: u)
                    let mac = h.finalize()
                    mac.withUnsafeBytes { src in
                        u.withUnsafeMutableBytes { dst in dst.copyMemory(from: src) }
                    }
                    for i in 0..<t.count { t[i] ^= u[i] }
                }
            }
            derived += t.prefix(keyLength - derived.count)
            blockIndex += 1
        }
        return derived
    }
}

extension Array where Element == UInt8 {
    var hexString: String { map { String(format: "%02x", $0) }.joined() }

    init?(hexString: String) {
        guard hexString.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(hexString.count / 2)
        var index = hexString.startIndex
        while index < hexString.endIndex {
            let next = hexString.index(index, offsetBy: 2)
            guard let b = UInt8(hexString[index..<next], radix: 16) else { return nil }
            bytes.append(b)
            index = next
        }
        self = bytes
    }
}
