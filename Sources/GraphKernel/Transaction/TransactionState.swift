import GraphValues

/// A transaction's uncommitted changes, overlaid on committed data by reads (read committed + own writes).
///
/// Labels and properties of a touched entity are kept as the full new state of what changed (label set, or
/// per-key value with `.null` meaning removed), so reads never need to merge twice.
struct TransactionState {
    var createdNodes: Set<Int64> = []
    var deletedNodes: Set<Int64> = []
    /// Full label set of nodes whose labels changed (or created nodes).
    var nodeLabels: [Int64: [Int32]] = [:]
    /// Changed properties per node: key → new value (`.null` = removed).
    var nodeProperties: [Int64: [Int32: Value]] = [:]
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
        !createdNodes.isEmpty || !deletedNodes.isEmpty || !nodeLabels.isEmpty || !nodeProperties.isEmpty
            || !createdRelationships.isEmpty || !deletedRelationships.isEmpty || !relationshipProperties.isEmpty
    }

    var hasSchemaChanges: Bool {
        !createdIndexes.isEmpty || !droppedIndexes.isEmpty || !createdConstraints.isEmpty
            || !droppedConstraints.isEmpty
    }

    var isEmpty: Bool { !hasDataChanges && !hasSchemaChanges }

    /// Nodes whose labels or properties (and so index entries and counts) may differ from committed data.
    var touchedNodes: Set<Int64> {
        var set = createdNodes.union(deletedNodes)
        set.formUnion(nodeLabels.keys)
        set.formUnion(nodeProperties.keys)
        return set
    }
}
