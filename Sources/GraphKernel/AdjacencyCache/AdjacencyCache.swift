import GraphValues

/// One relationship as seen from a node, packed in 16 bytes: the relationship id with its type and direction in
/// one word, the node at the other end in the second.
///
/// `word` = id << 24 | type << 2 | direction, so ids up to 2^40 and type tokens up to 2^22 fit; a node with a
/// relationship outside those limits is simply not cached (it is served from the records, as before).
struct AdjacencyEdge {
    static let maxID: Int64 = (1 << 40) - 1
    static let maxType: Int32 = (1 << 22) - 1
    static let outgoing: UInt64 = 1
    static let incoming: UInt64 = 2
    static let loop: UInt64 = 3

    let word: UInt64
    let other: Int64

    @inline(__always) init(id: Int64, type: Int32, direction: UInt64, other: Int64) {
        word = UInt64(id) << 24 | UInt64(type) << 2 | direction
        self.other = other
    }

    @inline(__always) var id: Int64 { Int64(word >> 24) }
    @inline(__always) var type: Int32 { Int32(truncatingIfNeeded: (word >> 2) & 0x3F_FFFF) }
    @inline(__always) var direction: UInt64 { word & 3 }
}

/// What an `AdjacencyEntry` keeps in front of its edges.
struct AdjacencyEntryHeader {
    let node: Int64
    let count: Int
    /// For a dense node, the range of the edges holding each relationship type (the walk visits one group per
    /// type); empty for a sparse node, whose few edges are filtered one by one.
    let typeRanges: [(type: Int32, range: Range<Int>)]
    /// Approximate memory held, charged against the cache budget.
    let bytes: Int
    // Mutable state below is only touched under the cache mutex.
    var referenced = true
    var ringIndex = -1
}

/// The committed relationships of one node, in the order the record walk produces them (so cached and uncached
/// expansion return the same sequence). The edges are allocated in the same block as the header, so reaching a
/// node's edges costs one random memory access, then a sequential read. Immutable once built apart from the
/// cache's bookkeeping fields: readers use the edges without any lock.
final class AdjacencyEntry: ManagedBuffer<AdjacencyEntryHeader, AdjacencyEdge>, @unchecked Sendable {
    static func make(
        node: Int64, edges: ContiguousArray<AdjacencyEdge>, typeRanges: [(type: Int32, range: Range<Int>)]
    ) -> AdjacencyEntry {
        let buffer = AdjacencyEntry.create(minimumCapacity: edges.count) { _ in
            AdjacencyEntryHeader(
                node: node, count: edges.count, typeRanges: typeRanges,
                bytes: 64 + edges.count * MemoryLayout<AdjacencyEdge>.stride + typeRanges.count * 24)
        }
        let entry = unsafeDowncast(buffer, to: AdjacencyEntry.self)
        entry.withUnsafeMutablePointerToElements { elements in
            edges.withUnsafeBufferPointer { elements.initialize(from: $0.baseAddress!, count: $0.count) }
        }
        return entry
    }

    deinit {
        _ = withUnsafeMutablePointers { header, elements in elements.deinitialize(count: header.pointee.count) }
    }

    // Read through the header pointer: `header` itself is a class property, whose every access pays a dynamic
    // exclusivity check (a runtime call) — on the hit path, per node.
    @inline(__always) var node: Int64 { withUnsafeMutablePointerToHeader { $0.pointee.node } }
    @inline(__always) var count: Int { withUnsafeMutablePointerToHeader { $0.pointee.count } }
    @inline(__always) var bytes: Int { withUnsafeMutablePointerToHeader { $0.pointee.bytes } }
    /// Second-chance bit of the cache's clock sweep; only touched under the cache mutex.
    @inline(__always) var referenced: Bool {
        get { withUnsafeMutablePointerToHeader { $0.pointee.referenced } }
        set { withUnsafeMutablePointerToHeader { $0.pointee.referenced = newValue } }
    }
    @inline(__always) var ringIndex: Int {
        get { withUnsafeMutablePointerToHeader { $0.pointee.ringIndex } }
        set { withUnsafeMutablePointerToHeader { $0.pointee.ringIndex = newValue } }
    }
    @inline(__always) var typeRanges: [(type: Int32, range: Range<Int>)] {
        withUnsafeMutablePointerToHeader { $0.pointee.typeRanges }
    }

    /// The edges, valid while the entry is alive.
    @inline(__always)
    func withEdges<T>(_ body: (UnsafeBufferPointer<AdjacencyEdge>) throws -> T) rethrows -> T {
        try withUnsafeMutablePointers { header, elements in
            try body(UnsafeBufferPointer(start: elements, count: header.pointee.count))
        }
    }

    /// Appends the edges matching `direction` and `types` to `out` as `RelationshipInfo`s.
    @inline(__always)
    func collect(direction: Direction, types: [Int32], into out: inout [RelationshipInfo]) {
        if types.isEmpty && direction == .both {
            appendAll(&out)
        } else if types.isEmpty {
            append(0..<count, direction, nil, &out)
        } else if case let ranges = typeRanges, !ranges.isEmpty {
            for (type, range) in ranges where types.contains(type) { append(range, direction, nil, &out) }
        } else {
            append(0..<count, direction, types, &out)
        }
    }

