import GraphKernel
import GraphValues
import TrellisService

/// A kernel transaction seen through a user's permissions and the session's access mode — the check sits at
/// the kernel API, as Neo4j's AccessMode does, so every way Cypher (or a procedure) touches the graph is
/// covered, not just the statement's declared type (neo4j-ops.md §6 roles):
/// - reads need `read` (a user without roles can do nothing);
/// - data writes need `write`; in a READ session they fail with `Statement.AccessMode`;
/// - creating a label, relationship type or property key that does not exist yet needs `createToken`
///   (publisher and up), using existing ones does not;
/// - index and constraint changes need `schema` (architect and up);
/// - with `dbms.read_only` every write fails with `General.ForbiddenOnReadOnlyDatabase`.
public final class SecuredTransaction: GraphWriteOperations {
    public let base: any GraphWriteOperations
    public let security: SecurityContext
    let canRead: Bool

    public init(_ base: any GraphWriteOperations, security: SecurityContext) {
        self.base = base
        self.security = security
        self.canRead = security.permissions.contains(.read)
    }

    static let forbiddenOnReadOnly: StatusCode = "Neo.ClientError.General.ForbiddenOnReadOnlyDatabase"

    var rolesText: String { "'\(security.username)'" }

    @inline(__always) func read() throws {
        guard canRead else {
            throw DatabaseError(.forbidden, "Read operations are not allowed for user \(rolesText) with no roles.")
        }
    }

    func write(_ needed: Permissions, _ what: String) throws {
        if security.readOnlyDatabase {
            throw DatabaseError(Self.forbiddenOnReadOnly, "This is a read only Neo4j instance (dbms.read_only=true).")
        }
        if security.accessMode == .read {
            throw DatabaseError(.accessMode, "\(what) operations are not allowed in read access mode.")
        }
        guard security.permissions.isSuperset(of: needed) else {
            throw DatabaseError(.forbidden, "\(what) operations are not allowed for user \(rolesText).")
        }
    }

    // MARK: Tokens
    public func labelToken(_ name: String) throws -> LabelToken? { try read(); return try base.labelToken(name) }
    public func relationshipTypeToken(_ name: String) throws -> RelationshipTypeToken? {
        try read(); return try base.relationshipTypeToken(name)
    }
    public func propertyKeyToken(_ name: String) throws -> PropertyKeyToken? {
        try read(); return try base.propertyKeyToken(name)
    }
    public func labelName(_ token: LabelToken) throws -> String { try read(); return try base.labelName(token) }
    public func relationshipTypeName(_ token: RelationshipTypeToken) throws -> String {
        try read(); return try base.relationshipTypeName(token)
    }
    public func propertyKeyName(_ token: PropertyKeyToken) throws -> String {
        try read(); return try base.propertyKeyName(token)
    }
    public func allLabels() throws -> [(LabelToken, String)] { try read(); return try base.allLabels() }
    public func allRelationshipTypes() throws -> [(RelationshipTypeToken, String)] {
        try read(); return try base.allRelationshipTypes()
    }
    public func allPropertyKeys() throws -> [(PropertyKeyToken, String)] { try read(); return try base.allPropertyKeys() }

    // MARK: Nodes
    public func nodeExists(_ node: NodeID) throws -> Bool { try read(); return try base.nodeExists(node) }
    public func nodeDeletedElsewhere(_ node: NodeID) throws -> Bool {
        try read(); return try base.nodeDeletedElsewhere(node)
    }
    public func allNodes() throws -> AnyIterator<NodeID> { try read(); return try base.allNodes() }
    public func nodes(withLabel label: LabelToken) throws -> AnyIterator<NodeID> {
        try read(); return try base.nodes(withLabel: label)
    }
    public func labels(of node: NodeID) throws -> [LabelToken] { try read(); return try base.labels(of: node) }
    public func hasLabel(_ node: NodeID, _ label: LabelToken) throws -> Bool {
        try read(); return try base.hasLabel(node, label)
    }
    public func nodeProperty(_ node: NodeID, _ key: PropertyKeyToken) throws -> Value {
        try read(); return try base.nodeProperty(node, key)
    }
    public func nodeProperties(_ node: NodeID) throws -> [(PropertyKeyToken, Value)] {
        try read(); return try base.nodeProperties(node)
    }
    // The batched reads and the usability check are forwarded so the engine's one-call-per-row reads reach the
    // kernel over Bolt and HTTP too (the protocol defaults would fall back to one read per key).
    public func nodeProperties(_ node: NodeID, keys: [PropertyKeyToken], into values: inout [Value]) throws {
        try read(); try base.nodeProperties(node, keys: keys, into: &values)
    }
    public func nodeProperties(_ nodes: [NodeID], keys: [PropertyKeyToken], into values: inout [Value]) throws {
        try read(); try base.nodeProperties(nodes, keys: keys, into: &values)
    }
    // Without this forward the fused aggregation's raw read would take the protocol default (a `Value` read,
    // then converted), i.e. none of the raw-bits saving over Bolt and HTTP.
    public func rawNodeProperties(_ nodes: [NodeID], keys: [PropertyKeyToken], into raw: inout [RawProperty],
                                  decoded: inout [Value]) throws {
        try read(); try base.rawNodeProperties(nodes, keys: keys, into: &raw, decoded: &decoded)
    }
    public func checkUsable() throws { try base.checkUsable() }

