/// A value as Cypher, the kernel, Bolt and HTTP see it.
///
/// Property values (what the kernel stores) are the scalar cases, byte arrays, temporal and spatial values, and
/// homogeneous lists of those. Maps, nodes, relationships and paths exist only in query results and parameters.
/// Entities carry their labels/type and properties so that a result row is self-contained once produced
/// (the Bolt and HTTP encoders never reach back into a transaction).
public enum Value: Sendable, Hashable {
    case null
    case boolean(Bool)
    case integer(Int64)
    case float(Double)
    case string(String)
    case bytes([UInt8])
    case list([Value])
    case map([String: Value])
    case node(NodeValue)
    case relationship(RelationshipValue)
    case path(PathValue)
    case date(CypherDate)
    case localTime(CypherLocalTime)
    case time(CypherTime)
    case localDateTime(CypherLocalDateTime)
    case dateTime(CypherDateTime)
    case duration(CypherDuration)
    case point(CypherPoint)
}

/// A node in a result: its id, element id, labels and properties as of the moment the row was produced.
public struct NodeValue: Sendable, Hashable {
    public var id: Int64
    public var labels: [String]
    public var properties: [String: Value]
    public var elementId: String { "\(id)" }

    public init(id: Int64, labels: [String], properties: [String: Value]) {
        self.id = id
        self.labels = labels
        self.properties = properties
    }
}

/// A relationship in a result.
public struct RelationshipValue: Sendable, Hashable {
    public var id: Int64
    public var startNodeId: Int64
    public var endNodeId: Int64
    public var type: String
    public var properties: [String: Value]
    public var elementId: String { "\(id)" }
    public var startNodeElementId: String { "\(startNodeId)" }
    public var endNodeElementId: String { "\(endNodeId)" }

    public init(id: Int64, startNodeId: Int64, endNodeId: Int64, type: String, properties: [String: Value]) {
        self.id = id
        self.startNodeId = startNodeId
        self.endNodeId = endNodeId
        self.type = type
        self.properties = properties
    }
}

/// A path: alternating nodes and relationships, `nodes.count == relationships.count + 1`.
/// Each relationship keeps its stored direction; traversal direction follows from the node order.
public struct PathValue: Sendable, Hashable {
    public var nodes: [NodeValue]
    public var relationships: [RelationshipValue]

    public init(nodes: [NodeValue], relationships: [RelationshipValue]) {
        precondition(nodes.count == relationships.count + 1, "a path has one more node than relationships")
        self.nodes = nodes
        self.relationships = relationships
    }
}

extension Value {
    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    /// Whether the kernel can store this value as a property (scalars, bytes, temporal, spatial, and
    /// homogeneous lists of these; nulls inside lists are not storable).
    public var isStorableProperty: Bool {
        switch self {
        case .null, .map, .node, .relationship, .path: return false
        case .boolean, .integer, .float, .string, .bytes, .date, .localTime, .time, .localDateTime, .dateTime,
            .duration, .point:
            return true
        case .list(let items):
            guard let first = items.first else { return true }
            guard first.isStorableProperty, !first.isList else { return false }
            return items.allSatisfy { $0.sameStorageKind(as: first) }
        }
    }

    var isList: Bool {
        if case .list = self { return true }
        return false
    }

    func sameStorageKind(as other: Value) -> Bool {
        switch (self, other) {
        case (.boolean, .boolean), (.integer, .integer), (.float, .float), (.string, .string), (.bytes, .bytes),
            (.date, .date), (.localTime, .localTime), (.time, .time), (.localDateTime, .localDateTime),
            (.dateTime, .dateTime), (.duration, .duration), (.point, .point):
            return true
        default:
            return false
        }
    }
}
