import GraphValues

/// A transaction's uncommitted changes, overlaid on committed data by reads (read committed + own writes).
///
/// Labels and properties of a touched entity are kept as the full new state of what changed (label set, or
/// per-key value with `.null` meaning removed), so reads never need to merge twice.
struct TransactionState {
    /// Nodes created whole and untouched since, column-wise; not part of the per-node tables below until
    /// `materializeCreatedBatch()` moves them there (`KernelTransaction` does before any other use of its state).
    var createdBatch = CreatedNodeBatch()
    var createdNodes: Set<Int64> = []
    var deletedNodes: Set<Int64> = []
    /// Full label set of nodes whose labels changed (or created nodes).
    var nodeLabels: [Int64: [Int32]] = [:]
    /// Changed properties per node: key → new value (`.null` = removed).
    var nodeProperties: [Int64: [Int32: Value]] = [:]
    /// Relationships created and untouched since, column-wise; not part of the per-relationship tables below until
    /// `materializeCreatedRelationships()` moves them there (`KernelTransaction` does before any other use).
    var createdRelationshipBatch = CreatedRelationshipBatch()
    var createdRelationships: [Int64: RelationshipInfo] = [:]
    var deletedRelationships: Set<Int64> = []
    var relationshipProperties: [Int64: [Int32: Value]] = [:]
    /// Created relationships per node, for expansion overlay.
    var createdRelationshipsByNode: [Int64: [Int64]] = [:]

    var createdIndexes: [IndexDescriptor] = []
    var droppedIndexes: [String] = []
    var createdConstraints: [ConstraintDescriptor] = []
    var droppedConstraints: [String] = []

    var hasDataChanges: Bool {
        !createdBatch.isEmpty || !createdNodes.isEmpty || !deletedNodes.isEmpty || !nodeLabels.isEmpty || !nodeProperties.isEmpty
            || !createdRelationships.isEmpty || !deletedRelationships.isEmpty || !relationshipProperties.isEmpty
            || !createdRelationshipBatch.isEmpty
    }

    /// Relationships created by this transaction, in the batch or in the table.
    var createdRelationshipCount: Int { createdRelationships.count + createdRelationshipBatch.count }

    /// Ids of every created relationship (batch and table) and of every deleted one, ascending.
    var changedRelationshipIDs: [Int64] {
        var ids = Array(createdRelationships.keys)
        ids.reserveCapacity(createdRelationshipCount + deletedRelationships.count)
        ids.append(contentsOf: createdRelationshipBatch.ids)
        ids.append(contentsOf: deletedRelationships)
        if ids.count == createdRelationshipBatch.count && createdRelationshipBatch.idsAscending { return ids }
        return ids.sorted()
    }

    var hasSchemaChanges: Bool {
        !createdIndexes.isEmpty || !droppedIndexes.isEmpty || !createdConstraints.isEmpty
            || !droppedConstraints.isEmpty
    }

    var isEmpty: Bool { !hasDataChanges && !hasSchemaChanges }

    /// Whether some node's labels or properties (and so index entries) may differ from committed data: the batch of
    /// created nodes or `touchedNodes` non-empty, without building the set.
    var hasNodeChanges: Bool {
        !createdBatch.isEmpty || !createdNodes.isEmpty || !deletedNodes.isEmpty || !nodeLabels.isEmpty
            || !nodeProperties.isEmpty
    }

    /// Nodes in the per-node tables whose labels or properties (and so index entries and counts) may differ from
    /// committed data; the batch of created nodes (`createdBatch`) comes on top.
    var touchedNodes: Set<Int64> {
        var set = createdNodes.union(deletedNodes)
        set.formUnion(nodeLabels.keys)
        set.formUnion(nodeProperties.keys)
        return set
    }

    /// Whether the node was created by this transaction (in the batch or in the per-node tables).
    func isCreated(_ id: Int64) -> Bool {
        createdNodes.contains(id) || (!createdBatch.isEmpty && createdBatch.ids.contains(id))
    }

    /// Moves the batch of created relationships into the per-relationship tables, as if each had been created
    /// there (after the ones already there: each node's list keeps creation order).
    mutating func materializeCreatedRelationships() {
        guard !createdRelationshipBatch.isEmpty else { return }
        let batch = createdRelationshipBatch
        let columns = batch.propertySlots
        createdRelationshipBatch.removeAll()
        createdRelationships.reserveCapacity(createdRelationships.count + batch.count)
        for index in batch.ids.indices {
            let id = batch.ids[index]
            createdRelationships[id] = batch.info(at: index)
            let start = batch.startNodes[index], end = batch.endNodes[index]
            createdRelationshipsByNode[start, default: []].append(id)
            if end != start { createdRelationshipsByNode[end, default: []].append(id) }
            let slots = batch.slots(at: index)
            guard !slots.isEmpty else { continue }
            var map = [Int32: Value](minimumCapacity: slots.count)
            for slot in slots { map[columns.keys[slot]] = columns.values[slot] }
            relationshipProperties[id] = map
        }
    }

    /// Moves the batch of created nodes into the per-node tables, as if each had been created there.
    mutating func materializeCreatedBatch() {
        guard !createdBatch.isEmpty else { return }
        let batch = createdBatch
        let columns = batch.propertySlots
        createdBatch.removeAll()
        createdNodes.reserveCapacity(createdNodes.count + batch.count)
        nodeLabels.reserveCapacity(nodeLabels.count + batch.count)
        for index in batch.ids.indices {
            let id = batch.ids[index]
            createdNodes.insert(id)
            nodeLabels[id] = batch.labels(at: index)
            let slots = batch.slots(at: index)
            guard !slots.isEmpty else { continue }
            var map = [Int32: Value](minimumCapacity: slots.count)
            for slot in slots { map[columns.keys[slot]] = columns.values[slot] }
            nodeProperties[id] = map
        }
    }
}
