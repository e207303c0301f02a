import GraphValues

/// Token names of one kind, cached in memory (tokens are never deleted, ids are dense from 0).
final class TokenCache: @unchecked Sendable {
    private let mutex = KernelMutex()
    private var names: [String] = []
    private var ids: [String: Int32] = [:]

    func id(of name: String) -> Int32? { mutex.withLock { ids[name] } }

    func name(of id: Int32) -> String? {
        mutex.withLock { id >= 0 && Int(id) < names.count ? names[Int(id)] : nil }
    }

    var all: [(Int32, String)] { mutex.withLock { names.enumerated().map { (Int32($0.offset), $0.element) } } }
    var count: Int { mutex.withLock { names.count } }

    func put(_ id: Int32, _ name: String) {
        mutex.withLock {
            while names.count <= Int(id) { names.append("") }
            names[Int(id)] = name
            ids[name] = id
        }
    }

    func reset() { mutex.withLock { names = []; ids = [:] } }
}

/// All record stores of one database directory, with read helpers over committed data.
///
/// Callers of the read helpers hold the database's store lock for reading, so that a transaction being applied
/// (which holds it for writing) is never seen half-way.
final class NeoStores: @unchecked Sendable {
    let directory: String
    let fileSystem: StorageFileSystem
    let cache: PageCache
    let stores: [RecordStore]  // indexed by StoreKind.rawValue - 1
    let nodes: RecordStore
    let relationships: RecordStore
    let groups: RecordStore
    let properties: RecordStore
    let propertyValues: RecordStore
    let nodeLabels: RecordStore
    let labelTokens = TokenCache()
    let relationshipTypeTokens = TokenCache()
    let propertyKeyTokens = TokenCache()
    /// Committed relationships per node as packed arrays (AdjacencyCache/AdjacencyCache.swift); the apply step
    /// invalidates the nodes a commit changes.
    let adjacency: AdjacencyCache

    init(directory: String, fileSystem: StorageFileSystem, cache: PageCache, adjacencyCacheBytes: Int = 0) throws {
        self.directory = directory
        self.fileSystem = fileSystem
        self.cache = cache
        self.adjacency = AdjacencyCache(budgetBytes: adjacencyCacheBytes)
        var all: [RecordStore] = []
        for kind in StoreKind.allCases {
            precondition(Int(kind.rawValue) == all.count + 1, "StoreKind raw values must be dense")
            all.append(try RecordStore(kind: kind, directory: directory, cache: cache, fileSystem: fileSystem))
        }
        stores = all
        nodes = all[Int(StoreKind.node.rawValue) - 1]
        relationships = all[Int(StoreKind.relationship.rawValue) - 1]
        groups = all[Int(StoreKind.relationshipGroup.rawValue) - 1]
        properties = all[Int(StoreKind.property.rawValue) - 1]
        propertyValues = all[Int(StoreKind.propertyValue.rawValue) - 1]
        nodeLabels = all[Int(StoreKind.nodeLabels.rawValue) - 1]
    }

    @inline(__always) func store(_ kind: StoreKind) -> RecordStore { stores[Int(kind.rawValue) - 1] }

    func closeFiles() {
        for store in stores { store.paged.file.close() }
    }

    // MARK: Tokens

    static func tokenKinds(_ kind: TokenKind) -> (StoreKind, StoreKind) {
        switch kind {
        case .label: return (.labelToken, .labelTokenName)
        case .relationshipType: return (.relationshipTypeToken, .relationshipTypeTokenName)
        case .propertyKey: return (.propertyKeyToken, .propertyKeyTokenName)
        }
    }

    func tokens(_ kind: TokenKind) -> TokenCache {
        switch kind {
        case .label: return labelTokens
        case .relationshipType: return relationshipTypeTokens
        case .propertyKey: return propertyKeyTokens
        }
    }

    /// (Re)loads the token caches from the token stores.
    func loadTokens() throws {
        for kind in [TokenKind.label, .relationshipType, .propertyKey] {
            let cache = tokens(kind)
            cache.reset()
            let (tokenKind, nameKind) = Self.tokenKinds(kind)
            let tokenStore = store(tokenKind)
            for id in 0..<tokenStore.highID {
                let record = try tokenStore.withRecord(id) { TokenRecord(from: $0) }
                guard record.inUse else { continue }
                let name = String(decoding: try readDynamicChain(nameKind, record.nameRecord), as: UTF8.self)
                cache.put(Int32(id), name)
            }
        }
    }

    // MARK: Records

