import GraphValues

/// The key a schema index files a value under. Cypher equality says 1 = 1.0, so integral floats are keyed as
/// integers; other values key as themselves.
enum IndexKey: Hashable, Comparable {
    case integer(Int64)
    case float(Double)
    case string(String)
    case other(Value)

    init(_ value: Value) {
        switch value {
        case .integer(let i): self = .integer(i)
        case .float(let d):
            if d.isFinite, d == d.rounded(), abs(d) < 9.0e18 { self = .integer(Int64(d)) } else { self = .float(d) }
        case .string(let s): self = .string(s)
        default: self = .other(value)
        }
    }

    /// Range comparisons only make sense within one class: numbers, strings, or one temporal type.
    var rangeClass: Int {
        switch self {
        case .integer, .float: return 0
        case .string: return 1
        case .other(let v):
            switch v {
            case .date: return 2
            case .localTime: return 3
            case .time: return 4
            case .localDateTime: return 5
            case .dateTime: return 6
            case .boolean: return 7
            default: return 100
            }
        }
    }

    var numeric: Double? {
        switch self {
        case .integer(let i): return Double(i)
        case .float(let d): return d
        default: return nil
        }
    }

    static func < (a: IndexKey, b: IndexKey) -> Bool {
        if a.rangeClass != b.rangeClass { return a.rangeClass < b.rangeClass }
        switch (a, b) {
        case (.integer(let x), .integer(let y)): return x < y
        case (.string(let x), .string(let y)): return x < y
        case (.other(let x), .other(let y)): return temporalOrder(x) < temporalOrder(y)
        default: return (a.numeric ?? 0) < (b.numeric ?? 0)
        }
    }

    /// A sortable tuple for values of one temporal type (instants compare in UTC).
    private static func temporalOrder(_ v: Value) -> [Int64] {
        switch v {
        case .date(let d): return [d.epochDays]
        case .localTime(let t): return [t.nanosecondOfDay]
        case .time(let t): return [t.nanosecondOfDay - Int64(t.offsetSeconds) * 1_000_000_000]
        case .localDateTime(let t): return [t.epochSeconds, Int64(t.nanosecond)]
        case .dateTime(let t): return [t.epochSeconds, Int64(t.nanosecond)]
        case .boolean(let b): return [b ? 1 : 0]
        default: return [0]
        }
    }
}

extension Array where Element == Int64 {
    static func < (a: [Int64], b: [Int64]) -> Bool { a.lexicographicallyPrecedes(b) }
}

/// An in-memory schema index on (label, property key): equality through a hash table (`IndexEntryTable`), range
/// and prefix through a sorted key array rebuilt lazily after changes.
/// Shared between threads under the store lock (`GraphDatabase.storeRW`): mutated only while it is held exclusively.
final class PropertyIndex: @unchecked Sendable {
    var descriptor: IndexDescriptor
    private(set) var entries = IndexEntryTable()
    /// Sorted keys for range and prefix seeks, built lazily by the first seek after a change. Seeks run
    /// concurrently under the store's shared lock, so building the cache has its own mutex.
    private var sortedKeys: [IndexKey]?
    private let sortMutex = KernelMutex()

    init(descriptor: IndexDescriptor) { self.descriptor = descriptor }

    /// An index with its entries already built (a loaded snapshot).
    init(descriptor: IndexDescriptor, entries: [IndexKey: IndexHolders]) {
        self.descriptor = descriptor
        self.entries = IndexEntryTable(entries)
    }

    var entryCount: Int { entries.holders.reduce(0) { $0 + $1.count } }

    func add(_ value: Value, _ node: Int64) {
        let key = IndexKey(value)
        // One hash lookup; adds run under the exclusive store lock, so no seek reads `sortedKeys` meanwhile and
        // the mutex is only needed when there is a cache to drop.
        let newKey = entries.insert(key, node)
        if newKey && sortedKeys != nil { sortMutex.withLock { sortedKeys = nil } }
    }

    func remove(_ value: Value, _ node: Int64) {
        // Changed in place: a copy out and back would copy a many-holder set.
        if entries.remove(IndexKey(value), node) { sortMutex.withLock { sortedKeys = nil } }
    }

    func nodes(equal value: Value) -> IndexHolders { entries[IndexKey(value)] ?? IndexHolders() }