    /// How many edges match, without materialising them.
    func count(direction: Direction, types: [Int32]) -> Int {
        if direction == .both && types.isEmpty { return self.count }
        var count = 0
        withEdges { buffer in
            for edge in buffer where Self.matches(edge, direction) && (types.isEmpty || types.contains(edge.type)) {
                count += 1
            }
        }
        return count
    }

    @inline(__always)
    private static func matches(_ edge: AdjacencyEdge, _ direction: Direction) -> Bool {
        switch direction {
        case .both: return true
        // A self-loop is both outgoing and incoming, as in the record walk.
        case .outgoing: return edge.direction & AdjacencyEdge.outgoing != 0
        case .incoming: return edge.direction & AdjacencyEdge.incoming != 0
        }
    }

    /// Every edge, unfiltered (the commonest expansion): the count is known, so `append(contentsOf:)` reserves
    /// once and writes each element straight into the array's storage, without a capacity check per element.
    @inline(__always)
    private func appendAll(_ out: inout [RelationshipInfo]) {
        let node = NodeID(self.node)
        withEdges { buffer in
            out.append(
                contentsOf: buffer.lazy.map { edge in
                    let other = NodeID(edge.other)
                    let outgoing = edge.direction & AdjacencyEdge.outgoing != 0
                    return RelationshipInfo(
                        id: RelationshipID(edge.id), type: edge.type, startNode: outgoing ? node : other,
                        endNode: outgoing ? other : node)
                })
        }
    }

    @inline(__always)
    private func append(_ range: Range<Int>, _ direction: Direction, _ types: [Int32]?, _ out: inout [RelationshipInfo]) {
        let node = NodeID(self.node)
        out.reserveCapacity(out.count + range.count)
        withEdges { buffer in
            for i in range {
                let edge = buffer[i]
                guard Self.matches(edge, direction) else { continue }
                let type = edge.type
                if let types, !types.contains(type) { continue }
                let other = NodeID(edge.other)
                let outgoing = edge.direction & AdjacencyEdge.outgoing != 0
                out.append(
                    RelationshipInfo(
                        id: RelationshipID(edge.id), type: type, startNode: outgoing ? node : other,
                        endNode: outgoing ? other : node))
            }
        }
    }
}

/// Counters of the adjacency cache since the database opened.
public struct AdjacencyCacheCounters: Sendable, Hashable {
    /// Expansions served from a cached entry.
    public var hits: Int64 = 0
    /// Expansions that walked the records (and usually filled an entry).
    public var misses: Int64 = 0
    /// Entries dropped to stay within the budget.
    public var evictions: Int64 = 0
    /// Entries dropped because a commit changed the node's relationships.
    public var invalidations: Int64 = 0
    /// Entries and their approximate memory now (including the id-indexed slot table), and the budget.
    public var entries: Int = 0
    public var bytes: Int = 0
    public var budgetBytes: Int = 0

    public init() {}
}

/// Committed adjacency, per node, as packed arrays: expanding a cached node is a sequential scan of 16-byte edges
/// instead of a dependent load per relationship along the doubly-linked chains of the record store.
///
/// Exactness. An entry is filled by a reader from the records while it holds the store lock shared, and is
/// dropped by `invalidate(_:)`, which the apply step calls while it holds the store lock exclusively, for every
/// node whose relationships the transaction changes — before the changed records become visible. Fill and
/// invalidation therefore never overlap, and an entry always equals what walking the records would give. Local
/// commits, replicated applies (HA slaves) and recovery all go through that apply step. A transaction's own
/// uncommitted changes are overlaid by `KernelTransaction` exactly as for the record walk.
///
/// Bounded memory: entries are charged (approximately) against `budgetBytes`; when a fill goes over it, a clock
/// sweep over the resident entries drops those not used since the hand last passed (second chance) until usage is
/// back under 90% of the budget. An entry larger than a quarter of the budget is not cached. A budget of 0
/// disables the cache. The id-indexed slot table (8 bytes per node id up to the highest cached one) is charged too,
/// and may take at most half of the budget: a node whose id lies beyond that is served from the records, uncached.
final class AdjacencyCache: @unchecked Sendable {
    let budgetBytes: Int
    /// The most slots the table may grow to: half of the budget.
    let maxSlots: Int
    private static let slotBytes = MemoryLayout<AdjacencyEntry?>.stride
    private let mutex = KernelMutex()
    // Unchecked: only touched under `mutex`.
    @exclusivity(unchecked) private var slots: [AdjacencyEntry?] = []
    @exclusivity(unchecked) private var ring: [AdjacencyEntry] = []
    @exclusivity(unchecked) private var clockHand = 0
    @exclusivity(unchecked) private var usedBytes = 0
    @exclusivity(unchecked) private var counters = AdjacencyCacheCounters()

