/// Update counters of one statement, with Neo4j's names (Bolt's `stats` summary field, HTTP `stats`).
///
/// Shared by the Cypher engine (which counts) and the protocol front ends (which report), so it lives here
/// rather than in either; `CypherStatistics` in the Cypher module is the same type.
public struct QueryStatistics: Sendable, Hashable {
    public var nodesCreated = 0
    public var nodesDeleted = 0
    public var relationshipsCreated = 0
    public var relationshipsDeleted = 0
    public var propertiesSet = 0
    public var labelsAdded = 0
    public var labelsRemoved = 0
    public var indexesAdded = 0
    public var indexesRemoved = 0
    public var constraintsAdded = 0
    public var constraintsRemoved = 0
    public var systemUpdates = 0

    public init() {}

    /// True when any graph or schema counter is non-zero (Bolt's `contains-updates`; system updates are
    /// reported separately, as `contains-system-updates`).
    public var containsUpdates: Bool {
        nodesCreated + nodesDeleted + relationshipsCreated + relationshipsDeleted + propertiesSet + labelsAdded
            + labelsRemoved + indexesAdded + indexesRemoved + constraintsAdded + constraintsRemoved > 0
    }

    /// Non-zero counters keyed by Neo4j's names ("nodes-created", …).
    public var nonZeroCounters: [(String, Int)] {
        [
            ("nodes-created", nodesCreated), ("nodes-deleted", nodesDeleted),
            ("relationships-created", relationshipsCreated), ("relationships-deleted", relationshipsDeleted),
            ("properties-set", propertiesSet), ("labels-added", labelsAdded), ("labels-removed", labelsRemoved),
            ("indexes-added", indexesAdded), ("indexes-removed", indexesRemoved),
            ("constraints-added", constraintsAdded), ("constraints-removed", constraintsRemoved),
            ("system-updates", systemUpdates),
        ].filter { $0.1 != 0 }
    }

    /// The non-zero counters as a dictionary (`["nodes-created": 1]`), for embedded callers and tests.
    public var asDictionary: [String: Int] { Dictionary(uniqueKeysWithValues: nonZeroCounters) }

    public static func += (a: inout QueryStatistics, b: QueryStatistics) {
        a.nodesCreated += b.nodesCreated
        a.nodesDeleted += b.nodesDeleted
        a.relationshipsCreated += b.relationshipsCreated
        a.relationshipsDeleted += b.relationshipsDeleted
        a.propertiesSet += b.propertiesSet
        a.labelsAdded += b.labelsAdded
        a.labelsRemoved += b.labelsRemoved
        a.indexesAdded += b.indexesAdded
        a.indexesRemoved += b.indexesRemoved
        a.constraintsAdded += b.constraintsAdded
        a.constraintsRemoved += b.constraintsRemoved
        a.systemUpdates += b.systemUpdates
    }
}