    @inline(__always) func node(_ id: Int64) throws -> NodeRecord {
        try nodes.withRecord(id) { NodeRecord(from: $0) }
    }

    @inline(__always) func relationship(_ id: Int64) throws -> RelationshipRecord {
        try relationships.withRecord(id) { RelationshipRecord(from: $0) }
    }

    @inline(__always) func group(_ id: Int64) throws -> RelationshipGroupRecord {
        try groups.withRecord(id) { RelationshipGroupRecord(from: $0) }
    }

    func nodeInUse(_ id: Int64) throws -> Bool {
        guard id >= 0 && id < nodes.highID else { return false }
        return try nodes.isInUse(id)
    }
    func relationshipInUse(_ id: Int64) throws -> Bool {
        guard id >= 0 && id < relationships.highID else { return false }
        return try relationships.isInUse(id)
    }

    /// The bytes of a dynamic record chain; a broken chain is reported as storage damage.
    func readDynamicChain(_ kind: StoreKind, _ first: Int64) throws -> [UInt8] {
        let store = store(kind)
        var out: [UInt8] = []
        var id = first
        var steps = 0
        while id != noID {
            let record = try store.withRecord(id) { DynamicRecord(from: $0, recordSize: store.recordSize) }
            guard record.inUse else {
                throw DatabaseError(.storageDamageDetected, "\(kind.recordName) record \(id) in a chain is not in use")
            }
            out.append(contentsOf: record.data)
            id = record.next
            steps += 1
            if steps > store.highID + 1 {
                throw DatabaseError(.storageDamageDetected, "\(kind.recordName) chain from \(first) has a cycle")
            }
        }
        return out
    }

    func labels(of record: NodeRecord) throws -> [Int32] {
        if record.labelOverflow == noID { return record.inlineLabels }
        let bytes = try readDynamicChain(.nodeLabels, record.labelOverflow)
        return (0..<(bytes.count / 4)).map { readInt32(bytes, $0 * 4) }
    }

    // MARK: Properties

    func propertyValue(_ block: PropertyBlock) throws -> Value {
        try PropertyValueCodec.decode(block) { try self.readDynamicChain(.propertyValue, $0) }
    }

    /// All properties of the chain starting at `first`, in chain order.
    func properties(from first: Int64) throws -> [(Int32, Value)] {
        var out: [(Int32, Value)] = []
        var id = first
        var steps: Int64 = 0
        while id != noID {
            let record = try properties.withRecord(id) { PropertyRecord(from: $0) }
            for block in record.blocks { out.append((block.key, try propertyValue(block))) }
            id = record.next
            steps += 1
            if steps > properties.highID + 1 {
                throw DatabaseError(.storageDamageDetected, "property chain from \(first) has a cycle")
            }
        }
        return out
    }

    /// Property `key` of node `node` (nil when the node is not in use): node record and property chain are read
    /// under one page cache lock; only the matching block is decoded (dynamic values are read afterwards).
    func nodeProperty(_ node: Int64, key: Int32) throws -> Value? {
        let high = properties.highID + 1
        enum Lookup { case noNode, absent, found(PropertyBlock) }
        let lookup: Lookup = try cache.withLockedAccess { access in
            let n = try access.record(nodes, node)
            guard n.byte(0) & 1 != 0 else { return .noNode }
            var id = n.int64(9)
            var steps: Int64 = 0
            while id != noID {
                let p = try access.record(properties, id)
                let count = min(Int(p.byte(1)), PropertyRecord.blocksPerRecord)
                for i in 0..<count where p.int32(16 + i * 16) == key {
                    let base = 16 + i * 16
                    return .found(
                        PropertyBlock(
                            key: key, type: PropertyType(rawValue: p.byte(base + 4)) ?? .integer,
                            inlineLength: p.byte(base + 5), payload: p.int64(base + 8)))
                }
                id = p.int64(8)
                steps += 1
                if steps > high { throw DatabaseError(.storageDamageDetected, "property chain of node \(node) has a cycle") }
            }
            return .absent
        }
        switch lookup {
        case .noNode: return nil
        case .absent: return .null
        case .found(let block): return try propertyValue(block)
        }
    }