    /// The indexed value of each of `nodes` that is in the index (one pass over all entries: for recovery, which
    /// knows which nodes changed but not their old values).
    func values(of nodes: Set<Int64>) -> [Int64: Value] {
        guard !nodes.isEmpty else { return [:] }
        var out: [Int64: Value] = [:]
        for (key, holders) in entries {
            if holders.count < nodes.count {
                for node in holders where nodes.contains(node) { out[node] = key.value }
            } else {
                for node in nodes where holders.contains(node) { out[node] = key.value }
            }
        }
        return out
    }

    private func keys() -> [IndexKey] {
        sortMutex.withLock {
            if let keys = sortedKeys { return keys }
            let keys = entries.keys.sorted()
            sortedKeys = keys
            return keys
        }
    }

    func nodes(lower: RangeBound?, upper: RangeBound?) -> [Int64] {
        guard let cls = (lower ?? upper).map({ IndexKey($0.value).rangeClass }) else { return [] }
        let lowerKey = lower.map { IndexKey($0.value) }
        let upperKey = upper.map { IndexKey($0.value) }
        if let u = upperKey, u.rangeClass != cls { return [] }
        var out: [Int64] = []
        for key in keys() where key.rangeClass == cls {
            if let l = lowerKey {
                if key < l || (!(lower!.inclusive) && !(l < key)) { continue }
            }
            if let u = upperKey {
                if u < key || (!(upper!.inclusive) && !(key < u)) { continue }
            }
            out.append(contentsOf: entries[key]!)
        }
        return out.sorted()
    }

    func nodes(prefix: String) -> [Int64] {
        let all = keys()
        // Binary search for the first string key ≥ prefix.
        var lo = 0
        var hi = all.count
        let probe = IndexKey.string(prefix)
        while lo < hi {
            let mid = (lo + hi) / 2
            if all[mid] < probe { lo = mid + 1 } else { hi = mid }
        }
        var out: [Int64] = []
        var i = lo
        while i < all.count, case .string(let s) = all[i], s.hasPrefix(prefix) {
            out.append(contentsOf: entries[all[i]]!)
            i += 1
        }
        return out.sorted()
    }
}

/// Nodes per label as one bitmap per label: id-ordered iteration without a store scan, one bit per node.
struct LabelScanStore {
    private(set) var bitmaps: [Int32: [UInt64]] = [:]

    init(bitmaps: [Int32: [UInt64]] = [:]) { self.bitmaps = bitmaps }

    mutating func add(_ label: Int32, _ node: Int64) {
        let word = Int(node >> 6)
        // Mutated in place: copying the bitmap out and back made every add copy the label's whole bitmap.
        bitmaps[label, default: []].withGrowingWord(word) { $0 |= 1 << UInt64(node & 63) }
    }

    mutating func remove(_ label: Int32, _ node: Int64) {
        let word = Int(node >> 6)
        guard let count = bitmaps[label]?.count, word < count else { return }
        bitmaps[label]![word] &= ~(1 << UInt64(node & 63))
    }

    func contains(_ label: Int32, _ node: Int64) -> Bool {
        let word = Int(node >> 6)
        guard let bits = bitmaps[label], word < bits.count else { return false }
        return bits[word] & (1 << UInt64(node & 63)) != 0
    }

    /// Node ids with `label` in id order.
    func nodes(_ label: Int32) -> [Int64] {
        guard let bits = bitmaps[label] else { return [] }
        var out: [Int64] = []
        for (w, word) in bits.enumerated() where word != 0 {
            var remaining = word
            while remaining != 0 {
                let bit = remaining.trailingZeroBitCount
                out.append(Int64(w * 64 + bit))
                remaining &= remaining - 1
            }
        }
        return out
    }
}

/// Keys of the counts store: nodes per label (-1 = any), relationships per (start label, type, end label).
struct CountsKey: Hashable {
    var startLabel: Int32
    var type: Int32
    var endLabel: Int32
    /// A node count when true (only `startLabel` used).
    var isNode: Bool

    static let any: Int32 = -1
    static func node(_ label: Int32) -> CountsKey { CountsKey(startLabel: label, type: -1, endLabel: -1, isNode: true) }
    static func rel(_ start: Int32, _ type: Int32, _ end: Int32) -> CountsKey {
        CountsKey(startLabel: start, type: type, endLabel: end, isNode: false)
    }
}

