import GraphKernel

/// Group numbers of grouping keys by their exact raw bits (`RawProperty`), in front of the exact equivalence
/// dictionary of an aggregation: equal bits are always equivalent values, so a hit is always right, and a miss
/// only means the caller asks the exact dictionary (and then records the answer here).
///
/// Open addressing with linear probing over parallel arrays, at most half full. The hash is a seeded multiply-
/// xorshift mix (much cheaper than SipHash for one 64-bit word); the seed is random per cache and a probe
/// sequence is cut at `probeLimit`, so keys crafted to collide cost at most the exact path, never quadratic time.
struct RawGroupCache {
    private static let empty: UInt16 = 0xFFFF
    private static let probeLimit = 128
    /// Beyond this many entries the cache stops growing (the exact dictionary still holds every group).
    private static let maxEntries = 1 << 22

    private var tags: [UInt16]
    private var bits: [UInt64]
    private var groups: [Int32]
    private var mask: Int
    private var count = 0
    private let seed: UInt64

    init(capacity: Int = 64) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        tags = [UInt16](repeating: Self.empty, count: size)
        bits = [UInt64](repeating: 0, count: size)
        groups = [Int32](repeating: 0, count: size)
        mask = size - 1
        seed = UInt64.random(in: .min ... .max)
    }

    @inline(__always)
    private static func tag(_ r: RawProperty) -> UInt16 { UInt16(r.kind.rawValue) << 8 | UInt16(r.length) }

    @inline(__always)
    private func slot(_ tag: UInt16, _ bits: UInt64) -> Int {
        var h = (bits ^ seed) &* 0x9E37_79B9_7F4A_7C15
        h ^= h >> 29
        h = (h ^ UInt64(tag)) &* 0xBF58_476D_1CE4_E5B9
        h ^= h >> 32
        return Int(truncatingIfNeeded: h) & mask
    }

    /// The group recorded for exactly these bits, if any.
    @inline(__always)
    func group(of r: RawProperty) -> Int? {
        let t = Self.tag(r)
        var i = slot(t, r.bits)
        for _ in 0..<Self.probeLimit {
            let found = tags[i]
            if found == Self.empty { return nil }
            if found == t && bits[i] == r.bits { return Int(groups[i]) }
            i = (i + 1) & mask
        }
        return nil
    }

    /// Records `group` for `r`'s bits (not for `.decoded` properties, whose bits are a position, not a value).
    mutating func insert(_ r: RawProperty, group: Int) {
        precondition(r.kind != .decoded, "RawGroupCache: a decoded property has no identity in its bits")
        guard group <= Int(Int32.max), count < Self.maxEntries else { return }
        if (count + 1) * 2 > tags.count { grow() }
        let t = Self.tag(r)
        var i = slot(t, r.bits)
        for _ in 0..<Self.probeLimit {
            if tags[i] == Self.empty {
                tags[i] = t
                bits[i] = r.bits
                groups[i] = Int32(group)
                count += 1
                return
            }
            if tags[i] == t && bits[i] == r.bits { return }
            i = (i + 1) & mask
        }
        // A probe sequence this long: leave the key to the exact path.
    }

    private mutating func grow() {
        let oldTags = tags
        let oldBits = bits
        let oldGroups = groups
        let size = tags.count * 2
        tags = [UInt16](repeating: Self.empty, count: size)
        bits = [UInt64](repeating: 0, count: size)
        groups = [Int32](repeating: 0, count: size)
        mask = size - 1
        count = 0
        for j in 0..<oldTags.count where oldTags[j] != Self.empty {
            var i = slot(oldTags[j], oldBits[j])
            for _ in 0..<Self.probeLimit {
                if tags[i] == Self.empty {
                    tags[i] = oldTags[j]
                    bits[i] = oldBits[j]
                    groups[i] = oldGroups[j]
                    count += 1
                    break
                }
                i = (i + 1) & mask
            }
        }
    }
}
