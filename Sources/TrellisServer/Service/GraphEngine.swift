import GraphValues
import TrellisService

/// Who runs a transaction and what they may do: the service computes it from the user's roles and the
/// session's access mode; the engine enforces it on every kernel write (`SecuredTransaction`).
public struct SecurityContext: Sendable, Hashable {
    public var username: String
    public var permissions: Permissions
    public var accessMode: AccessMode
    /// `dbms.read_only`: every write fails with ForbiddenOnReadOnlyDatabase whatever the roles.
    public var readOnlyDatabase: Bool

    public init(username: String, permissions: Permissions, accessMode: AccessMode, readOnlyDatabase: Bool = false) {
        self.username = username
        self.permissions = permissions
        self.accessMode = accessMode
        self.readOnlyDatabase = readOnlyDatabase
    }
}

/// What the session layer needs from the database underneath (the kernel plus the Cypher engine). Keeping
/// this seam small lets the service's session/transaction rules be tested on their own and the cluster work
/// put a master/slave-aware engine behind the same service later.
public protocol GraphEngine: AnyObject, Sendable {
    /// Begins a kernel transaction running Cypher. `timeout` nil means none.
    func begin(security: SecurityContext, timeout: Duration?, metadata: [String: Value]) throws -> EngineTransaction
    /// Id of the last committed transaction (bookmarks wait for it).
    var lastCommittedTxID: Int64 { get }
    /// Checkpoints and releases the store. Further use fails.
    func shutdown() throws
    /// Closes the store and opens the one `reopen` returns (HA store copy). Engines without a replaceable store
    /// throw.
    func replaceDatabase(_ reopen: (any KernelDatabase) throws -> any KernelDatabase) throws
    /// Whether `query` has a cached plan that only reads the graph (no procedure call, no LOAD CSV), so that
    /// running it with a short transaction time-out bounds its work (`DatabaseSession.runBoundedRead`).
    func isCachedBoundedRead(_ query: String) -> Bool
    /// Whether `query` has a cached plan that writes the graph (not the schema) without procedure calls or LOAD
    /// CSV, and this engine commits locally (no forwarding to a master, no waiting for slaves), so that it may run
    /// where it must not wait for other transactions (`DatabaseSession.runBoundedStatement`). Engines that cannot
    /// tell say false.
    func isCachedBoundedWrite(_ query: String) -> Bool
}

extension GraphEngine {
    public func isCachedBoundedRead(_ query: String) -> Bool { false }
    public func isCachedBoundedWrite(_ query: String) -> Bool { false }

    public func replaceDatabase(_ reopen: (any KernelDatabase) throws -> any KernelDatabase) throws {
        throw DatabaseError(.databaseUnavailable, "This database engine cannot replace its store.")
    }
}

/// One kernel transaction with a Cypher front. Not thread-safe, except `terminate()`.
public protocol EngineTransaction: AnyObject {
    func run(_ query: String, parameters: [String: Value]) throws -> EngineResult
    /// Commits; returns the committed transaction id (for the bookmark).
    func commit() throws -> Int64
    func rollback()
    /// Rolls back an attempt that ran out of a budget its caller chose (the Bolt event loop's bounded read) and
    /// that the caller runs again the ordinary way: not counted as a terminated transaction.
    func rollbackAbandonedAttempt()
    /// From any thread: the next operation of the transaction fails with `Terminated`.
    func terminate()
    /// Before any work: this transaction runs where it must not block (the Bolt event loop). A lock held by
    /// another transaction fails its operation at once instead of being waited for, and work that a commit
    /// would do for the whole database (a due checkpoint) is left to the background timer.
    func avoidWaiting()
}

extension EngineTransaction {
    public func rollbackAbandonedAttempt() { rollback() }
    public func avoidWaiting() {}
}

/// A lazily produced statement result.
public protocol EngineResult: AnyObject {
    var columns: [String] { get }
    func next() throws -> [Value]?
    /// Counters, query type, plan and notifications; complete once `next()` returned nil.
    func summary() -> ResultSummary
}