    /// Properties `keys` of node `node` into `values` (same order, `.null` when absent); false when the node is
    /// not in use. Like `nodeProperty(_:key:)` but for several keys with one lock and one walk of the chain, which
    /// stops as soon as every key is found (a query reading `p.city` and `p.age` per row pays the walk once).
    func nodeProperties(_ node: Int64, keys: [Int32], into values: inout [Value]) throws -> Bool {
        precondition(values.count == keys.count, "nodeProperties: \(values.count) values for \(keys.count) keys")
        let high = properties.highID + 1
        return try withUnsafeTemporaryAllocation(of: PropertyBlock?.self, capacity: keys.count) { found in
            found.initialize(repeating: nil)
            let inUse: Bool = try cache.withLockedAccess { access in
                let n = try access.record(nodes, node)
                guard n.byte(0) & 1 != 0 else { return false }
                try collectBlocks(access, chain: n.int64(9), of: node, keys: keys, into: found, chainLimit: high)
                return true
            }
            guard inUse else { return false }
            // Values are decoded outside the page cache lock: dynamic (long string, array) values take it again.
            for k in 0..<keys.count {
                values[k] = try found[k].map(propertyValue) ?? .null
            }
            return true
        }
    }

    /// The property blocks of `keys` for every node of `nodes` (`blocks[n * keys.count + i]`: key `i` of `nodes[n]`,
    /// nil when absent), read under one page cache lock; or the index of the first node not in use.
    private func propertyBlocks(of nodes: [Int64], keys: [Int32]) throws -> ([PropertyBlock?], missing: Int?) {
        let width = keys.count
        let high = properties.highID + 1
        let nodeStore = self.nodes
        var blocks = [PropertyBlock?](repeating: nil, count: nodes.count * width)
        let missing: Int? = try blocks.withUnsafeMutableBufferPointer { all in
            try cache.withLockedAccess { access in
                for (n, node) in nodes.enumerated() {
                    let record = try access.record(nodeStore, node)
                    guard record.byte(0) & 1 != 0 else { return n }
                    let slice = UnsafeMutableBufferPointer(rebasing: all[n * width..<(n + 1) * width])
                    try collectBlocks(
                        access, chain: record.int64(9), of: node, keys: keys, into: slice, chainLimit: high)
                }
                return nil
            }
        }
        return (blocks, missing)
    }

    /// `nodeProperties(_:keys:into:)` for several nodes under one page cache lock: `values[n * keys.count + i]`
    /// becomes key `i` of `nodes[n]`. Returns the index of the first node not in use (nil when all are).
    func nodeProperties(_ nodes: [Int64], keys: [Int32], into values: inout [Value]) throws -> Int? {
        let width = keys.count
        precondition(values.count == nodes.count * width, "nodeProperties: \(values.count) values for \(nodes.count) × \(width)")
        let (blocks, missingNode) = try propertyBlocks(of: nodes, keys: keys)
        if let missingNode { return missingNode }
        for i in 0..<blocks.count { values[i] = try blocks[i].map(propertyValue) ?? .null }
        return nil
    }

    /// `nodeProperties(_:keys:into:)` for several nodes, as raw properties: booleans, integers, floats and short
    /// strings are copied out of their blocks as bits (no `Value` is built, which is most of the cost of a read
    /// for a scan that only groups or sums); other values are decoded into `decoded` outside the lock.
    /// Returns the index of the first node not in use (nil when all are).
    func rawNodeProperties(_ nodes: [Int64], keys: [Int32], into raw: inout [RawProperty], decoded: inout [Value])
        throws -> Int?
    {
        let width = keys.count
        precondition(raw.count == nodes.count * width, "rawNodeProperties: \(raw.count) slots for \(nodes.count) × \(width)")
        let (blocks, missingNode) = try propertyBlocks(of: nodes, keys: keys)
        if let missingNode { return missingNode }
        for i in 0..<blocks.count {
            guard let block = blocks[i] else {
                raw[i] = .absent
                continue
            }
            let bits = UInt64(bitPattern: block.payload)
            switch block.type {
            case .boolean: raw[i] = RawProperty(kind: .boolean, bits: bits != 0 ? 1 : 0)
            case .integer: raw[i] = RawProperty(kind: .integer, bits: bits)
            case .float: raw[i] = RawProperty(kind: .float, bits: bits)
            case .shortString:
                // Same clamp as the `Value` decode: a length above 8 is damage, read as 8 bytes.
                raw[i] = RawProperty(kind: .shortString, length: min(block.inlineLength, 8), bits: bits)
            case .date, .localTime, .string, .encoded:
                decoded.append(try propertyValue(block))
                raw[i] = RawProperty(kind: .decoded, bits: UInt64(decoded.count - 1))
            }
        }
        return nil
    }

