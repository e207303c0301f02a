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
    /// Per relationship: the end of its slots in `keys`/`values` (its start is the previous one's end).
    private(set) var slotEnds: [Int32] = []
    /// Property slots of every relationship, each one's run sorted by key, without `.null` values or repeated keys.
    private(set) var keys: [Int32] = []
    private(set) var values: [Value] = []
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
        let start = keys.count
        for (key, value) in properties {
            if let existing = keys[start...].firstIndex(of: key) {
                // A repeated key: the later value replaces it (or removes it, for null).
                if value.isNull {
                    keys.remove(at: existing)
                    values.remove(at: existing)
                } else {
                    values[existing] = value
                }
                continue
            }
            guard !value.isNull else { continue }
            // Insertion keeps the run sorted by key (runs are a handful of slots).
            var i = keys.count
            keys.append(key)
            values.append(value)
            while i > start && keys[i - 1] > key {
                keys.swapAt(i - 1, i)
                values.swapAt(i - 1, i)
                i -= 1
            }
        }
        slotEnds.append(Int32(keys.count))
    }

    /// The slot range of the relationship at `index`.
    func slots(at index: Int) -> Range<Int> {
        (index == 0 ? 0 : Int(slotEnds[index - 1]))..<Int(slotEnds[index])
    }

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