    // MARK: Relationships
    public func relationshipExists(_ rel: RelationshipID) throws -> Bool {
        try read(); return try base.relationshipExists(rel)
    }
    public func relationship(_ rel: RelationshipID) throws -> RelationshipInfo {
        try read(); return try base.relationship(rel)
    }
    public func allRelationships() throws -> AnyIterator<RelationshipInfo> {
        try read(); return try base.allRelationships()
    }
    public func relationships(of node: NodeID, direction: Direction, types: [RelationshipTypeToken]) throws
        -> AnyIterator<RelationshipInfo>
    {
        try read(); return try base.relationships(of: node, direction: direction, types: types)
    }
    public func relationships(
        of node: NodeID, direction: Direction, types: [RelationshipTypeToken], into out: inout [RelationshipInfo]
    ) throws {
        try read(); try base.relationships(of: node, direction: direction, types: types, into: &out)
    }
    public func relationships(
        of nodes: ArraySlice<NodeID>, direction: Direction, types: [RelationshipTypeToken],
        into out: inout [RelationshipInfo], ends: inout [Int]
    ) throws {
        try read(); try base.relationships(of: nodes, direction: direction, types: types, into: &out, ends: &ends)
    }
    public func degree(of node: NodeID, direction: Direction, types: [RelationshipTypeToken]) throws -> Int {
        try read(); return try base.degree(of: node, direction: direction, types: types)
    }
    public func relationshipProperty(_ rel: RelationshipID, _ key: PropertyKeyToken) throws -> Value {
        try read(); return try base.relationshipProperty(rel, key)
    }
    public func relationshipProperties(_ rel: RelationshipID) throws -> [(PropertyKeyToken, Value)] {
        try read(); return try base.relationshipProperties(rel)
    }

    // MARK: Schema and index seeks
    public func indexes() throws -> [IndexDescriptor] { try read(); return try base.indexes() }
    public func constraints() throws -> [ConstraintDescriptor] { try read(); return try base.constraints() }
    public func index(label: LabelToken, propertyKey: PropertyKeyToken) throws -> IndexDescriptor? {
        try read(); return try base.index(label: label, propertyKey: propertyKey)
    }
    public func indexSeek(_ index: IndexDescriptor, equals value: Value) throws -> AnyIterator<NodeID> {
        try read(); return try base.indexSeek(index, equals: value)
    }
    public func indexSeek(_ index: IndexDescriptor, equals value: Value, into out: inout [NodeID]) throws {
        try read(); try base.indexSeek(index, equals: value, into: &out)
    }
    public func indexSeek(_ index: IndexDescriptor, lower: RangeBound?, upper: RangeBound?) throws
        -> AnyIterator<NodeID>
    {
        try read(); return try base.indexSeek(index, lower: lower, upper: upper)
    }
    public func indexSeek(_ index: IndexDescriptor, prefix: String) throws -> AnyIterator<NodeID> {
        try read(); return try base.indexSeek(index, prefix: prefix)
    }

    // MARK: Counts
    public func countNodes(label: LabelToken?) throws -> Int { try read(); return try base.countNodes(label: label) }
    public func countRelationships(startLabel: LabelToken?, type: RelationshipTypeToken?, endLabel: LabelToken?)
        throws -> Int
    {
        try read(); return try base.countRelationships(startLabel: startLabel, type: type, endLabel: endLabel)
    }