    init(budgetBytes: Int) {
        self.budgetBytes = max(0, budgetBytes)
        maxSlots = self.budgetBytes / 2 / Self.slotBytes
    }

    var isEnabled: Bool { budgetBytes > 0 }

    var stats: AdjacencyCacheCounters {
        mutex.withLock {
            var c = counters
            c.entries = ring.count
            c.bytes = usedBytes
            c.budgetBytes = budgetBytes
            return c
        }
    }

    /// The cached entry of `node`, marked as recently used; counts a hit or a miss.
    @inline(__always)
    func entry(_ node: Int64, countingMiss: Bool = true) -> AdjacencyEntry? {
        mutex.lock()
        defer { mutex.unlock() }
        if node >= 0, node < slots.count, let entry = slots[Int(node)] {
            // Only write when it changes: a hit then only reads the entry's memory.
            if !entry.referenced { entry.referenced = true }
            counters.hits &+= 1
            return entry
        }
        if countingMiss { counters.misses &+= 1 }
        return nil
    }

    /// The cached entries of several nodes at once (nil where a node has none), marked as `entry(_:)` does, in one
    /// mutex round trip. The lookups do not depend on each other, so the processor overlaps their
    /// cache misses (slot, then entry header) instead of paying them one node after the other.
    func entries<C: Collection>(_ nodes: C, into found: inout [AdjacencyEntry?]) where C.Element == NodeID {
        found.removeAll(keepingCapacity: true)
        mutex.lock()
        defer { mutex.unlock() }
        var hits: Int64 = 0
        for node in nodes {
            let id = node.rawValue
            if id >= 0, id < slots.count, let entry = slots[Int(id)] {
                if !entry.referenced { entry.referenced = true }
                hits &+= 1
                found.append(entry)
            } else {
                found.append(nil)
            }
        }
        // Misses are counted by the caller's fallback (`entry(_:)` again, then the walk).
        counters.hits &+= hits
    }

    /// The cached entry of `node` without counting or marking it (degree queries).
    func peek(_ node: Int64) -> AdjacencyEntry? {
        mutex.lock()
        defer { mutex.unlock() }
        return node >= 0 && node < slots.count ? slots[Int(node)] : nil
    }

    /// Caches `entry` (the caller built it from the records under the store lock shared). Keeps an entry another
    /// reader inserted meanwhile: both were built from the same committed state.
    func insert(_ entry: AdjacencyEntry) {
        guard entry.bytes <= budgetBytes / 4 else { return }
        mutex.lock()
        defer { mutex.unlock() }
        let node = Int(entry.node)
        guard node < maxSlots else { return }
        if node >= slots.count {
            // Doubling (amortised), but never past the cap; the growth is charged like an entry.
            let grown = min(maxSlots, max(node + 1, slots.count * 2))
            usedBytes += (grown - slots.count) * Self.slotBytes
            slots.append(contentsOf: repeatElement(nil, count: grown - slots.count))
        }
        guard slots[node] == nil else { return }
        slots[node] = entry
        entry.ringIndex = ring.count
        ring.append(entry)
        usedBytes += entry.bytes
        if usedBytes > budgetBytes { evictLocked(downTo: budgetBytes / 10 * 9) }
    }

    /// Drops the entries of `nodes` (the apply step, holding the store lock exclusively).
    func invalidate<S: Sequence>(_ nodes: S) where S.Element == Int64 {
        mutex.lock()
        defer { mutex.unlock() }
        guard !ring.isEmpty else { return }
        for node in nodes where node >= 0 && node < slots.count {
            guard let entry = slots[Int(node)] else { continue }
            removeLocked(entry)
            counters.invalidations &+= 1
        }
    }

    /// Drops every entry.
    func clear() {
        mutex.withLock {
            // The slot table goes too (and with it its charge).
            slots = []
            ring = []
            usedBytes = 0
            clockHand = 0
        }
    }

    private func removeLocked(_ entry: AdjacencyEntry) {
        let index = entry.ringIndex
        precondition(index >= 0 && index < ring.count && ring[index] === entry, "adjacency ring out of sync at \(index)")
        let last = ring.removeLast()
        if index < ring.count {
            ring[index] = last
            last.ringIndex = index
        }
        entry.ringIndex = -1
        slots[Int(entry.node)] = nil
        usedBytes -= entry.bytes
    }

    private func evictLocked(downTo target: Int) {
        // Each entry is passed at most twice (once to clear its bit, once to evict it): the loop is bounded.
        var steps = 2 * ring.count + 1
        while usedBytes > target && !ring.isEmpty && steps > 0 {
            steps -= 1
            if clockHand >= ring.count { clockHand = 0 }
            let entry = ring[clockHand]
            if entry.referenced {
                entry.referenced = false
                clockHand += 1
            } else {
                // The last entry moves into this position; the hand stays to look at it next.
                removeLocked(entry)
                counters.evictions &+= 1
            }
        }
    }
}
