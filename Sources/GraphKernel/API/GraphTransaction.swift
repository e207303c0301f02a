import GraphValues

/// Read operations of a kernel transaction: what Cypher and embedded users see.
///
/// Isolation is read committed: reads see committed data plus this transaction's own changes.
/// Every method may throw a `DatabaseError` (for example `TransactionTimedOut` or `Terminated`, which the
/// kernel checks on reads so that long queries honour time-outs and cancellation).
/// Reads of a deleted or missing entity throw `EntityNotFound`.
public protocol GraphReadOperations: AnyObject {
    /// Throws what any read would when the transaction may no longer be used (`TransactionTimedOut`,
    /// `Terminated`, already closed). For long computations that make no other kernel call (a large `UNWIND`),
    /// so they honour time-outs and termination too.
    func checkUsable() throws

    // MARK: Tokens
    func labelToken(_ name: String) throws -> LabelToken?
    func relationshipTypeToken(_ name: String) throws -> RelationshipTypeToken?
    func propertyKeyToken(_ name: String) throws -> PropertyKeyToken?
    func labelName(_ token: LabelToken) throws -> String
    func relationshipTypeName(_ token: RelationshipTypeToken) throws -> String
    func propertyKeyName(_ token: PropertyKeyToken) throws -> String
    /// All tokens ever created, in token order: (token, name).
    func allLabels() throws -> [(LabelToken, String)]
    func allRelationshipTypes() throws -> [(RelationshipTypeToken, String)]
    func allPropertyKeys() throws -> [(PropertyKeyToken, String)]

    // MARK: Nodes
    func nodeExists(_ node: NodeID) throws -> Bool
    /// Whether `node` is gone because another transaction deleted it and committed after this one came across it
    /// (read committed), rather than deleted by this transaction. Cypher reads such a node's properties as null,
    /// as Neo4j does; a node this transaction deleted is an error. Default: false (treat every missing node as an
    /// error).
    func nodeDeletedElsewhere(_ node: NodeID) throws -> Bool
    /// Every node, lazily, in id order.
    func allNodes() throws -> AnyIterator<NodeID>
    /// Nodes with a label, lazily, from the label scan store (never a full store scan).
    func nodes(withLabel label: LabelToken) throws -> AnyIterator<NodeID>
    func labels(of node: NodeID) throws -> [LabelToken]
    func hasLabel(_ node: NodeID, _ label: LabelToken) throws -> Bool
    /// `.null` when the node has no such property.
    func nodeProperty(_ node: NodeID, _ key: PropertyKeyToken) throws -> Value
    func nodeProperties(_ node: NodeID) throws -> [(PropertyKeyToken, Value)]
    /// Several properties of one node at once: `values[i]` becomes the value of `keys[i]` (`.null` when absent).
    /// `values` must already hold `keys.count` elements (so a caller can reuse one buffer for every row).
    /// The kernel reads the node's property chain once for all keys; see the default implementation below.
    func nodeProperties(_ node: NodeID, keys: [PropertyKeyToken], into values: inout [Value]) throws
    /// The same for several nodes: `values[n * keys.count + i]` becomes key `i` of `nodes[n]` (`values` holds
    /// `nodes.count * keys.count` elements). Lets a scan read a batch of nodes with one lock round trip.
    func nodeProperties(_ nodes: [NodeID], keys: [PropertyKeyToken], into values: inout [Value]) throws
    /// Like `nodeProperties(_:keys:into:)` for several nodes, but `raw[n * keys.count + i]` gets key `i` of
    /// `nodes[n]` as a `RawProperty`; values that are not raw scalars are appended to `decoded` (which the caller
    /// empties between batches as it likes). For scans that group or aggregate on the bits (see `RawProperty`).
    func rawNodeProperties(_ nodes: [NodeID], keys: [PropertyKeyToken], into raw: inout [RawProperty],
                           decoded: inout [Value]) throws

    // MARK: Relationships
    func relationshipExists(_ rel: RelationshipID) throws -> Bool
    func relationship(_ rel: RelationshipID) throws -> RelationshipInfo
    /// Every relationship, lazily, in id order.
    func allRelationships() throws -> AnyIterator<RelationshipInfo>
    /// Relationships of `node` in `direction`, restricted to `types` when given (empty = all types).
    /// A self-loop is returned once for `.both`.
    func relationships(of node: NodeID, direction: Direction, types: [RelationshipTypeToken])
        throws -> AnyIterator<RelationshipInfo>
    /// The same relationships, in the same order, into `out`, which is emptied first (its capacity is kept): the
    /// batch form for expansion loops, which reuse one buffer and so allocate nothing per node (no iterator box,
    /// no closure call per relationship). The kernel fills it straight from the adjacency cache's packed edges.
    func relationships(
        of node: NodeID, direction: Direction, types: [RelationshipTypeToken], into out: inout [RelationshipInfo]
    ) throws
    /// The relationships of several nodes in one call: `out` gets those of `nodes[0]`, then those of `nodes[1]`, …
    /// (each in the order of the single-node call), and `ends[i]` the index in `out` just past those of `nodes[i]`;
    /// both are emptied first. For breadth-first expansion of a frontier: the kernel looks all the nodes up before
    /// copying any edges, so their memory accesses overlap. Throws `EntityNotFound` if any node does not exist.
    func relationships(
        of nodes: ArraySlice<NodeID>, direction: Direction, types: [RelationshipTypeToken],
        into out: inout [RelationshipInfo], ends: inout [Int]
    ) throws
    func degree(of node: NodeID, direction: Direction, types: [RelationshipTypeToken]) throws -> Int
    func relationshipProperty(_ rel: RelationshipID, _ key: PropertyKeyToken) throws -> Value
    func relationshipProperties(_ rel: RelationshipID) throws -> [(PropertyKeyToken, Value)]

