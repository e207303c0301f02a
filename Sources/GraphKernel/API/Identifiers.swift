import GraphValues

/// A node's id: its record index in the node store. Ids of deleted nodes are reused.
public struct NodeID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: Int64
    public init(_ rawValue: Int64) { self.rawValue = rawValue }
    public static func < (a: NodeID, b: NodeID) -> Bool { a.rawValue < b.rawValue }
    public var description: String { "node(\(rawValue))" }
}

/// A relationship's id: its record index in the relationship store.
public struct RelationshipID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: Int64
    public init(_ rawValue: Int64) { self.rawValue = rawValue }
    public static func < (a: RelationshipID, b: RelationshipID) -> Bool { a.rawValue < b.rawValue }
    public var description: String { "relationship(\(rawValue))" }
}

/// A committed transaction's id. The first transaction committed in a new store has id 2 (id 1 is the
/// store's creation, as in Neo4j, so "last committed tx id" of an empty store is 1).
public struct TxID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: Int64
    public init(_ rawValue: Int64) { self.rawValue = rawValue }
    public static func < (a: TxID, b: TxID) -> Bool { a.rawValue < b.rawValue }
    public var description: String { "tx \(rawValue)" }
}

/// Token ids for labels, relationship types and property keys.
public typealias LabelToken = Int32
public typealias RelationshipTypeToken = Int32
public typealias PropertyKeyToken = Int32

/// Direction of an expansion relative to the node expanded from.
public enum Direction: Sendable, Hashable {
    case outgoing
    case incoming
    case both
}

/// A relationship as seen while expanding: its id, type and both ends.
public struct RelationshipInfo: Sendable, Hashable {
    public var id: RelationshipID
    public var type: RelationshipTypeToken
    public var startNode: NodeID
    public var endNode: NodeID

    public init(id: RelationshipID, type: RelationshipTypeToken, startNode: NodeID, endNode: NodeID) {
        self.id = id
        self.type = type
        self.startNode = startNode
        self.endNode = endNode
    }

    /// The node at the other end from `node` (for a self-loop, `node` itself).
    public func otherNode(_ node: NodeID) -> NodeID { node == startNode ? endNode : startNode }
}

/// A schema index on (label, property key).
public struct IndexDescriptor: Sendable, Hashable {
    public var name: String
    public var label: LabelToken
    public var propertyKey: PropertyKeyToken
    /// True for the index that backs a uniqueness constraint.
    public var isUnique: Bool
    public var state: IndexState

    public init(name: String, label: LabelToken, propertyKey: PropertyKeyToken, isUnique: Bool, state: IndexState) {
        self.name = name
        self.label = label
        self.propertyKey = propertyKey
        self.isUnique = isUnique
        self.state = state
    }
}

public enum IndexState: Sendable, Hashable {
    case populating(progress: Double)
    case online
    case failed(String)
}

/// A uniqueness constraint on (label, property key).
public struct ConstraintDescriptor: Sendable, Hashable {
    public var name: String
    public var label: LabelToken
    public var propertyKey: PropertyKeyToken

    public init(name: String, label: LabelToken, propertyKey: PropertyKeyToken) {
        self.name = name
        self.label = label
        self.propertyKey = propertyKey
    }
}

/// One end of a range seek.
public struct RangeBound: Sendable, Hashable {
    public var value: Value
    public var inclusive: Bool
    public init(_ value: Value, inclusive: Bool) {
        self.value = value
        self.inclusive = inclusive
    }
}
