import Foundation
import GraphValues
import Logging
import Synchronization
import TrellisService

/// The `DatabaseService` the Bolt and HTTP front ends call: authentication, sessions, explicit and auto-commit
/// transactions, bookmarks and the routing table, on top of a `GraphEngine` (kernel + Cypher).
///
/// Time-outs (`dbms.transaction.timeout`, or the client's own): a reaper looks at the open transactions every
/// `reaperInterval` (`dbms.transaction.monitor.check.interval`) and rolls back those past their deadline whose client is idle, so an abandoned transaction
/// releases its locks even if the client never sends another message; the client's next message then fails
/// with TransactionTimedOut. A statement still running past the deadline is stopped by the kernel's own check.
///
/// Shutdown (`shutdown(grace:)`): new transactions are refused with DatabaseUnavailable (a transient error, so
/// drivers retry elsewhere), running ones get `grace` to finish, the rest are terminated and rolled back, then
/// the engine checkpoints and releases the store.
public final class TrellisDatabaseService: DatabaseService, @unchecked Sendable {
    public let engine: GraphEngine
    public let auth: AuthManager
    let logger: Logger
    let queryLog: QueryLog?
    /// `dbms.transaction.timeout` (nil: none).
    let defaultTimeout: Duration?
    /// How long a transaction naming a bookmark waits for this instance to catch up.
    let bookmarkWaitTimeout: Duration
    let advertisedBoltAddress: String
    let databaseNames: Set<String>
    let readOnlyDatabase: Bool

    struct Activity {
        var accepting = true
        /// Set while the store is being replaced (HA store copy): new transactions fail with this message.
        var paused: String?
        var nextID = 0
        var open: [Int: TransactionHandle] = [:]
        var nextQueryID = 0
        var queries: [Int: RunningQuery] = [:]
    }

    let activity = Mutex(Activity())
    let sessionCounter = Atomic<Int>(0)
    /// How often the reaper looks for transactions past their deadline.
    let reaperInterval: Duration
    private var reaper: DispatchSourceTimer?
    /// In HA mode, the cluster's routing table (WRITE = master, READ = slaves, ROUTE = data members); nil on a
    /// single instance, which serves every role itself.
    private let clusterRouting = Mutex<(@Sendable () -> RoutingTable)?>(nil)

    /// Installs the cluster's routing table source (`dbms.mode=HA`). `database` of the returned table is ignored.
    public func setClusterRouting(_ source: (@Sendable () -> RoutingTable)?) {
        clusterRouting.withLock { $0 = source }
    }

    public init(
        engine: GraphEngine, auth: AuthManager, config: Config, logger: Logger, queryLog: QueryLog?,
        bookmarkWaitTimeout: Duration? = nil, reaperInterval: Duration? = nil
    ) {
        let interval = reaperInterval ?? config.get(Settings.transactionMonitorCheckInterval)
        precondition(interval > .zero, "the reaper interval must be positive, got \(interval)")
        self.reaperInterval = interval
        self.engine = engine
        self.auth = auth
        self.logger = logger
        self.queryLog = queryLog
        let t = config.get(Settings.transactionTimeout)
        self.defaultTimeout = t == .zero ? nil : t
        self.bookmarkWaitTimeout = bookmarkWaitTimeout ?? config.get(Settings.bookmarkReadyTimeout)
        self.advertisedBoltAddress = config.boltAdvertisedAddress
        // "system" is where Neo4j 4+/5 clients send user administration (ALTER CURRENT USER …); a single
        // graph serves both names.
        self.databaseNames = ["neo4j", "system", config.get(Settings.activeDatabase)]
        self.readOnlyDatabase = config.get(Settings.readOnly)
        startReaper()
    }

    deinit {
        reaper?.cancel()
    }