    /// Walks node `node`'s property chain from `first` under the caller's page cache lock, storing the block of
    /// `keys[k]` in `found[k]` (which start nil) and stopping as soon as every key is found. `chainLimit` bounds the
    /// walk so a damaged, cyclic chain is reported instead of looping.
    private func collectBlocks(
        _ access: LockedPageAccess, chain first: Int64, of node: Int64, keys: [Int32],
        into found: UnsafeMutableBufferPointer<PropertyBlock?>, chainLimit: Int64
    ) throws {
        var missing = keys.count
        var id = first
        var steps: Int64 = 0
        while id != noID && missing > 0 {
            let p = try access.record(properties, id)
            let count = min(Int(p.byte(1)), PropertyRecord.blocksPerRecord)
            for i in 0..<count {
                let offset = 16 + i * 16
                let key = p.int32(offset)
                for k in 0..<keys.count where keys[k] == key && found[k] == nil {
                    found[k] = PropertyBlock(
                        key: key, type: PropertyType(rawValue: p.byte(offset + 4)) ?? .integer,
                        inlineLength: p.byte(offset + 5), payload: p.int64(offset + 8))
                    missing -= 1
                }
            }
            id = p.int64(8)
            steps += 1
            if steps > chainLimit {
                throw DatabaseError(.storageDamageDetected, "property chain of node \(node) has a cycle")
            }
        }
    }

    /// One property of the chain at `first`, `.null` when absent. Decodes only the matching block.
    func property(from first: Int64, key: Int32) throws -> Value {
        var id = first
        var steps: Int64 = 0
        while id != noID {
            // Scan the record in place rather than materialising it: this is the hot property-read path.
            var found: PropertyBlock?
            let next: Int64 = try properties.withRecord(id) { p in
                let count = min(Int(p.byte(1)), PropertyRecord.blocksPerRecord)
                for i in 0..<count where p.int32(16 + i * 16) == key {
                    let base = 16 + i * 16
                    found = PropertyBlock(
                        key: key, type: PropertyType(rawValue: p.byte(base + 4)) ?? .integer,
                        inlineLength: p.byte(base + 5), payload: p.int64(base + 8))
                }
                return p.int64(8)
            }
            if let block = found { return try propertyValue(block) }
            id = next
            steps += 1
            if steps > properties.highID + 1 {
                throw DatabaseError(.storageDamageDetected, "property chain from \(first) has a cycle")
            }
        }
        return .null
    }

    // MARK: Expansion

    /// Appends the committed relationships of `node` matching `direction`/`types` to `out`, in chain order.
    /// Collecting eagerly (under the caller's store lock) keeps iteration safe against concurrent commits.
    ///
    /// Hot path (expansion): served from the adjacency cache when the node has an entry (a sequential scan of
    /// packed edges); otherwise the node's whole chain is walked once into a new entry, which then answers.
    func collectRelationships(
        of node: Int64, direction: Direction, types: [Int32], into out: inout [RelationshipInfo]
    ) throws {
        guard adjacency.isEnabled else {
            return try walkRelationships(of: node, direction: direction, types: types, into: &out)
        }
        if let entry = adjacency.entry(node) {
            entry.collect(direction: direction, types: types, into: &out)
            return
        }
        try fillAndCollect(of: node, direction: direction, types: types, into: &out)
    }

    /// After a cache miss: builds and caches the node's entry and answers from it.
    private func fillAndCollect(
        of node: Int64, direction: Direction, types: [Int32], into out: inout [RelationshipInfo]
    ) throws {
        guard let entry = try buildAdjacencyEntry(node) else {
            // Not in use, or ids/types beyond what an edge packs: the record walk answers.
            return try walkRelationships(of: node, direction: direction, types: types, into: &out)
        }
        adjacency.insert(entry)
        entry.collect(direction: direction, types: types, into: &out)
    }

    /// Answers from the adjacency cache only (false on a miss). Safe without the store lock: an entry is
    /// immutable, and a commit drops it while holding the store lock exclusively, before the commit returns, so a
    /// hit is the node's committed state at some instant during the call (as if the read took the lock just before
    /// that commit), and a caller that starts after a commit returned cannot find the stale entry.
    @inline(__always)
    func cachedRelationships(
        of node: Int64, direction: Direction, types: [Int32], into out: inout [RelationshipInfo]
    ) -> Bool {
        guard adjacency.isEnabled, let entry = adjacency.entry(node, countingMiss: false) else { return false }
        entry.collect(direction: direction, types: types, into: &out)
        return true
    }

