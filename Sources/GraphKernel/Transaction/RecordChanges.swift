import GraphValues

/// The records a commit changes, loaded from the store on first touch and modified in memory; at the end they
/// become the transaction's after-images. Ids allocated here are returned to their generators if the commit fails.
final class RecordChanges {
    let stores: NeoStores
    private(set) var nodes: [Int64: NodeRecord] = [:]
    private(set) var relationships: [Int64: RelationshipRecord] = [:]
    private(set) var groups: [Int64: RelationshipGroupRecord] = [:]
    private(set) var properties: [Int64: PropertyRecord] = [:]
    private(set) var dynamics: [StoreKind: [Int64: DynamicRecord]] = [:]
    private(set) var tokens: [StoreKind: [Int64: TokenRecord]] = [:]
    /// Records of nodes created whole by this commit and of their new property chains (`CreatedNodeBatch`): written
    /// once and never loaded again by this commit, so kept in write order instead of in the tables above, and
    /// merged into the after-images by id. Their ids are fresh, so no table holds them too.
    private var createdNodeRecords: [(id: Int64, record: NodeRecord)] = []
    private var createdPropertyRecords: [(id: Int64, record: PropertyRecord)] = []
    /// Records of relationships created by this commit whose chains are fully linked (nothing else in the commit
    /// loads or changes them), in ascending id order; merged into the after-images like created nodes.
    private var createdRelationshipRecords: [(id: Int64, record: RelationshipRecord)] = []
    /// Ids taken from generators during this commit (returned on failure).
    private(set) var allocated: [StoreKind: [Int64]] = [:]

    let pending: PendingRecords?

    init(stores: NeoStores, pending: PendingRecords? = nil) {
        self.stores = stores
        self.pending = pending
    }

    /// Decodes the newest unapplied after-image of a record, if a transaction in flight wrote one.
    private func pendingImage<R>(_ kind: StoreKind, _ id: Int64, _ decode: (UnsafeMutableRawPointer) -> R) -> R? {
        guard let bytes = pending?.image(kind, id) else { return nil }
        return bytes.withUnsafeBytes { decode(UnsafeMutableRawPointer(mutating: $0.baseAddress!)) }
    }

    // MARK: Load / modify

    func node(_ id: Int64) throws -> NodeRecord {
        if let r = nodes[id] { return r }
        let r = try pendingImage(.node, id, NodeRecord.init(from:)) ?? stores.node(id)
        nodes[id] = r
        return r
    }

    func modifyNode(_ id: Int64, _ body: (inout NodeRecord) throws -> Void) throws {
        var r = try node(id)
        try body(&r)
        nodes[id] = r
    }

    /// Replaces a record whose previous content does not matter (a node created by this commit).
    func setNode(_ id: Int64, _ record: NodeRecord) { nodes[id] = record }

    /// The record of a node created whole by this commit, which nothing else in the commit loads or changes.
    func appendCreatedNode(_ id: Int64, _ record: NodeRecord) {
        createdNodeRecords.append((id, record))
    }

    /// A property record allocated by this commit for a created node's chain, which nothing else loads or changes.
    func appendCreatedProperty(_ id: Int64, _ record: PropertyRecord) {
        createdPropertyRecords.append((id, record))
    }

    /// Room for `nodes` created nodes with `properties` property records.
    func reserveCreated(nodes: Int, properties: Int) {
        createdNodeRecords.reserveCapacity(createdNodeRecords.count + nodes)
        createdPropertyRecords.reserveCapacity(createdPropertyRecords.count + properties)
    }

    func relationship(_ id: Int64) throws -> RelationshipRecord {
        if let r = relationships[id] { return r }
        let r = try pendingImage(.relationship, id, RelationshipRecord.init(from:)) ?? stores.relationship(id)
        relationships[id] = r
        return r
    }

    /// Replaces a record whose previous content does not matter (a relationship created by this commit).
    func setRelationship(_ id: Int64, _ record: RelationshipRecord) { relationships[id] = record }

    /// The complete record of a relationship created by this commit, which nothing else in the commit loads or
    /// changes (ids fresh, appended in ascending order).
    func appendCreatedRelationship(_ id: Int64, _ record: RelationshipRecord) {
        createdRelationshipRecords.append((id, record))
    }

    /// Reads a relationship without making it part of the commit (it is only written if modified).
    func peekRelationship(_ id: Int64) throws -> RelationshipRecord {
        if let r = relationships[id] { return r }
        return try pendingImage(.relationship, id, RelationshipRecord.init(from:)) ?? stores.relationship(id)
    }

    func peekGroup(_ id: Int64) throws -> RelationshipGroupRecord {
        if let r = groups[id] { return r }
        return try pendingImage(.relationshipGroup, id, RelationshipGroupRecord.init(from:)) ?? stores.group(id)
    }

    func modifyRelationship(_ id: Int64, _ body: (inout RelationshipRecord) throws -> Void) throws {
        var r = try relationship(id)
        try body(&r)
        relationships[id] = r
    }

    func group(_ id: Int64) throws -> RelationshipGroupRecord {
        if let r = groups[id] { return r }
        let r = try pendingImage(.relationshipGroup, id, RelationshipGroupRecord.init(from:)) ?? stores.group(id)
        groups[id] = r
        return r
    }

    func modifyGroup(_ id: Int64, _ body: (inout RelationshipGroupRecord) throws -> Void) throws {
        var r = try group(id)
        try body(&r)
        groups[id] = r
    }

    func property(_ id: Int64) throws -> PropertyRecord {
        if let r = properties[id] { return r }
        let r =
            try pendingImage(.property, id, PropertyRecord.init(from:))
            ?? stores.properties.withRecord(id) { PropertyRecord(from: $0) }
        properties[id] = r
        return r
    }