    // MARK: Writes
    public func getOrCreateLabelToken(_ name: String) throws -> LabelToken {
        if let t = try base.labelToken(name) { return t }
        try write([.write, .createToken], "Token create")
        return try base.getOrCreateLabelToken(name)
    }
    public func getOrCreateRelationshipTypeToken(_ name: String) throws -> RelationshipTypeToken {
        if let t = try base.relationshipTypeToken(name) { return t }
        try write([.write, .createToken], "Token create")
        return try base.getOrCreateRelationshipTypeToken(name)
    }
    public func getOrCreatePropertyKeyToken(_ name: String) throws -> PropertyKeyToken {
        if let t = try base.propertyKeyToken(name) { return t }
        try write([.write, .createToken], "Token create")
        return try base.getOrCreatePropertyKeyToken(name)
    }
    public func createNode(labels: [LabelToken]) throws -> NodeID {
        try write(.write, "Write"); return try base.createNode(labels: labels)
    }
    public func createNode(labels: [LabelToken], properties: [(PropertyKeyToken, Value)]) throws -> NodeID {
        try write(.write, "Write"); return try base.createNode(labels: labels, properties: properties)
    }
    public func deleteNode(_ node: NodeID) throws { try write(.write, "Write"); try base.deleteNode(node) }
    @discardableResult public func addLabel(_ node: NodeID, _ label: LabelToken) throws -> Bool {
        try write(.write, "Write"); return try base.addLabel(node, label)
    }
    @discardableResult public func removeLabel(_ node: NodeID, _ label: LabelToken) throws -> Bool {
        try write(.write, "Write"); return try base.removeLabel(node, label)
    }
    public func setNodeProperty(_ node: NodeID, _ key: PropertyKeyToken, _ value: Value) throws {
        try write(.write, "Write"); try base.setNodeProperty(node, key, value)
    }
    @discardableResult public func removeNodeProperty(_ node: NodeID, _ key: PropertyKeyToken) throws -> Value {
        try write(.write, "Write"); return try base.removeNodeProperty(node, key)
    }
    public func createRelationship(from start: NodeID, to end: NodeID, type: RelationshipTypeToken) throws
        -> RelationshipID
    {
        try write(.write, "Write"); return try base.createRelationship(from: start, to: end, type: type)
    }
    public func createRelationship(
        from start: NodeID, to end: NodeID, type: RelationshipTypeToken, properties: [(PropertyKeyToken, Value)]
    ) throws -> RelationshipID {
        try write(.write, "Write")
        return try base.createRelationship(from: start, to: end, type: type, properties: properties)
    }
    public func deleteRelationship(_ rel: RelationshipID) throws {
        try write(.write, "Write"); try base.deleteRelationship(rel)
    }
    public func setRelationshipProperty(_ rel: RelationshipID, _ key: PropertyKeyToken, _ value: Value) throws {
        try write(.write, "Write"); try base.setRelationshipProperty(rel, key, value)
    }
    @discardableResult public func removeRelationshipProperty(_ rel: RelationshipID, _ key: PropertyKeyToken) throws
        -> Value
    {
        try write(.write, "Write"); return try base.removeRelationshipProperty(rel, key)
    }

    // MARK: Schema writes
    @discardableResult public func createIndex(name: String?, label: LabelToken, propertyKey: PropertyKeyToken) throws
        -> IndexDescriptor
    {
        try write(.schema, "Schema"); return try base.createIndex(name: name, label: label, propertyKey: propertyKey)
    }
    public func dropIndex(name: String) throws { try write(.schema, "Schema"); try base.dropIndex(name: name) }
    @discardableResult public func createUniqueConstraint(name: String?, label: LabelToken, propertyKey: PropertyKeyToken)
        throws -> ConstraintDescriptor
    {
        try write(.schema, "Schema")
        return try base.createUniqueConstraint(name: name, label: label, propertyKey: propertyKey)
    }
    public func dropConstraint(name: String) throws { try write(.schema, "Schema"); try base.dropConstraint(name: name) }

    // MARK: Locks (taking a lock is not a write; Neo4j lets readers lock for repeatable reads)
    public func acquireExclusiveLock(_ node: NodeID) throws { try read(); try base.acquireExclusiveLock(node) }
    public func acquireSharedLock(_ node: NodeID) throws { try read(); try base.acquireSharedLock(node) }
    public func acquireExclusiveLock(_ rel: RelationshipID) throws { try read(); try base.acquireExclusiveLock(rel) }
    public func acquireSharedLock(_ rel: RelationshipID) throws { try read(); try base.acquireSharedLock(rel) }
}
