import Cypher

/// TrellisServer: configuration (settings registry, trellis.conf, environment overrides), authentication and
/// users, logs, the `DatabaseService` implementation the Bolt and HTTP front ends call, and the lifecycle of
/// one instance (start, graceful stop, pid file). The `trellis` executable is a thin command line over this.
public enum Trellis {
    /// Product version, reported by `trellis version` and `dbms.components()`.
    public static let version = "0.1.0"
    /// The Neo4j version Trellis is compatible with, for drivers' server agent checks ("Neo4j/5.x"); the same
    /// one `dbms.components()` reports (a single definition, so the two cannot drift apart).
    public static let compatibleNeo4jVersion = TrellisVersion.neo4jCompatible
    public static var serverAgent: String { "Neo4j/\(compatibleNeo4jVersion)" }
}
