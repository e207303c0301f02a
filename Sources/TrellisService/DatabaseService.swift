import GraphValues

/// The contract between the protocol front ends (Bolt, HTTP) and the database.
///
/// The front ends decode requests, call these methods, and encode what comes back; they know nothing of
/// Cypher, the kernel or the cluster. `TrellisServer` implements it. All calls are blocking and must be made
/// off the network event loops (front ends run them on a thread pool).

public enum AccessMode: String, Sendable, Hashable {
    case read
    case write
}

/// Who is connected, once authenticated.
public struct AuthenticatedUser: Sendable, Hashable {
    public var username: String
    public var roles: [String]
    /// True while the user must change the password before doing anything else (CredentialsExpired).
    public var passwordChangeRequired: Bool

    public init(username: String, roles: [String], passwordChangeRequired: Bool) {
        self.username = username
        self.roles = roles
        self.passwordChangeRequired = passwordChangeRequired
    }
}

/// Options of a transaction (explicit or auto-commit), from BEGIN/RUN metadata or HTTP.
public struct TransactionOptions: Sendable, Hashable {
    public var mode: AccessMode
    public var bookmarks: [String]
    public var timeout: Duration?
    public var metadata: [String: Value]
    public var database: String?
    public var impersonatedUser: String?

    public init(
        mode: AccessMode = .write, bookmarks: [String] = [], timeout: Duration? = nil,
        metadata: [String: Value] = [:], database: String? = nil, impersonatedUser: String? = nil
    ) {
        self.mode = mode
        self.bookmarks = bookmarks
        self.timeout = timeout
        self.metadata = metadata
        self.database = database
        self.impersonatedUser = impersonatedUser
    }
}

/// "r", "w", "rw" or "s" (schema), as Bolt's `type` and HTTP report it.
public enum QueryType: String, Sendable, Hashable {
    case readOnly = "r"
    case writeOnly = "w"
    case readWrite = "rw"
    case schemaWrite = "s"
}

/// A plan operator for EXPLAIN / PROFILE.
public struct PlanDescription: Sendable, Hashable {
    public var operatorType: String
    public var identifiers: [String]
    public var arguments: [String: Value]
    public var children: [PlanDescription]
    /// Present for PROFILE only.
    public var rows: Int64?
    public var dbHits: Int64?

    public init(
        operatorType: String, identifiers: [String], arguments: [String: Value], children: [PlanDescription],
        rows: Int64? = nil, dbHits: Int64? = nil
    ) {
        self.operatorType = operatorType
        self.identifiers = identifiers
        self.arguments = arguments
        self.children = children
        self.rows = rows
        self.dbHits = dbHits
    }
}

public struct Notification: Sendable, Hashable {
    public var code: String
    public var title: String
    public var description: String
    public var severity: String
    public init(code: String, title: String, description: String, severity: String = "WARNING") {
        self.code = code
        self.title = title
        self.description = description
        self.severity = severity
    }
}

/// What is known once a result has been fully consumed or discarded.
public struct ResultSummary: Sendable, Hashable {
    public var statistics = QueryStatistics()
    public var queryType: QueryType = .readOnly
    public var plan: PlanDescription?
    public var profile: PlanDescription?
    public var notifications: [Notification] = []
    /// Set for auto-commit results once committed.
    public var bookmark: String?
    public var database: String = "neo4j"
    public init() {}
}

/// A streaming result. Rows are produced on demand: `next()` drives the lazy executor, so a client that pulls
/// 10 rows of a huge result never makes the server hold the rest.
public protocol ResultCursor: AnyObject {
    var columns: [String] { get }
    /// The next row (values in `columns` order), or nil when exhausted. Throws DatabaseError.
    func next() throws -> [Value]?
    /// Drops the remaining rows (still running the query to completion when it has side effects).
    func discardRemaining() throws
    /// Valid once `next()` returned nil or `discardRemaining()` returned. For auto-commit, the
    /// transaction is committed by then and `bookmark` is set.
    func summary() throws -> ResultSummary
}

/// A statement run to completion in one call (`DatabaseSession.runBoundedStatement`): every row, and the summary of
/// its committed auto-commit transaction (bookmark set).
public struct CompletedResult {
    public var columns: [String]
    public var rows: [[Value]]
    public var summary: ResultSummary

    public init(columns: [String], rows: [[Value]], summary: ResultSummary) {
        self.columns = columns
        self.rows = rows
        self.summary = summary
    }
}

