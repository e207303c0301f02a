import Foundation
import GraphValues
import Logging
import Synchronization
import TrellisService

/// The master's side of writes sent to a slave (neo4j-ha.md §6, "Write on a slave"): Neo4j ships locks and the
/// finished transaction to the master; Trellis forwards the whole transaction instead (§10, "forward whole write
/// txs to leader"). Each forwarded transaction is an ordinary session of this instance's `TrellisDatabaseService`,
/// so it gets the same permissions, time-outs, query log and `dbms.listTransactions` entry as a local one.
///
/// Users are this member's: the slave authenticated the client, the master looks the user's roles up in its own
/// user store (HA members keep their own `data/dbms/auth`, as Neo4j 3.x did). A transaction whose slave went away
/// is rolled back once idle for `idleTimeout` (Neo4j reaps idle lock sessions after `ha.slave_lock_timeout` + 5 s).
public final class ForwardedTransactions: @unchecked Sendable {
    let service: TrellisDatabaseService
    let idleTimeout: Duration
    let logger: Logger
    /// Bounds one forwarded statement's result (the rows travel in one message).
    static let maxRows = 1_000_000

    final class Entry: @unchecked Sendable {
        let session: DatabaseSession
        /// The slave that sent the transaction, when it said (see `authorKey`).
        let author: Int?
        var lastUsed = ContinuousClock.now
        var busy = false
        init(session: DatabaseSession, author: Int?) {
            self.session = session
            self.author = author
        }
    }

    /// Transaction metadata key a slave sets to its `ha.server_id`: the master skips that slave when pushing the
    /// commit and pushes to one slave fewer (it catches up itself before answering; neo4j-ha.md §6). Removed
    /// before the transaction starts, so clients never see it.
    public static let authorKey = "trellis.ha.author"

    /// The forwarded commit running on this thread, if any: read by the master's commit hook.
    static var currentAuthor: Int? {
        get { Thread.current.threadDictionary[authorKey] as? Int }
        set { Thread.current.threadDictionary[authorKey] = newValue }
    }

    private let entries = Mutex<[UInt64: Entry]>([:])
    private let nextID = Atomic<UInt64>(0)

    public init(service: TrellisDatabaseService, idleTimeout: Duration, logger: Logger) {
        self.service = service
        self.idleTimeout = idleTimeout
        self.logger = logger
    }

    /// Forwarded transactions open now.
    public var openCount: Int { entries.withLock { $0.count } }

    /// Opens a write transaction for `user`; returns its id on this master.
    public func begin(user: String, metadata: [String: Value], timeout: Duration?) throws -> UInt64 {
        reapIdle()
        var metadata = metadata
        var author: Int?
        if case .integer(let id)? = metadata.removeValue(forKey: Self.authorKey) { author = Int(id) }
        let authenticated: AuthenticatedUser
        if service.auth.enabled {
            authenticated = service.auth.refreshed(
                AuthenticatedUser(username: user, roles: [], passwordChangeRequired: false))
            guard service.auth.listUsers().contains(where: { $0.name == user }) else {
                throw DatabaseError(
                    .forbidden,
                    "User '\(user)' is not known on the master. HA members keep their own users: create the user "
                        + "on every member (or copy data/dbms/auth).")
            }
        } else {
            authenticated = AuthenticatedUser(username: user, roles: ["admin"], passwordChangeRequired: false)
        }
        let session = service.openSession(user: authenticated)
        try session.beginTransaction(TransactionOptions(mode: .write, timeout: timeout, metadata: metadata))
        let id = nextID.add(1, ordering: .relaxed).newValue
        entries.withLock { $0[id] = Entry(session: session, author: author) }
        return id
    }

    /// Runs one statement to completion and returns all of its rows.
    public func run(_ tx: UInt64, query: String, parameters: [String: Value]) throws -> HAForwardedResult {
        let entry = try checkOut(tx)
        defer { checkIn(entry) }
        do {
            let cursor = try entry.session.run(query, parameters: parameters, options: TransactionOptions(mode: .write))
            var rows: [[Value]] = []
            while let row = try cursor.next() {
                rows.append(row)
                guard rows.count <= Self.maxRows else {
                    try? entry.session.rollback()
                    throw DatabaseError(
                        .invalidRequest,
                        "A statement written on a slave returned more than \(Self.maxRows) rows; the master cannot "
                            + "send that back. Run it on the master, or return fewer rows.")
                }
            }
            let summary = try cursor.summary()
            var statistics: [String: Int64] = [:]
            for (name, count) in summary.statistics.nonZeroCounters { statistics[name] = Int64(count) }
            return HAForwardedResult(keys: cursor.columns, rows: rows, statistics: statistics)
        }
    }

    /// Commits; returns the master's last committed tx id after the commit (the slave catches up to it).
    public func commit(_ tx: UInt64) throws -> UInt64 {
        let entry = try checkOut(tx)
        defer { remove(tx, entry) }
        Self.currentAuthor = entry.author
        defer { Self.currentAuthor = nil }
        let bookmark = try entry.session.commit()
        let committed = (try? Bookmark.txID(bookmark)) ?? service.engine.lastCommittedTxID
        return UInt64(max(committed, service.engine.lastCommittedTxID))
    }

    /// Rolls back (unknown ids are ignored: the transaction may have been reaped or the master restarted).
    public func rollback(_ tx: UInt64) throws {
        guard let entry = entries.withLock({ $0.removeValue(forKey: tx) }) else { return }
        try? entry.session.rollback()
        entry.session.close()
    }

    /// Rolls back every forwarded transaction idle longer than `idleTimeout`.
    public func reapIdle() {
        let now = ContinuousClock.now
        let stale: [(UInt64, Entry)] = entries.withLock { all in
            let ids = all.filter { !$0.value.busy && now - $0.value.lastUsed > idleTimeout }.map(\.key)
            return ids.map { ($0, all.removeValue(forKey: $0)!) }
        }
        for (id, entry) in stale {
            logger.warning(
                "rolling back a transaction forwarded by a slave that stopped using it",
                metadata: ["forwardedTx": "\(id)"])
            entry.session.close()
        }
    }

    /// Rolls back every forwarded transaction (this member stops being master).
    public func abortAll() {
        let all = entries.withLock { e -> [Entry] in
            defer { e.removeAll() }
            return Array(e.values)
        }
        for entry in all {
            entry.session.interrupt()
            entry.session.close()
        }
    }

    private func checkOut(_ tx: UInt64) throws -> Entry {
        let entry: Entry? = entries.withLock { all in
            guard let e = all[tx], !e.busy else { return nil }
            e.busy = true
            return e
        }
        guard let entry else {
            // After a master switch or a reap the slave's transaction is gone; a transient code makes drivers
            // retry the whole transaction (Neo4j: TransactionNotPresentOnMasterException).
            throw DatabaseError(
                "Neo.TransientError.Transaction.InstanceStateChanged",
                "The transaction is not open on the master (it changed, or the transaction was idle too long). "
                    + "Retry the transaction.")
        }
        return entry
    }

    private func checkIn(_ entry: Entry) {
        entries.withLock { _ in
            entry.busy = false
            entry.lastUsed = ContinuousClock.now
        }
    }

    private func remove(_ tx: UInt64, _ entry: Entry) {
        _ = entries.withLock { $0.removeValue(forKey: tx) }
        entry.session.close()
    }
}