    /// `collectRelationships` for a caller that must also know whether the node is in use (false: nothing was
    /// collected). A cached entry answers both at once: entries exist only for nodes in use, and deleting a node
    /// changes its record, which drops its entry.
    func collectRelationshipsIfInUse(
        of node: Int64, direction: Direction, types: [Int32], into out: inout [RelationshipInfo]
    ) throws -> Bool {
        if adjacency.isEnabled, let entry = adjacency.entry(node) {
            entry.collect(direction: direction, types: types, into: &out)
            return true
        }
        guard try nodeInUse(node) else { return false }
        if adjacency.isEnabled {
            try fillAndCollect(of: node, direction: direction, types: types, into: &out)
        } else {
            try walkRelationships(of: node, direction: direction, types: types, into: &out)
        }
        return true
    }

    /// Walks every relationship of `node` into an adjacency entry (nil when the node is not in use or an id or
    /// type does not fit an `AdjacencyEdge`). The caller holds the store lock, so the walk sees one committed state.
    func buildAdjacencyEntry(_ node: Int64) throws -> AdjacencyEntry? {
        let relationships = self.relationships
        let limit = relationships.highID + 1
        var edges = ContiguousArray<AdjacencyEdge>()
        var ranges: [(type: Int32, range: Range<Int>)] = []
        let fits: Bool = try cache.withLockedAccess { access in
            let p = try access.record(nodes, node)
            guard p.byte(0) & 1 != 0 else { return false }
            let first = p.int64(1)
            guard p.byte(0) & 2 != 0 else {
                return try walkEdges(access, first, node, limit, &edges)
            }
            return try forEachGroup(access, first, of: node) { type, firstOut, firstIn, firstLoop in
                let start = edges.count
                guard try walkEdges(access, firstOut, node, limit, &edges),
                    try walkEdges(access, firstIn, node, limit, &edges),
                    try walkEdges(access, firstLoop, node, limit, &edges)
                else { return false }
                if edges.count > start { ranges.append((type, start..<edges.count)) }
                return true
            }
        }
        return fits ? AdjacencyEntry.make(node: node, edges: edges, typeRanges: ranges) : nil
    }

    /// The relationship groups of dense `node`, from `first` in chain order: `body(type, firstOut, firstIn,
    /// firstLoop)` for each until it returns false (then this returns false). A chain longer than the group store
    /// is a cycle: damage, reported rather than looped on.
    @inline(__always)
    private func forEachGroup(
        _ access: LockedPageAccess, _ first: Int64, of node: Int64,
        _ body: (_ type: Int32, _ firstOut: Int64, _ firstIn: Int64, _ firstLoop: Int64) throws -> Bool
    ) throws -> Bool {
        let groupLimit = groups.highID + 1
        var groupID = first
        var steps: Int64 = 0
        while groupID != noID {
            let g = try access.record(groups, groupID)
            let next = g.int64(5)
            guard try body(g.int32(1), g.int64(13), g.int64(21), g.int64(29)) else { return false }
            groupID = next
            steps += 1
            if steps > groupLimit {
                throw DatabaseError(.storageDamageDetected, "relationship group chain of node \(node) has a cycle")
            }
        }
        return true
    }

    /// One chain of `node` into `edges`; false when an id or type does not fit an edge.
    @inline(__always)
    private func walkEdges(
        _ access: LockedPageAccess, _ first: Int64, _ node: Int64, _ limit: Int64,
        _ edges: inout ContiguousArray<AdjacencyEdge>
    ) throws -> Bool {
        var id = first
        var steps: Int64 = 0
        while id != noID {
            let p = try access.record(relationships, id)
            let type = p.int32(1)
            let start = p.int64(5)
            let end = p.int64(13)
            guard id <= AdjacencyEdge.maxID, type >= 0, type <= AdjacencyEdge.maxType else { return false }
            let direction: UInt64
            if start == node {
                direction = end == node ? AdjacencyEdge.loop : AdjacencyEdge.outgoing
            } else {
                direction = AdjacencyEdge.incoming
            }
            edges.append(AdjacencyEdge(id: id, type: type, direction: direction, other: start == node ? end : start))
            id = start == node ? p.int64(29) : p.int64(45)
            steps += 1
            if steps > limit {
                throw DatabaseError(.storageDamageDetected, "relationship chain of node \(node) has a cycle")
            }
        }
        return true
    }