    func setProperty(_ id: Int64, _ record: PropertyRecord) { properties[id] = record }

    func dynamic(_ kind: StoreKind, _ id: Int64) throws -> DynamicRecord {
        if let r = dynamics[kind]?[id] { return r }
        let store = stores.store(kind)
        let r =
            try pendingImage(kind, id) { DynamicRecord(from: $0, recordSize: store.recordSize) }
            ?? store.withRecord(id) { DynamicRecord(from: $0, recordSize: store.recordSize) }
        dynamics[kind, default: [:]][id] = r
        return r
    }

    func setToken(_ kind: StoreKind, _ id: Int64, _ record: TokenRecord) { tokens[kind, default: [:]][id] = record }

    func allocate(_ kind: StoreKind) -> Int64 {
        let id = stores.store(kind).allocate()
        allocated[kind, default: []].append(id)
        return id
    }

    /// Returns every id allocated by this commit (the commit failed before anything was applied).
    func releaseAllocated() {
        for (kind, ids) in allocated { stores.store(kind).release(ids) }
        allocated = [:]
    }

    // MARK: Dynamic chains

    /// Writes `bytes` into a new chain of dynamic records and returns its first id (noID for no bytes only when
    /// `allowEmpty` is false; an empty value still gets one record so it has an address).
    func writeDynamicChain(_ kind: StoreKind, _ bytes: [UInt8]) -> Int64 {
        let capacity = kind.recordSize - DynamicRecord.headerSize
        let chunkCount = max(1, (bytes.count + capacity - 1) / capacity)
        let ids = (0..<chunkCount).map { _ in allocate(kind) }
        for (index, id) in ids.enumerated() {
            var record = DynamicRecord()
            record.inUse = true
            record.isStart = index == 0
            record.next = index + 1 < ids.count ? ids[index + 1] : noID
            let start = index * capacity
            record.data = Array(bytes[start..<min(bytes.count, start + capacity)])
            dynamics[kind, default: [:]][id] = record
        }
        return ids[0]
    }

    /// Marks a dynamic chain unused.
    func freeDynamicChain(_ kind: StoreKind, _ first: Int64) throws {
        var id = first
        var steps: Int64 = 0
        let limit = stores.store(kind).highID + 1
        while id != noID {
            var record = try dynamic(kind, id)
            let next = record.next
            guard record.inUse else { break }
            record.inUse = false
            record.isStart = false
            record.next = noID
            record.data = []
            dynamics[kind, default: [:]][id] = record
            id = next
            steps += 1
            precondition(steps <= limit, "cycle in \(kind.recordName) chain from \(first)")
        }
    }

    // MARK: After-images

    /// Every changed record as (kind, id, after-image bytes), ordered by store then id.
    func afterImages() -> [RecordCommand] {
        var out: [RecordCommand] = []
        out.reserveCapacity(
            nodes.count + relationships.count + groups.count + properties.count + createdNodeRecords.count
                + createdRelationshipRecords.count
                + createdPropertyRecords.count + dynamics.values.reduce(0) { $0 + $1.count })
        func emit(_ kind: StoreKind, _ id: Int64, _ encode: (UnsafeMutableRawPointer) -> Void) {
            let size = kind.recordSize
            let after = [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
                let bytes = UnsafeMutableRawPointer(buffer.baseAddress!)
                bytes.initializeMemory(as: UInt8.self, repeating: 0, count: size)
                encode(bytes)
                initialized = size
            }
            out.append(RecordCommand(kind: kind, id: id, after: after))
        }
        /// A table's records and the created ones, in one id order.
        func emitMerged<R>(
            _ kind: StoreKind, _ table: [Int64: R], _ created: [(id: Int64, record: R)],
            _ encode: (R, UnsafeMutableRawPointer) -> Void
        ) {
            let keys = table.keys.sorted()
            var appended = created
            if zip(appended, appended.dropFirst()).contains(where: { $0.id >= $1.id }) {
                appended.sort { $0.id < $1.id }
            }
            var i = 0
            var j = 0
            while i < keys.count || j < appended.count {
                if j == appended.count || (i < keys.count && keys[i] < appended[j].id) {
                    let id = keys[i]
                    emit(kind, id) { encode(table[id]!, $0) }
                    i += 1
                } else {
                    let (id, record) = appended[j]
                    precondition(
                        i == keys.count || keys[i] != id,
                        "\(kind.recordName) record \(id) is both created whole and changed in one commit")
                    emit(kind, id) { encode(record, $0) }
                    j += 1
                }
            }
        }
        emitMerged(.node, nodes, createdNodeRecords) { $0.encode(to: $1) }
        emitMerged(.relationship, relationships, createdRelationshipRecords) { $0.encode(to: $1) }
        for id in groups.keys.sorted() { emit(.relationshipGroup, id) { groups[id]!.encode(to: $0) } }
        emitMerged(.property, properties, createdPropertyRecords) { $0.encode(to: $1) }
        for kind in dynamics.keys.sorted(by: { $0.rawValue < $1.rawValue }) {
            let records = dynamics[kind]!
            for id in records.keys.sorted() {
                emit(kind, id) { records[id]!.encode(to: $0, recordSize: kind.recordSize) }
            }
        }
        for kind in tokens.keys.sorted(by: { $0.rawValue < $1.rawValue }) {
            let records = tokens[kind]!
            for id in records.keys.sorted() { emit(kind, id) { records[id]!.encode(to: $0) } }
        }
        return out
    }
}

/// A physical redo command: the full after-image of one record. Applying it twice is harmless (idempotent).
struct RecordCommand: Equatable, Sendable {
    var kind: StoreKind
    var id: Int64
    var after: [UInt8]

    var afterInUse: Bool { (after.first ?? 0) & 1 != 0 }
}