    // MARK: Schema and index seeks
    func indexes() throws -> [IndexDescriptor]
    func constraints() throws -> [ConstraintDescriptor]
    /// The online index on (label, key), if any.
    func index(label: LabelToken, propertyKey: PropertyKeyToken) throws -> IndexDescriptor?
    /// Nodes whose indexed property equals `value` (Cypher equality: 1 = 1.0).
    func indexSeek(_ index: IndexDescriptor, equals value: Value) throws -> AnyIterator<NodeID>
    /// Nodes whose indexed property lies in the range; values of other types than the bounds are excluded.
    func indexSeek(_ index: IndexDescriptor, lower: RangeBound?, upper: RangeBound?) throws -> AnyIterator<NodeID>
    func indexSeek(_ index: IndexDescriptor, prefix: String) throws -> AnyIterator<NodeID>
    /// `indexSeek(_:equals:)` into a buffer the caller reuses (emptied first), in ascending id order: a seek per
    /// input row (a batch of relationships matching both ends by a unique key) allocates no iterator.
    func indexSeek(_ index: IndexDescriptor, equals value: Value, into out: inout [NodeID]) throws

    // MARK: Counts (O(1), transactional)
    /// Nodes with `label`, or all nodes when nil.
    func countNodes(label: LabelToken?) throws -> Int
    /// Relationships matching the pattern; at most one of startLabel/endLabel may be non-nil (as in Neo4j).
    func countRelationships(startLabel: LabelToken?, type: RelationshipTypeToken?, endLabel: LabelToken?) throws -> Int
}

extension GraphReadOperations {
    /// For implementations without their own check: every read checks the transaction's state first.
    public func checkUsable() throws { _ = try labelToken("") }

    public func nodeDeletedElsewhere(_ node: NodeID) throws -> Bool { false }

    /// Through the iterator, for implementations without a batch form of their own.
    public func relationships(
        of node: NodeID, direction: Direction, types: [RelationshipTypeToken], into out: inout [RelationshipInfo]
    ) throws {
        out.removeAll(keepingCapacity: true)
        let rels = try relationships(of: node, direction: direction, types: types)
        while let rel = rels.next() { out.append(rel) }
    }

    /// One single-node call per node, for implementations without a batch form of their own.
    public func relationships(
        of nodes: ArraySlice<NodeID>, direction: Direction, types: [RelationshipTypeToken],
        into out: inout [RelationshipInfo], ends: inout [Int]
    ) throws {
        out.removeAll(keepingCapacity: true)
        ends.removeAll(keepingCapacity: true)
        var one: [RelationshipInfo] = []
        for node in nodes {
            try relationships(of: node, direction: direction, types: types, into: &one)
            out.append(contentsOf: one)
            ends.append(out.count)
        }
    }

    /// Through the iterator, for implementations without a buffer form of their own.
    public func indexSeek(_ index: IndexDescriptor, equals value: Value, into out: inout [NodeID]) throws {
        out.removeAll(keepingCapacity: true)
        let nodes = try indexSeek(index, equals: value)
        while let node = nodes.next() { out.append(node) }
    }

    /// One `nodeProperty` call per key, for implementations without a batched read.
    public func nodeProperties(_ node: NodeID, keys: [PropertyKeyToken], into values: inout [Value]) throws {
        precondition(values.count == keys.count, "nodeProperties: \(values.count) values for \(keys.count) keys")
        for (i, key) in keys.enumerated() { values[i] = try nodeProperty(node, key) }
    }

    /// One `nodeProperty` call per node and key, for implementations without a batched read.
    public func nodeProperties(_ nodes: [NodeID], keys: [PropertyKeyToken], into values: inout [Value]) throws {
        precondition(values.count == nodes.count * keys.count,
                     "nodeProperties: \(values.count) values for \(nodes.count) × \(keys.count)")
        for (n, node) in nodes.enumerated() {
            for (i, key) in keys.enumerated() { values[n * keys.count + i] = try nodeProperty(node, key) }
        }
    }

