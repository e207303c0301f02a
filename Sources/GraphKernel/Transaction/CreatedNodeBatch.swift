import GraphValues

/// Nodes a transaction created whole (`createNode(labels:properties:)`) and has not touched since, kept column-wise:
/// one id, one label-set index and one run of (key, value) slots per node in flat arrays, instead of a set entry,
/// a label array and a property dictionary per node in `TransactionState`.
///
/// A bulk `UNWIND $rows AS r CREATE (:Person {…})` appends here at a few array writes per node, and the commit
/// writes records, unique-value locks, validation and the log's node changes straight from the columns. Anything
/// else that looks at the transaction's node state (a read, a label or property change, a delete, a relationship
/// on the node) first moves the whole batch into the per-node tables (`TransactionState.materializeCreatedBatch`),
/// so every other code path sees exactly what it saw before the batch existed.
struct CreatedNodeBatch {
    /// Node ids in creation order.
    private(set) var ids: [Int64] = []
    /// Per node: its index in `labelSets`.
    private(set) var labelSetOfNode: [Int32] = []
    /// Distinct label sets (each sorted, without repeats); a bulk create uses one or two.
    private(set) var labelSets: [[Int32]] = []
    /// One run of property slots per node.
    private(set) var propertySlots = PropertySlotRuns()
    /// Whether `ids` is strictly ascending (the usual case: fresh ids from the generator).
    private(set) var idsAscending = true

    var isEmpty: Bool { ids.isEmpty }
    var count: Int { ids.count }

    /// Appends a node. `labels` must be sorted without repeats; `properties` must not repeat a key (the caller
    /// checks both). `.null` values are dropped, as a created node never had the key.
    mutating func append(_ id: Int64, labels: [Int32], properties: [(Int32, Value)]) {
        if let last = ids.last, id <= last { idsAscending = false }
        ids.append(id)
        if let last = labelSets.indices.last, labelSets[last] == labels {
            labelSetOfNode.append(Int32(last))
        } else if let found = labelSets.firstIndex(of: labels) {
            labelSetOfNode.append(Int32(found))
        } else {
            labelSets.append(labels)
            labelSetOfNode.append(Int32(labelSets.count - 1))
        }
        propertySlots.appendRun(properties, keysMayRepeat: false)
    }

    func labels(at index: Int) -> [Int32] { labelSets[Int(labelSetOfNode[index])] }

    /// The slot range of the node at `index`.
    func slots(at index: Int) -> Range<Int> { propertySlots.run(at: index) }

    /// The value of `key` on the node at `index`, if set.
    func value(at index: Int, key: Int32) -> Value? {
        for slot in slots(at: index) where propertySlots.keys[slot] == key { return propertySlots.values[slot] }
        return nil
    }

    /// Node indices in ascending id order.
    func indicesInIDOrder() -> [Int] {
        idsAscending ? Array(ids.indices) : ids.indices.sorted { ids[$0] < ids[$1] }
    }

    mutating func removeAll() { self = CreatedNodeBatch() }
}
