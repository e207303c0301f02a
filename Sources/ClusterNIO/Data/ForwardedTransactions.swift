import GraphValues

/// Runs transactions forwarded by slaves on the master (implemented by the server over its Cypher engine).
///
/// Calls come from the data port's worker threads, may block (locks, commit), and may come concurrently for
/// different transactions. Errors should be `DatabaseError`s: they reach the slave's client with their status code.
public protocol ForwardedTransactionHandler: Sendable {
    /// Begins a write transaction for `user` and returns an id naming it in later calls.
    func begin(user: String, metadata: [String: Value], timeout: Duration?) throws -> UInt64
    /// Runs one statement in the transaction and returns its whole result.
    func run(_ tx: UInt64, query: String, parameters: [String: Value]) throws -> ForwardedResult
    /// Commits; returns the master's last committed tx id after the commit (the slave catches up to it before
    /// answering its client, so the client reads its own write).
    func commit(_ tx: UInt64) throws -> UInt64
    /// Rolls back (also called by the data port when the slave's connection drops with the transaction open).
    func rollback(_ tx: UInt64) throws
}

/// The complete result of one forwarded statement.
public struct ForwardedResult: Sendable {
    public var keys: [String]
    public var rows: [[Value]]
    /// Update counters by Neo4j name (`nodes-created`, `properties-set`, …).
    public var statistics: [String: Int64]

    public init(keys: [String], rows: [[Value]], statistics: [String: Int64] = [:]) {
        self.keys = keys
        self.rows = rows
        self.statistics = statistics
    }
}