    /// The batched `Value` read, converted: for implementations without a raw read of their own.
    public func rawNodeProperties(_ nodes: [NodeID], keys: [PropertyKeyToken], into raw: inout [RawProperty],
                                  decoded: inout [Value]) throws {
        precondition(raw.count == nodes.count * keys.count,
                     "rawNodeProperties: \(raw.count) slots for \(nodes.count) × \(keys.count)")
        var values = [Value](repeating: .null, count: raw.count)
        try nodeProperties(nodes, keys: keys, into: &values)
        for i in 0..<values.count { raw[i] = RawProperty.from(values[i], decoded: &decoded) }
    }
}

/// Write operations of a kernel transaction. Modifying an entity takes its exclusive lock, held to the end
/// of the transaction; a lock wait that would deadlock throws `DeadlockDetected` (a transient error).
public protocol GraphWriteOperations: GraphReadOperations {
    func getOrCreateLabelToken(_ name: String) throws -> LabelToken
    func getOrCreateRelationshipTypeToken(_ name: String) throws -> RelationshipTypeToken
    func getOrCreatePropertyKeyToken(_ name: String) throws -> PropertyKeyToken

    func createNode(labels: [LabelToken]) throws -> NodeID
    /// Creates a node with its properties in one call (keys distinct; `.null` values are skipped): the same as
    /// `createNode(labels:)` followed by `setNodeProperty` per property, except that an unstorable value fails
    /// before the node exists. Implementations may override it to avoid per-property work.
    func createNode(labels: [LabelToken], properties: [(PropertyKeyToken, Value)]) throws -> NodeID
    /// Fails with `ConstraintValidationFailed` at commit if the node still has relationships.
    func deleteNode(_ node: NodeID) throws
    /// Returns false when the label was already there.
    @discardableResult func addLabel(_ node: NodeID, _ label: LabelToken) throws -> Bool
    /// Returns false when the label was not there.
    @discardableResult func removeLabel(_ node: NodeID, _ label: LabelToken) throws -> Bool
    /// Setting `.null` removes the property. Throws `TypeError` for values that cannot be stored.
    func setNodeProperty(_ node: NodeID, _ key: PropertyKeyToken, _ value: Value) throws
    /// Returns the previous value (`.null` if none).
    @discardableResult func removeNodeProperty(_ node: NodeID, _ key: PropertyKeyToken) throws -> Value

    func createRelationship(from start: NodeID, to end: NodeID, type: RelationshipTypeToken) throws -> RelationshipID
    /// Creates a relationship with its properties in one call, as `createNode(labels:properties:)` does for nodes.
    func createRelationship(
        from start: NodeID, to end: NodeID, type: RelationshipTypeToken, properties: [(PropertyKeyToken, Value)]
    ) throws -> RelationshipID
    func deleteRelationship(_ rel: RelationshipID) throws
    func setRelationshipProperty(_ rel: RelationshipID, _ key: PropertyKeyToken, _ value: Value) throws
    @discardableResult func removeRelationshipProperty(_ rel: RelationshipID, _ key: PropertyKeyToken) throws -> Value

    // MARK: Schema (a transaction that changes schema may not also change data, as in Neo4j)
    /// Creates and populates an index (existing data is indexed; progress visible in `indexes()`).
    @discardableResult func createIndex(name: String?, label: LabelToken, propertyKey: PropertyKeyToken) throws
        -> IndexDescriptor
    func dropIndex(name: String) throws
    /// Creates a uniqueness constraint and its backing index; fails with ConstraintValidationFailed if existing
    /// data violates it.
    @discardableResult func createUniqueConstraint(name: String?, label: LabelToken, propertyKey: PropertyKeyToken)
        throws -> ConstraintDescriptor
    func dropConstraint(name: String) throws

    // MARK: Explicit locking (for isolation above read committed)
    func acquireExclusiveLock(_ node: NodeID) throws
    func acquireSharedLock(_ node: NodeID) throws
    func acquireExclusiveLock(_ rel: RelationshipID) throws
    func acquireSharedLock(_ rel: RelationshipID) throws
}

extension GraphWriteOperations {
    public func createNode(labels: [LabelToken], properties: [(PropertyKeyToken, Value)]) throws -> NodeID {
        for (_, value) in properties where !value.isNull && !value.isStorableProperty {
            throw PropertyValueCodec.unstorable(value)
        }
        let node = try createNode(labels: labels)
        for (key, value) in properties where !value.isNull { try setNodeProperty(node, key, value) }
        return node
    }

    public func createRelationship(
        from start: NodeID, to end: NodeID, type: RelationshipTypeToken, properties: [(PropertyKeyToken, Value)]
    ) throws -> RelationshipID {
        for (_, value) in properties where !value.isNull && !value.isStorableProperty {
            throw PropertyValueCodec.unstorable(value)
        }
        let rel = try createRelationship(from: start, to: end, type: type)
        for (key, value) in properties where !value.isNull { try setRelationshipProperty(rel, key, value) }
        return rel
    }
}
