import GraphValues

/// Name-based conveniences for embedded use: tokens are looked up (or created, for writes) by name.
extension KernelTransaction {
    /// Creates a node with labels and properties given by name.
    @discardableResult
    public func createNode(labels: [String], properties: [String: Value] = [:]) throws -> NodeID {
        let tokens = try labels.map { try getOrCreateLabelToken($0) }
        let tokenized = try properties.sorted(by: { $0.key < $1.key }).map { (key, value) in
            (try getOrCreatePropertyKeyToken(key), value)
        }
        return try createNode(labels: tokens, properties: tokenized)
    }

    /// Creates a relationship with a type and properties given by name.
    @discardableResult
    public func createRelationship(
        from start: NodeID, to end: NodeID, type: String, properties: [String: Value] = [:]
    ) throws -> RelationshipID {
        let rel = try createRelationship(from: start, to: end, type: try getOrCreateRelationshipTypeToken(type))
        for (key, value) in properties.sorted(by: { $0.key < $1.key }) {
            try setRelationshipProperty(rel, try getOrCreatePropertyKeyToken(key), value)
        }
        return rel
    }

    /// The node's property `key`, `.null` when absent (or when no node ever had that key).
    public func nodeProperty(_ node: NodeID, _ key: String) throws -> Value {
        guard let token = try propertyKeyToken(key) else {
            guard try nodeExists(node) else {
                throw DatabaseError(.entityNotFound, "Node with id \(node.rawValue) does not exist")
            }
            return .null
        }
        return try nodeProperty(node, token)
    }

    public func setNodeProperty(_ node: NodeID, _ key: String, _ value: Value) throws {
        try setNodeProperty(node, try getOrCreatePropertyKeyToken(key), value)
    }

    public func relationshipProperty(_ rel: RelationshipID, _ key: String) throws -> Value {
        guard let token = try propertyKeyToken(key) else {
            guard try relationshipExists(rel) else {
                throw DatabaseError(.entityNotFound, "Relationship with id \(rel.rawValue) does not exist")
            }
            return .null
        }
        return try relationshipProperty(rel, token)
    }

    /// Label names of a node.
    public func labelNames(of node: NodeID) throws -> [String] {
        try labels(of: node).map { try labelName($0) }
    }

    /// Properties of a node by name.
    public func nodePropertyMap(_ node: NodeID) throws -> [String: Value] {
        var map: [String: Value] = [:]
        for (key, value) in try nodeProperties(node) { map[try propertyKeyName(key)] = value }
        return map
    }

    /// Nodes with the named label (empty when the label was never used).
    public func nodes(withLabel name: String) throws -> [NodeID] {
        guard let token = try labelToken(name) else { return [] }
        return Array(try nodes(withLabel: token))
    }

    /// Relationships of a node, optionally restricted to named types.
    public func relationships(of node: NodeID, direction: Direction = .both, types: [String] = []) throws
        -> [RelationshipInfo]
    {
        let tokens = try types.compactMap { try relationshipTypeToken($0) }
        if !types.isEmpty && tokens.isEmpty { return [] }
        return Array(try relationships(of: node, direction: direction, types: tokens))
    }

    /// Creates (and, at commit, populates) an index on :label(key).
    @discardableResult
    public func createIndex(on label: String, _ key: String, name: String? = nil) throws -> IndexDescriptor {
        try createIndex(
            name: name, label: try getOrCreateLabelToken(label), propertyKey: try getOrCreatePropertyKeyToken(key))
    }

    /// Creates a uniqueness constraint on :label(key).
    @discardableResult
    public func createUniqueConstraint(on label: String, _ key: String, name: String? = nil) throws
        -> ConstraintDescriptor
    {
        try createUniqueConstraint(
            name: name, label: try getOrCreateLabelToken(label), propertyKey: try getOrCreatePropertyKeyToken(key))
    }

    /// Nodes with :label {key: value}, through the index on (label, key).
    public func findNodes(_ label: String, _ key: String, equals value: Value) throws -> [NodeID] {
        guard let labelToken = try labelToken(label), let keyToken = try propertyKeyToken(key) else { return [] }
        guard let index = try index(label: labelToken, propertyKey: keyToken) else {
            throw DatabaseError(.indexNotFound, "There is no online index on :\(label)(\(key))")
        }
        return Array(try indexSeek(index, equals: value))
    }
}
