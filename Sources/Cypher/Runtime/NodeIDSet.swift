import GraphKernel

/// A set of node ids for graph searches that visit thousands of nodes per query (VarLengthExpand(Pruning),
/// DISTINCT over nodes or relationships):
/// open addressing with linear probing, at most half full, and a seeded multiply-xorshift mix instead of
/// `Set<NodeID>`'s SipHash, which cost more than the visit it guards. The seed is random per set, so no fixed
/// set of ids collides for every query.
struct NodeIDSet {
    /// Never a node id (ids are non-negative).
    private static let empty = Int64.min

    private var slots: [Int64]
    private var mask: Int
    private(set) var count = 0
    private let seed: UInt64

    init(capacity: Int = 32) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        slots = [Int64](repeating: Self.empty, count: size)
        mask = size - 1
        seed = UInt64.random(in: .min ... .max)
    }

    @inline(__always)
    private func slot(_ id: Int64) -> Int {
        var h = (UInt64(bitPattern: id) ^ seed) &* 0x9E37_79B9_7F4A_7C15
        h ^= h >> 31
        h = h &* 0xBF58_476D_1CE4_E5B9
        h ^= h >> 29
        return Int(truncatingIfNeeded: h) & mask
    }

    /// Adds `node`; false when it was already there.
    @inline(__always)
    mutating func insert(_ node: NodeID) -> Bool { insert(id: node.rawValue) }

    /// Adds an entity id (a node's, or a relationship's in a set holding only relationships); false when it was
    /// already there.
    @inline(__always)
    mutating func insert(id: Int64) -> Bool {
        precondition(id != Self.empty, "NodeIDSet: \(id) is not an entity id")
        if (count + 1) * 2 > slots.count { grow() }
        var i = slot(id)
        while true {
            let found = slots[i]
            if found == id { return false }
            if found == Self.empty {
                slots[i] = id
                count += 1
                return true
            }
            i = (i + 1) & mask
        }
    }

    func contains(_ node: NodeID) -> Bool {
        var i = slot(node.rawValue)
        while true {
            let found = slots[i]
            if found == node.rawValue { return true }
            if found == Self.empty { return false }
            i = (i + 1) & mask
        }
    }

    /// Empties the set, keeping its storage for the next search.
    mutating func removeAll() {
        if count == 0 { return }
        for i in 0..<slots.count { slots[i] = Self.empty }
        count = 0
    }

    private mutating func grow() {
        let old = slots
        slots = [Int64](repeating: Self.empty, count: old.count * 2)
        mask = slots.count - 1
        count = 0
        for id in old where id != Self.empty {
            var i = slot(id)
            while slots[i] != Self.empty { i = (i + 1) & mask }
            slots[i] = id
            count += 1
        }
    }
}
