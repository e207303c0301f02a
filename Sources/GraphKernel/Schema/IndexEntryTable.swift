/// The equality table of a `PropertyIndex`: index key → the nodes holding that value.
///
/// Why not a `Dictionary`: a unique index only grows (W2 adds 1,000 values per transaction), and a `Dictionary`
/// that outgrows its capacity rehashes every key into a new table of whole entries — at 200,000 entries that
/// was about 9 % of a bulk node-creation load's server CPU (hashing each key again and moving 60-byte entries
/// to random places). Here entries live in dense arrays in insertion order, with each key's hash kept, and the
/// hash table only holds 8-byte slots (a 32-bit hash tag and an entry number). Growing rebuilds the slots from
/// the stored hashes in one sequential pass: no key is hashed or moved again. Linear probing, load factor ≤ 0.7;
/// a removal leaves a tombstone and fills its hole with the last entry (so entries stay dense).
struct IndexEntryTable: Sequence {
    /// Entry columns, in no particular order (insertion order until a removal moves the last entry).
    private(set) var keys: [IndexKey] = []
    private(set) var holders: [IndexHolders] = []
    private var hashes: [Int] = []
    /// 0 = empty, `Self.deleted` = tombstone, else (hash tag << 32) | (entry number + 1). Power-of-two count.
    private var slots: [UInt64] = []
    private var tombstones = 0

    private static let deleted = UInt64.max
    private static let minimumSlots = 16

    init() {}

    init(_ entries: [IndexKey: IndexHolders]) {
        reserveCapacity(entries.count)
        for (key, nodes) in entries where !nodes.isEmpty {
            let entry = appendEntry(key, key.hashValue, nodes)
            placeSlot(hash: hashes[entry], entry: entry)
        }
    }

    var count: Int { keys.count }
    var isEmpty: Bool { keys.isEmpty }

    /// The holders of `key`, nil when no node holds it.
    subscript(key: IndexKey) -> IndexHolders? {
        guard let (_, entry) = find(key, key.hashValue) else { return nil }
        return holders[entry]
    }

    /// Adds `node` as a holder of `key`; true when `key` had no holder before.
    mutating func insert(_ key: IndexKey, _ node: Int64) -> Bool {
        let hash = key.hashValue
        if let (_, entry) = find(key, hash) { return holders[entry].insertReportingFirst(node) }
        reserveCapacity(keys.count + 1)
        var nodes = IndexHolders()
        _ = nodes.insertReportingFirst(node)
        let entry = appendEntry(key, hash, nodes)
        placeSlot(hash: hash, entry: entry)
        return true
    }

    /// Removes `node` from the holders of `key`; true when `key` has no holder left (and so left the table).
    mutating func remove(_ key: IndexKey, _ node: Int64) -> Bool {
        guard let (slot, entry) = find(key, key.hashValue) else { return false }
        guard holders[entry].remove(node) else { return false }
        slots[slot] = Self.deleted
        tombstones += 1
        let last = keys.count - 1
        if entry != last {
            // The last entry fills the hole; its slot is renumbered.
            let lastSlot = slotOf(entry: last)
            keys.swapAt(entry, last)
            holders.swapAt(entry, last)
            hashes.swapAt(entry, last)
            slots[lastSlot] = Self.slotValue(hash: hashes[entry], entry: entry)
        }
        keys.removeLast()
        holders.removeLast()
        hashes.removeLast()
        return true
    }

    /// Makes room for `entries` entries without another rebuild of the slots.
    mutating func reserveCapacity(_ entries: Int) {
        let needed = entries + tombstones
        guard needed * 10 > slots.count * 7 else { return }
        var size = Swift.max(Self.minimumSlots, slots.count)
        // Rebuilding drops the tombstones: grow only if the live entries need it.
        while entries * 10 > size * 7 || (entries * 10 > size * 5 && size == slots.count) { size *= 2 }
        keys.reserveCapacity(entries)
        holders.reserveCapacity(entries)
        hashes.reserveCapacity(entries)
        slots = [UInt64](repeating: 0, count: size)
        tombstones = 0
        for entry in hashes.indices { placeSlot(hash: hashes[entry], entry: entry) }
    }

    // MARK: - Slots

    private static func tag(_ hash: Int) -> UInt64 { UInt64(UInt32(truncatingIfNeeded: hash >> 32)) }

    private static func slotValue(hash: Int, entry: Int) -> UInt64 { tag(hash) << 32 | UInt64(entry + 1) }

    private mutating func appendEntry(_ key: IndexKey, _ hash: Int, _ nodes: IndexHolders) -> Int {
        precondition(keys.count < Int(UInt32.max) - 1, "index of \(keys.count) values is full")
        keys.append(key)
        holders.append(nodes)
        hashes.append(hash)
        return keys.count - 1
    }

    /// Puts `entry` in the first free slot of its probe sequence (there is one: the load factor stays ≤ 0.7).
    private mutating func placeSlot(hash: Int, entry: Int) {
        let mask = slots.count - 1
        var slot = hash & mask
        while slots[slot] != 0 && slots[slot] != Self.deleted { slot = (slot + 1) & mask }
        if slots[slot] == Self.deleted { tombstones -= 1 }
        slots[slot] = Self.slotValue(hash: hash, entry: entry)
    }

    /// The slot and entry number of `key`.
    private func find(_ key: IndexKey, _ hash: Int) -> (slot: Int, entry: Int)? {
        guard !slots.isEmpty else { return nil }
        let mask = slots.count - 1
        let tag = Self.tag(hash)
        var slot = hash & mask
        while true {
            let value = slots[slot]
            if value == 0 { return nil }
            if value != Self.deleted && value >> 32 == tag {
                let entry = Int(value & 0xFFFF_FFFF) - 1
                if keys[entry] == key { return (slot, entry) }
            }
            slot = (slot + 1) & mask
        }
    }

    /// The slot holding entry number `entry` (which is in the table).
    private func slotOf(entry: Int) -> Int {
        let mask = slots.count - 1
        let wanted = Self.slotValue(hash: hashes[entry], entry: entry)
        var slot = hashes[entry] & mask
        while slots[slot] != wanted {
            precondition(slots[slot] != 0, "index entry \(entry) has no slot")
            slot = (slot + 1) & mask
        }
        return slot
    }

    // MARK: - Sequence

    struct Iterator: IteratorProtocol {
        fileprivate let table: IndexEntryTable
        fileprivate var position = 0

        mutating func next() -> (key: IndexKey, value: IndexHolders)? {
            guard position < table.keys.count else { return nil }
            defer { position += 1 }
            return (table.keys[position], table.holders[position])
        }
    }

    func makeIterator() -> Iterator { Iterator(table: self) }

    var underestimatedCount: Int { keys.count }
}
