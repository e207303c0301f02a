import GraphValues

/// Relationships a transaction created (`createRelationship`) and has not looked at or touched since, kept
/// column-wise: id, type, both ends and a run of (key, value) slots per relationship in flat arrays, instead of an
/// entry in `TransactionState.createdRelationships`, one in each end's `createdRelationshipsByNode` list and a
/// property dictionary per relationship.
///
/// A bulk `UNWIND $rows AS r MATCH (a …), (b …) CREATE (a)-[:T {k: r.v}]->(b)` appends here at a few array writes
/// per relationship, and the commit splices and writes records straight from the columns. Anything else that looks
/// at the transaction's state (a read, an expansion, a count, a property change or delete, a node delete) first
/// moves the whole batch into the per-relationship tables (`TransactionState.materializeCreatedRelationships`), so
/// every other code path sees exactly what it saw before the batch existed. The log entry is the same either way.
struct CreatedRelationshipBatch {
    /// Relationship ids in creation order.
    private(set) var ids: [Int64] = []
    private(set) var types: [Int32] = []
    private(set) var startNodes: [Int64] = []
    private(set) var endNodes: [Int64] = []
    /// One run of property slots per relationship.
    private(set) var propertySlots = PropertySlotRuns()
    /// Whether `ids` is strictly ascending (the usual case: fresh ids from the generator).
    private(set) var idsAscending = true

    var isEmpty: Bool { ids.isEmpty }
    var count: Int { ids.count }

    /// Appends a relationship. `.null` values are dropped (a created relationship never had the key); when a key
    /// repeats, its last value wins, as in a property map built from the list.
    mutating func append(_ id: Int64, type: Int32, start: Int64, end: Int64, properties: [(Int32, Value)]) {
        if let last = ids.last, id <= last { idsAscending = false }
        ids.append(id)
        types.append(type)
        startNodes.append(start)
        endNodes.append(end)
        propertySlots.appendRun(properties, keysMayRepeat: true)
    }

    /// The slot range of the relationship at `index`.
    func slots(at index: Int) -> Range<Int> { propertySlots.run(at: index) }

    func info(at index: Int) -> RelationshipInfo {
        RelationshipInfo(
            id: RelationshipID(ids[index]), type: types[index], startNode: NodeID(startNodes[index]),
            endNode: NodeID(endNodes[index]))
    }

    /// Relationship indices in ascending id order.
    func indicesInIDOrder() -> [Int] {
        idsAscending ? Array(ids.indices) : ids.indices.sorted { ids[$0] < ids[$1] }
    }

    mutating func removeAll() { self = CreatedRelationshipBatch() }
}