    private func startReaper() {
        let timer = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "trellis.transaction-reaper"))
        let nanos = Int(reaperInterval.components.seconds) * 1_000_000_000
            + Int(reaperInterval.components.attoseconds / 1_000_000_000)
        timer.schedule(deadline: .now() + .nanoseconds(nanos), repeating: .nanoseconds(nanos),
                       leeway: .nanoseconds(nanos / 10))
        // Weak: the timer must not keep a service that nobody uses any more alive.
        timer.setEventHandler { [weak self] in self?.reapExpired() }
        timer.resume()
        reaper = timer
    }

    /// Rolls back every transaction past its deadline whose session is idle (see the type's comment).
    /// Returns how many were ended (for tests).
    @discardableResult
    func reapExpired(now: ContinuousClock.Instant = .now) -> Int {
        let expired: [(Int, TransactionHandle)] = activity.withLock { a in
            a.open.compactMap { id, h in
                guard let deadline = h.deadline, deadline <= now else { return nil }
                return (id, h)
            }
        }
        var ended = 0
        for (id, handle) in expired.sorted(by: { $0.0 < $1.0 }) {
            guard let session = handle.session else {
                // Its session is gone without ending it (cannot happen through the front ends); roll back anyway.
                handle.tx.rollback()
                transactionEnded(id)
                ended += 1
                continue
            }
            if session.reap(transactionID: id) {
                transactionEnded(id)
                ended += 1
                logger.info("transaction timed out and was rolled back", metadata: [
                    "transaction": "transaction-\(id)", "user": "\(handle.username)", "session": "\(session.name)",
                ])
            }
        }
        return ended
    }

    // MARK: DatabaseService

    public var serverAgent: String { Trellis.serverAgent }
    public var authEnabled: Bool { auth.enabled }

    public func authenticate(scheme: String, principal: String?, credentials: String?) throws -> AuthenticatedUser {
        do {
            return try auth.authenticate(scheme: scheme, principal: principal, credentials: credentials)
        } catch {
            throw ErrorMapping.map(error)
        }
    }

    public func openSession(user: AuthenticatedUser) -> DatabaseSession {
        let n = sessionCounter.add(1, ordering: .relaxed).newValue
        return TrellisSession(service: self, user: user, name: "session-\(n)")
    }

    public func routingTable(context: [String: String], database: String?) throws -> RoutingTable {
        let name = try resolveDatabase(database)
        if let source = clusterRouting.withLock({ $0 }) {
            var table = source()
            table.database = name
            return table
        }
        // A single instance serves every role.
        return RoutingTable(
            ttlSeconds: 300, writers: [advertisedBoltAddress], readers: [advertisedBoltAddress],
            routers: [advertisedBoltAddress], database: name)
    }

    func resolveDatabase(_ database: String?) throws -> String {
        guard let database, !database.isEmpty else { return "neo4j" }
        guard databaseNames.contains(database) else {
            throw DatabaseError("Neo.ClientError.Database.DatabaseNotFound", "Database does not exist. Database name: '\(database)'.")
        }
        return "neo4j"
    }

    // MARK: Transactions

    /// An open engine transaction, registered so shutdown can terminate it.
    final class TransactionHandle: @unchecked Sendable {
        let tx: EngineTransaction
        let username: String
        let metadata: [String: Value]
        let started = Date()
        let startedClock = ContinuousClock.now
        /// When the reaper rolls it back (nil: no time-out).
        let deadline: ContinuousClock.Instant?
        /// The session the reaper asks to end it (it must not touch `tx` while the client uses it).
        weak var session: TrellisSession?
        init(_ tx: EngineTransaction, username: String, metadata: [String: Value], deadline: ContinuousClock.Instant?,
             session: TrellisSession?) {
            self.tx = tx
            self.username = username
            self.metadata = metadata
            self.deadline = deadline
            self.session = session
        }
    }

    /// A statement being executed or streamed, for `dbms.listQueries` / `dbms.killQuery`.
    struct RunningQuery: @unchecked Sendable {
        var id: Int
        var transactionID: Int
        var username: String
        var query: String
        var parameters: [String: Value]
        var metadata: [String: Value]
        var started: Date
        var startedClock: ContinuousClock.Instant
    }

    /// Begins an engine transaction for `session` and registers it. Returns it with its registry id and its
    /// deadline (from the client's time-out, else `dbms.transaction.timeout`; nil when neither is set).
    func beginEngineTransaction(user: AuthenticatedUser, options: TransactionOptions, session: TrellisSession?)
        throws -> (EngineTransaction, Int, ContinuousClock.Instant?)
    {
        _ = try resolveDatabase(options.database)
        if !options.bookmarks.isEmpty { try awaitBookmarks(options.bookmarks) }
        let timeout = options.timeout.flatMap { $0 == .zero ? nil : $0 } ?? defaultTimeout
        let deadline = timeout.map { ContinuousClock.now + $0 }
        let security = SecurityContext(
            username: user.username, permissions: Permissions.of(roles: user.roles), accessMode: options.mode,
            readOnlyDatabase: readOnlyDatabase)
        let tx = try engine.begin(security: security, timeout: timeout, metadata: options.metadata)
        let id: Result<Int, DatabaseError> = activity.withLock { a in
            guard a.accepting else {
                return .failure(DatabaseError(.databaseUnavailable, "The database is shutting down."))
            }
            if let reason = a.paused { return .failure(DatabaseError(.databaseUnavailable, reason)) }
            a.nextID += 1
            a.open[a.nextID] = TransactionHandle(
                tx, username: user.username, metadata: options.metadata, deadline: deadline, session: session)
            return .success(a.nextID)
        }
        switch id {
        case .success(let id): return (tx, id, deadline)
        case .failure(let error):
            tx.rollback()
            throw error
        }
    }

    /// `beginEngineTransaction` for `TrellisSession.runBoundedStatement`: a read transaction (with `write`: one in
    /// the session's access mode) whose time-out is `budget`, registered like any other (shutdown and store
    /// replacement wait for it); nil instead of waiting when a bookmark names a transaction not applied yet.
    func beginBoundedRead(user: AuthenticatedUser, options: TransactionOptions, budget: Duration,
                          session: TrellisSession, write: Bool = false) throws -> (EngineTransaction, Int)? {
        if !options.bookmarks.isEmpty {
            guard let wanted = try? Bookmark.highest(options.bookmarks), wanted <= engine.lastCommittedTxID else {
                return nil
            }
        }
        var read = options
        read.bookmarks = []
        if !write { read.mode = .read }
        read.timeout = budget
        let (tx, id, _) = try beginEngineTransaction(user: user, options: read, session: session)
        return (tx, id)
    }

    func transactionEnded(_ id: Int) {
        _ = activity.withLock { $0.open.removeValue(forKey: id) }
    }

    // MARK: Running queries and transactions (dbms.listQueries, dbms.killQuery, dbms.listTransactions)

    func queryStarted(transactionID: Int, username: String, query: String, parameters: [String: Value],
                      metadata: [String: Value]) -> Int {
        activity.withLock { a in
            a.nextQueryID += 1
            a.queries[a.nextQueryID] = RunningQuery(
                id: a.nextQueryID, transactionID: transactionID, username: username, query: query,
                parameters: parameters, metadata: metadata, started: Date(), startedClock: ContinuousClock.now)
            return a.nextQueryID
        }
    }

    func queryEnded(_ id: Int) {
        _ = activity.withLock { $0.queries.removeValue(forKey: id) }
    }

    /// Running statements, oldest first.
    public func runningQueries() -> [(id: String, username: String, query: String, parameters: [String: Value],
                                      metadata: [String: Value], started: Date, elapsed: Duration, transaction: String)] {
        let now = ContinuousClock.now
        return activity.withLock { a in
            a.queries.values.sorted { $0.id < $1.id }.map {
                ("query-\($0.id)", $0.username, $0.query, $0.parameters, $0.metadata, $0.started,
                 now - $0.startedClock, "transaction-\($0.transactionID)")
            }
        }
    }

    /// Open transactions, oldest first, with the statement each is running (if any).
    public func openTransactions() -> [(id: String, username: String, metadata: [String: Value], started: Date,
                                        elapsed: Duration, currentQueryID: String, currentQuery: String)] {
        let now = ContinuousClock.now
        return activity.withLock { a in
            a.open.keys.sorted().map { id in
                let h = a.open[id]!
                let q = a.queries.values.filter { $0.transactionID == id }.max { $0.id < $1.id }
                return ("transaction-\(id)", h.username, h.metadata, h.started, now - h.startedClock,
                        q.map { "query-\($0.id)" } ?? "", q?.query ?? "")
            }
        }
    }

    /// Terminates the transaction running `queryID` (`query-<n>`); it fails with Terminated at its next step.
    /// Returns the query's user, or nil when no such query runs. Only admins may kill other users' queries.
    public func killQuery(_ queryID: String, by username: String, isAdmin: Bool) throws -> String? {
        guard queryID.hasPrefix("query-"), let n = Int(queryID.dropFirst(6)) else {
            throw DatabaseError(.argumentError, "Query id '\(queryID)' is not of the form query-<n>")
        }
        let target: (String, TransactionHandle?)? = activity.withLock { a in
            guard let q = a.queries[n] else { return nil }
            return (q.username, a.open[q.transactionID])
        }
        guard let (owner, handle) = target else { return nil }
        guard isAdmin || owner == username else {
            throw DatabaseError(.forbidden, "Permission denied: only admins may kill other users' queries.")
        }
        handle?.tx.terminate()
        logger.info("query killed", metadata: ["query": "\(queryID)", "by": "\(username)"])
        return owner
    }

    /// Terminates the transaction `transaction-<n>`. Returns its user, or nil when not open.
    public func killTransaction(_ transactionID: String, by username: String, isAdmin: Bool) throws -> String? {
        guard transactionID.hasPrefix("transaction-"), let n = Int(transactionID.dropFirst(12)) else {
            throw DatabaseError(.argumentError, "Transaction id '\(transactionID)' is not of the form transaction-<n>")
        }
        guard let handle = activity.withLock({ $0.open[n] }) else { return nil }
        guard isAdmin || handle.username == username else {
            throw DatabaseError(.forbidden, "Permission denied: only admins may kill other users' transactions.")
        }
        handle.tx.terminate()
        return handle.username
    }

    /// HA slaves: fetch transactions up to the given id from the master now (a bookmark from the master names one
    /// this member may not have pulled yet). Errors are ignored: the wait below decides.
    private let bookmarkCatchUp = Mutex<(@Sendable (Int64) throws -> Void)?>(nil)

    /// Installs the HA slave's catch-up for bookmark waits (nil: wait for replication only).
    public func setBookmarkCatchUp(_ catchUp: (@Sendable (Int64) throws -> Void)?) {
        bookmarkCatchUp.withLock { $0 = catchUp }
    }

    func awaitBookmarks(_ bookmarks: [String]) throws {
        let wanted = try Bookmark.highest(bookmarks)
        if engine.lastCommittedTxID < wanted, let catchUp = bookmarkCatchUp.withLock({ $0 }) {
            try? catchUp(wanted)
        }
        let deadline = ContinuousClock.now + bookmarkWaitTimeout
        while engine.lastCommittedTxID < wanted {
            guard ContinuousClock.now < deadline else {
                throw DatabaseError(
                    .bookmarkTimeout,
                    "Database 'neo4j' not up to the requested version: \(wanted). Latest database version is \(engine.lastCommittedTxID)")
            }
            usleep(1_000)
        }
    }

    /// Number of transactions currently open (for status and tests).
    public var openTransactionCount: Int { activity.withLock { $0.open.count } }

    /// Refuses new transactions, waits up to `grace` for open ones, terminates the rest, then shuts the engine
    /// down (checkpoint, store released).
    public func shutdown(grace: Duration) {
        drain(grace: grace)
        closeEngine()
    }

    /// Refuses new transactions (DatabaseUnavailable, transient), waits up to `grace` for open ones to end,
    /// then terminates the rest.
    public func drain(grace: Duration) {
        activity.withLock { $0.accepting = false }
        let deadline = ContinuousClock.now + grace
        while openTransactionCount > 0 && ContinuousClock.now < deadline { usleep(10_000) }
        let leftovers = activity.withLock { Array($0.open.values) }
        if !leftovers.isEmpty {
            logger.warning("terminating transactions still open at shutdown", metadata: ["count": "\(leftovers.count)"])
            for h in leftovers { h.tx.terminate() }
            let second = ContinuousClock.now + .seconds(1)
            while openTransactionCount > 0 && ContinuousClock.now < second { usleep(10_000) }
        }
    }

    /// Replaces the store under a running service (HA: a slave whose store branched, or that is too far behind,
    /// takes a copy of the master's). New transactions fail with DatabaseUnavailable carrying `reason` (transient:
    /// drivers retry), open ones get `grace` and are then terminated, and `reopen` runs with the old database
    /// closed. Transactions are accepted again afterwards, whether or not `reopen` succeeded.
    public func replaceStore(
        reason: String, grace: Duration, _ reopen: (any KernelDatabase) throws -> any KernelDatabase
    ) throws {
        activity.withLock { $0.paused = reason }
        defer { activity.withLock { $0.paused = nil } }
        let deadline = ContinuousClock.now + grace
        while openTransactionCount > 0 && ContinuousClock.now < deadline { usleep(5_000) }
        let leftovers = activity.withLock { Array($0.open.values) }
        if !leftovers.isEmpty {
            logger.warning("terminating transactions for a store replacement", metadata: ["count": "\(leftovers.count)"])
            for h in leftovers { h.tx.terminate() }
            let second = ContinuousClock.now + .seconds(2)
            while openTransactionCount > 0 && ContinuousClock.now < second { usleep(5_000) }
        }
        try engine.replaceDatabase(reopen)
    }

    /// Checkpoints and releases the store (after `drain` and after the connectors stopped).
    public func closeEngine() {
        reaper?.cancel()
        do {
            try engine.shutdown()
        } catch {
            logger.error("checkpoint at shutdown failed; recovery will replay the log", metadata: ["error": "\(error)"])
        }
    }
}