    /// `collectRelationships` straight from the records: the whole walk holds the page cache lock once and decodes
    /// only the fields it needs from page memory, so a relationship costs a page-table lookup and a few loads.
    func walkRelationships(
        of node: Int64, direction: Direction, types: [Int32], into out: inout [RelationshipInfo]
    ) throws {
        let relationships = self.relationships
        let limit = relationships.highID + 1
        try cache.withLockedAccess { access in
            let p = try access.record(nodes, node)
            guard p.byte(0) & 1 != 0 else { return }
            let dense = p.byte(0) & 2 != 0
            let first = p.int64(1)
            if dense {
                _ = try forEachGroup(access, first, of: node) { type, firstOut, firstIn, firstLoop in
                    guard types.isEmpty || types.contains(type) else { return true }
                    if direction != .incoming { try walkChain(access, firstOut, node, .both, [], limit, &out) }
                    if direction != .outgoing { try walkChain(access, firstIn, node, .both, [], limit, &out) }
                    try walkChain(access, firstLoop, node, .both, [], limit, &out)
                    return true
                }
            } else {
                try walkChain(access, first, node, direction, types, limit, &out)
            }
        }
    }

    /// How many committed relationships of `node` match, without materialising them. A non-dense node asked for
    /// every relationship answers from the chain length kept in its first relationship.
    func countRelationships(of node: Int64, direction: Direction, types: [Int32]) throws -> Int {
        if adjacency.isEnabled, let entry = adjacency.peek(node) { return entry.count(direction: direction, types: types) }
        let limit = relationships.highID + 1
        return try cache.withLockedAccess { access in
            let p = try access.record(nodes, node)
            guard p.byte(0) & 1 != 0 else { return 0 }
            let first = p.int64(1)
            if p.byte(0) & 2 == 0 {
                if direction == .both && types.isEmpty {
                    guard first != noID else { return 0 }
                    let r = try access.record(relationships, first)
                    return Int(r.int64(5) == node ? r.int64(21) : r.int64(37))
                }
                return try countChain(access, first, node, direction, types, limit)
            }
            var count = 0
            _ = try forEachGroup(access, first, of: node) { type, firstOut, firstIn, firstLoop in
                guard types.isEmpty || types.contains(type) else { return true }
                if direction != .incoming { count += try countChain(access, firstOut, node, .both, [], limit) }
                if direction != .outgoing { count += try countChain(access, firstIn, node, .both, [], limit) }
                count += try countChain(access, firstLoop, node, .both, [], limit)
                return true
            }
            return count
        }
    }

    private func countChain(
        _ access: LockedPageAccess, _ first: Int64, _ node: Int64, _ direction: Direction, _ types: [Int32],
        _ limit: Int64
    ) throws -> Int {
        var count = 0
        var id = first
        var steps: Int64 = 0
        while id != noID {
            let p = try access.record(relationships, id)
            let start = p.int64(5)
            let matchesDirection: Bool
            switch direction {
            case .both: matchesDirection = true
            case .outgoing: matchesDirection = start == node
            case .incoming: matchesDirection = p.int64(13) == node
            }
            if matchesDirection && (types.isEmpty || types.contains(p.int32(1))) { count += 1 }
            id = start == node ? p.int64(29) : p.int64(45)
            steps += 1
            if steps > limit { throw DatabaseError(.storageDamageDetected, "relationship chain of node \(node) has a cycle") }
        }
        return count
    }

    @inline(__always)
    private func walkChain(
        _ access: LockedPageAccess, _ first: Int64, _ node: Int64, _ direction: Direction, _ types: [Int32],
        _ limit: Int64, _ out: inout [RelationshipInfo]
    ) throws {
        var id = first
        var steps: Int64 = 0
        let anyType = types.isEmpty
        while id != noID {
            let p = try access.record(relationships, id)
            let type = p.int32(1)
            let start = p.int64(5)
            let end = p.int64(13)
            let next = start == node ? p.int64(29) : p.int64(45)
            let matches: Bool
            switch direction {
            case .both: matches = true
            case .outgoing: matches = start == node
            case .incoming: matches = end == node
            }
            if matches && (anyType || types.contains(type)) {
                out.append(
                    RelationshipInfo(id: RelationshipID(id), type: type, startNode: NodeID(start), endNode: NodeID(end)))
            }
            id = next
            steps += 1
            if steps > limit {
                throw DatabaseError(.storageDamageDetected, "relationship chain of node \(node) has a cycle")
            }
        }
    }
}

/// The three token namespaces.
enum TokenKind: UInt8, Sendable {
    case label = 1
    case relationshipType = 2
    case propertyKey = 3
}