/// Counts deltas of one relationship or node, shared by the committed counts store and the transaction overlay.
enum CountsContribution {
    static func node(labels: [Int32], sign: Int, into counts: inout [CountsKey: Int]) {
        counts[.node(CountsKey.any), default: 0] += sign
        for label in labels { counts[.node(label), default: 0] += sign }
    }

    static func relationship(
        type: Int32, startLabels: [Int32], endLabels: [Int32], sign: Int, into counts: inout [CountsKey: Int]
    ) {
        // Two calls rather than a loop over `[any, type]`: that array literal was a heap allocation per relationship.
        func add(_ t: Int32) {
            counts[.rel(-1, t, -1), default: 0] += sign
            for label in startLabels { counts[.rel(label, t, -1), default: 0] += sign }
            for label in endLabels { counts[.rel(-1, t, label), default: 0] += sign }
        }
        add(CountsKey.any)
        add(type)
    }

    /// The contribution of `count` relationships of `type` that share one end node carrying `labels`, on the
    /// start side (`outgoing`) or the end side; the all-nodes keys `(*, t, *)` are not included (`total`).
    static func relationshipEnd(
        type: Int32, labels: [Int32], outgoing: Bool, count: Int, into counts: inout [CountsKey: Int]
    ) {
        for label in labels {
            if outgoing {
                counts[.rel(label, CountsKey.any, -1), default: 0] += count
                counts[.rel(label, type, -1), default: 0] += count
            } else {
                counts[.rel(-1, CountsKey.any, label), default: 0] += count
                counts[.rel(-1, type, label), default: 0] += count
            }
        }
    }

    /// The `(*, t, *)` keys of `count` relationships of `type`.
    static func relationshipTotal(type: Int32, count: Int, into counts: inout [CountsKey: Int]) {
        counts[.rel(-1, CountsKey.any, -1), default: 0] += count
        counts[.rel(-1, type, -1), default: 0] += count
    }
}

extension Array where Element == UInt64 {
    /// Applies `body` to word `index`, first growing the array with zero words if it is too short.
    fileprivate mutating func withGrowingWord(_ index: Int, _ body: (inout UInt64) -> Void) {
        if count <= index { append(contentsOf: repeatElement(0, count: index + 1 - count)) }
        body(&self[index])
    }
}

/// The nodes holding one value in a `PropertyIndex`.
///
/// Nearly every indexed value has one holder (always, under a uniqueness constraint), so the first holder is kept
/// inline and a `Set` is only allocated for a second one: an index of n unique values was n small heap sets
/// to build, hash into and free.
struct IndexHolders: Sequence {
    /// The only holder while `many` (the set from a second holder on) is nil (`none` = no holder); node ids are never negative.
    private var single: Int64 = IndexHolders.none
    private var many: Set<Int64>?
    private static let none: Int64 = -1

    init() {}

    init<S: Sequence>(_ nodes: S) where S.Element == Int64 {
        for node in nodes { _ = insertReportingFirst(node) }
    }

    var count: Int { many?.count ?? (single == Self.none ? 0 : 1) }
    var isEmpty: Bool { count == 0 }

    func contains(_ node: Int64) -> Bool { many?.contains(node) ?? (single == node && node != Self.none) }

    /// Inserts `node`; true when there was no holder before.
    mutating func insertReportingFirst(_ node: Int64) -> Bool {
        precondition(node >= 0, "index holder \(node) is not a node id")
        if many != nil {
            // In place through the optional: the set stays uniquely referenced.
            return many!.insert(node).inserted && many!.count == 1
        }
        if single == Self.none {
            single = node
            return true
        }
        if single != node {
            many = [single, node]
            single = Self.none
        }
        return false
    }

    /// Removes `node`; true when no holder is left.
    mutating func remove(_ node: Int64) -> Bool {
        if many != nil {
            many!.remove(node)
            return many!.isEmpty
        }
        if single == node { single = Self.none }
        return single == Self.none
    }

    struct Iterator: IteratorProtocol {
        fileprivate var single: Int64
        fileprivate var inner: Set<Int64>.Iterator?

        mutating func next() -> Int64? {
            if inner != nil { return inner!.next() }
            guard single != IndexHolders.none else { return nil }
            defer { single = IndexHolders.none }
            return single
        }
    }

    func makeIterator() -> Iterator { Iterator(single: single, inner: many?.makeIterator()) }

    var underestimatedCount: Int { count }
}