/// What came of `DatabaseSession.runBoundedRead`. Only `.completed` has any effect on the session; otherwise
/// nothing happened and the caller runs the statement the ordinary way (`run`), which also reports any error.
public enum BoundedReadOutcome {
    case completed(CompletedResult)
    /// Not now (another call holds the session, a transaction is open, the plan is not cached yet, the
    /// bookmark is not applied yet, the statement failed): trying this statement again later may succeed.
    case unavailable
    /// The statement needed more than the budget or more rows than allowed: do not try it this way again soon.
    case unsuitable
}

/// One routing table, as ROUTE and dbms.cluster.routing.getRoutingTable return it.
public struct RoutingTable: Sendable, Hashable {
    public var ttlSeconds: Int
    public var writers: [String]
    public var readers: [String]
    public var routers: [String]
    public var database: String
    public init(ttlSeconds: Int, writers: [String], readers: [String], routers: [String], database: String) {
        self.ttlSeconds = ttlSeconds
        self.writers = writers
        self.readers = readers
        self.routers = routers
        self.database = database
    }
}

/// A client session: at most one explicit transaction at a time, or auto-commit queries.
public protocol DatabaseSession: AnyObject {
    var user: AuthenticatedUser { get }
    func beginTransaction(_ options: TransactionOptions) throws
    /// Runs in the open explicit transaction, or auto-commit when none is open.
    func run(_ query: String, parameters: [String: Value], options: TransactionOptions) throws -> ResultCursor
    /// Returns the bookmark of the committed transaction.
    func commit() throws -> String
    func rollback() throws
    /// Rolls back any open transaction and drops open results (Bolt RESET).
    func reset()
    /// Marks the running query as terminated so that it stops at its next check (Bolt RESET while streaming).
    func interrupt()
    func close()
    /// Runs an auto-commit statement to completion only if that cannot wait: no explicit transaction or open
    /// result, no session lock held by another thread, bookmarks already applied, a cached read-only plan that
    /// calls no procedure and loads no file, at most `maxRows` rows, all within `budget` of CPU time (checked
    /// at every kernel read). For front ends that call it where they must not block (the Bolt event loop).
    func runBoundedRead(
        _ query: String, parameters: [String: Value], options: TransactionOptions, maxRows: Int, budget: Duration
    ) -> BoundedReadOutcome
    /// `runBoundedRead` that, with `writes`, also runs a cached plan that writes the graph (not the schema) when
    /// the database commits locally: without waiting for any lock another transaction holds (such a statement
    /// is `.unavailable` instead) and within `budget` up to its commit. The commit itself is durable: this call
    /// returns after the commit's log entry is synced (sharing the log's group-commit sync), so it blocks for
    /// about one `fdatasync`. With `reads` false only writes qualify.
    func runBoundedStatement(
        _ query: String, parameters: [String: Value], options: TransactionOptions, maxRows: Int, budget: Duration,
        reads: Bool, writes: Bool
    ) -> BoundedReadOutcome
}

extension DatabaseSession {
    /// Sessions that cannot tell whether a statement would wait never run one this way.
    public func runBoundedRead(
        _ query: String, parameters: [String: Value], options: TransactionOptions, maxRows: Int, budget: Duration
    ) -> BoundedReadOutcome {
        .unavailable
    }

    /// Sessions that cannot run a write this way run only reads (`runBoundedRead`).
    public func runBoundedStatement(
        _ query: String, parameters: [String: Value], options: TransactionOptions, maxRows: Int, budget: Duration,
        reads: Bool, writes: Bool
    ) -> BoundedReadOutcome {
        guard reads else { return .unavailable }
        return runBoundedRead(query, parameters: parameters, options: options, maxRows: maxRows, budget: budget)
    }
}

/// The server-wide entry point for front ends.
public protocol DatabaseService: AnyObject, Sendable {
    /// Product name and version for Bolt `server` ("Neo4j/5.x.y"-compatible agent string).
    var serverAgent: String { get }
    var authEnabled: Bool { get }
    /// Validates credentials. Throws Unauthorized / AuthenticationRateLimit.
    func authenticate(scheme: String, principal: String?, credentials: String?) throws -> AuthenticatedUser
    func openSession(user: AuthenticatedUser) -> DatabaseSession
    /// The routing table advertised to clients; `context` is the ROUTE routing context (address the
    /// client used etc.).
    func routingTable(context: [String: String], database: String?) throws -> RoutingTable
}
