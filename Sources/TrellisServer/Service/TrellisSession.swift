import Foundation
import GraphValues
import Synchronization
import TrellisService

/// One client session (a Bolt connection or an HTTP transaction).
///
/// Threading: the front end calls one method at a time, but the service's transaction reaper may roll the
/// session's transaction back from its own thread while the client is idle. So every entry point (and every
/// call on a cursor of this session) holds `gate`, and the reaper only acts when it can take `gate` without
/// waiting; `interrupt()` is the one call that never takes it (it must reach a statement that is running).
///
/// Rules, after Neo4j: an error rolls back the explicit transaction it happened in; an auto-commit result
/// commits when it has been consumed; while the user must change the password, only the password change
/// runs (everything else fails with CredentialsExpired).
final class TrellisSession: DatabaseSession {
    let service: TrellisDatabaseService
    private(set) var user: AuthenticatedUser
    let name: String

    struct Explicit {
        var tx: EngineTransaction
        var id: Int
        var options: TransactionOptions
        var deadline: ContinuousClock.Instant?
        var failed = false
        /// Why the transaction was ended behind the client's back (the reaper, or its deadline noticed on the
        /// next call): every later statement and the commit fail with this error.
        var ended: DatabaseError?
        /// Results of this transaction not yet consumed; commit runs them to completion first (Bolt 4+ may
        /// keep several open and pull them by qid, so a new RUN does not discard the previous one).
        var cursors: [SessionCursor] = []
    }

    private var explicit: Explicit?
    /// The cursor still streaming, dropped by reset/close/next run.
    private var openCursor: SessionCursor?
    /// The engine transaction currently running a statement, for `interrupt()` from another thread.
    let running = Mutex<TransactionHandleBox?>(nil)
    private(set) var lastBookmark: String?
    /// Serialises the client's calls with the reaper (recursive: a cursor may run inside `run`).
    let gate = NSRecursiveLock()

    init(service: TrellisDatabaseService, user: AuthenticatedUser, name: String) {
        self.service = service
        self.user = user
        self.name = name
    }

    final class TransactionHandleBox: @unchecked Sendable {
        let tx: EngineTransaction
        init(_ tx: EngineTransaction) { self.tx = tx }
    }

    // MARK: Explicit transactions

    func beginTransaction(_ options: TransactionOptions) throws {
        gate.lock()
        defer { gate.unlock() }
        guard explicit == nil else {
            throw DatabaseError(.invalidRequest, "A transaction is already open in this session.")
        }
        try dropOpenCursor()
        do {
            let (tx, id, deadline) = try service.beginEngineTransaction(user: user, options: options, session: self)
            explicit = Explicit(tx: tx, id: id, options: options, deadline: deadline)
            running.withLock { $0 = TransactionHandleBox(tx) }
        } catch {
            throw ErrorMapping.map(error)
        }
    }

    func commit() throws -> String {
        gate.lock()
        defer { gate.unlock() }
        guard var current = explicit else {
            throw DatabaseError(.transactionNotFound, "There is no open transaction to commit.")
        }
        if let ended = current.ended {
            endExplicit()
            throw ended
        }
        if current.failed {
            endExplicit()
            throw DatabaseError(
                .transactionNotFound, "The transaction has been rolled back because of an earlier error.")
        }
        do {
            try checkDeadline(&current)
            for cursor in current.cursors { try cursor.discardRemaining() }
            let txID = try current.tx.commit()
            endExplicit()
            let bookmark = Bookmark.make(txID: txID)
            lastBookmark = bookmark
            return bookmark
        } catch {
            current.tx.rollback()
            endExplicit()
            throw ErrorMapping.map(error)
        }
    }

    func rollback() throws {
        gate.lock()
        defer { gate.unlock() }
        guard let current = explicit else { return }
        if !current.failed { current.tx.rollback() }
        endExplicit()
    }

    private func endExplicit() {
        if let current = explicit {
            for cursor in current.cursors { cursor.abandon() }
            service.transactionEnded(current.id)
        }
        explicit = nil
        running.withLock { $0 = nil }
    }

    private func checkDeadline(_ current: inout Explicit) throws {
        if let deadline = current.deadline, ContinuousClock.now >= deadline {
            endTimedOut()
            throw Self.timedOut
        }
    }

    static let timedOut = DatabaseError(
        .transactionTimedOut,
        "The transaction has been terminated. Retry your operation in a new transaction, and you should see "
            + "a successful result. The transaction has not completed within the specified timeout "
            + "(dbms.transaction.timeout). You may want to retry with a longer timeout.")

    /// Rolls the explicit transaction back because its time-out passed (its locks are released now); it stays
    /// in the session, failed, so that the client's next statement or commit learns why.
    private func endTimedOut() {
        guard var current = explicit, !current.failed else { return }
        for cursor in current.cursors { cursor.abandon(because: Self.timedOut) }
        current.cursors = []
        current.tx.rollback()
        current.failed = true
        current.ended = Self.timedOut
        explicit = current
        running.withLock { $0 = nil }
        service.transactionEnded(current.id)
    }

    /// The reaper: ends transaction `id` of this session, past its deadline, unless a call of the client is in
    /// progress (then the kernel's own deadline check stops the running statement, and the reaper tries again
    /// on its next round). Returns whether the transaction is gone.
    func reap(transactionID id: Int) -> Bool {
        guard gate.try() else { return false }
        defer { gate.unlock() }
        if let current = explicit, current.id == id {
            endTimedOut()
            return true
        }
        if let cursor = openCursor, let (_, cursorTx) = cursor.autoCommit, cursorTx == id {
            // An auto-commit result the client stopped pulling: its transaction holds locks too.
            openCursor = nil
            cursor.abandon(because: Self.timedOut)
            running.withLock { $0 = nil }
            return true
        }
        // Already ended by the client in the meantime.
        return true
    }

    // MARK: Statements

    func run(_ query: String, parameters: [String: Value], options: TransactionOptions) throws -> ResultCursor {
        gate.lock()
        defer { gate.unlock() }
        if explicit == nil { try dropOpenCursor() }
        let started = ContinuousClock.now
        do {
            if let admin = try AdminCommands.match(query, parameters: parameters) {
                let cursor = try runAdmin(admin)
                return cursor
            }
            if user.passwordChangeRequired && !AdminCommands.isPasswordChange(query) {
                throw DatabaseError(
                    .credentialsExpired,
                    "The credentials you provided were valid, but must be changed before you can use this instance. "
                        + "If this is the first time you are using Neo4j, this is to ensure you are not using the "
                        + "default credentials in production. If you are not using default credentials, you are "
                        + "getting this error because an administrator requires a password change.")
            }
            if var current = explicit {
                if let ended = current.ended { throw ended }
                guard !current.failed else {
                    throw DatabaseError(
                        .transactionNotFound, "The transaction has been rolled back because of an earlier error.")
                }
                try checkDeadline(&current)
                let queryID = service.queryStarted(
                    transactionID: current.id, username: user.username, query: query, parameters: parameters,
                    metadata: current.options.metadata)
                let result: EngineResult
                do {
                    result = try current.tx.run(query, parameters: parameters)
                } catch {
                    service.queryEnded(queryID)
                    throw error
                }
                let cursor = SessionCursor(
                    session: self, result: result, autoCommit: nil, query: query, parameters: parameters,
                    metadata: current.options.metadata, started: started, queryID: queryID)
                current.cursors.removeAll { $0.isFinished }
                current.cursors.append(cursor)
                explicit = current
                return cursor
            } else {
                let (tx, id, _) = try service.beginEngineTransaction(user: user, options: options, session: self)
                running.withLock { $0 = TransactionHandleBox(tx) }
                let queryID = service.queryStarted(
                    transactionID: id, username: user.username, query: query, parameters: parameters,
                    metadata: options.metadata)
                let result: EngineResult
                do {
                    result = try tx.run(query, parameters: parameters)
                } catch {
                    service.queryEnded(queryID)
                    tx.rollback()
                    service.transactionEnded(id)
                    running.withLock { $0 = nil }
                    throw error
                }
                let cursor = SessionCursor(
                    session: self, result: result, autoCommit: (tx, id), query: query, parameters: parameters,
                    metadata: options.metadata, started: started, queryID: queryID)
                openCursor = cursor
                return cursor
            }
        } catch {
            let mapped = ErrorMapping.map(error)
            failed(mapped)
            service.queryLog?.record(
                elapsed: ContinuousClock.now - started, connection: connectionDescription, query: query,
                parameters: parameters, metadata: options.metadata, error: mapped)
            throw mapped
        }
    }

    /// See `DatabaseSession.runBoundedRead`. The statement runs in a READ transaction whose kernel time-out is
    /// `budget` (the kernel checks it on every read, the Cypher runtime every 1,024 steps of work that reads
    /// nothing), so it stops within about `budget` whatever it does; reads take no locks. It is not registered
    /// in the running-query table: it ends before anyone could list or kill it. Nothing of a failed attempt is
    /// kept: the transaction is rolled back and the caller runs the statement the ordinary way.
    func runBoundedRead(
        _ query: String, parameters: [String: Value], options: TransactionOptions, maxRows: Int, budget: Duration
    ) -> BoundedReadOutcome {
        runBoundedStatement(
            query, parameters: parameters, options: options, maxRows: maxRows, budget: budget, reads: true,
            writes: false)
    }

    /// See `DatabaseSession.runBoundedStatement`. A write runs like a bounded read, but in a write transaction
    /// (the session's access mode decides, as for `run`) that takes no lock another transaction holds
    /// (`EngineTransaction.avoidWaiting`): such a statement fails here and runs again on the worker, where it
    /// waits for the lock as usual. Its commit is the ordinary durable one, leading or joining the log's
    /// group-commit sync; what it cannot avoid waiting for is that sync and the apply of the commits before it.
    func runBoundedStatement(
        _ query: String, parameters: [String: Value], options: TransactionOptions, maxRows: Int, budget: Duration,
        reads: Bool, writes: Bool
    ) -> BoundedReadOutcome {
        guard gate.try() else { return .unavailable }
        defer { gate.unlock() }
        // A query log that records statements as short as this one writes a file for each: not on this path.
        if let log = service.queryLog, log.threshold <= budget * 4 { return .unavailable }
        guard explicit == nil, openCursor == nil, !user.passwordChangeRequired else { return .unavailable }
        let write: Bool
        if reads && service.engine.isCachedBoundedRead(query) {
            write = false
        } else if writes && service.engine.isCachedBoundedWrite(query) {
            write = true
        } else {
            return .unavailable
        }
        let started = ContinuousClock.now
        let begun: (EngineTransaction, Int)?
        do {
            begun = try service.beginBoundedRead(
                user: user, options: options, budget: budget, session: self, write: write)
        } catch {
            return .unavailable
        }
        guard let (tx, id) = begun else { return .unavailable }
        if write { tx.avoidWaiting() }
        var rows: [[Value]] = []
        do {
            let result = try tx.run(query, parameters: parameters)
            while let row = try result.next() {
                guard rows.count < maxRows else {
                    tx.rollbackAbandonedAttempt()
                    service.transactionEnded(id)
                    return .unsuitable
                }
                rows.append(row)
            }
            var summary = result.summary()
            let txID = try tx.commit()
            service.transactionEnded(id)
            let bookmark = Bookmark.make(txID: txID)
            summary.bookmark = bookmark
            lastBookmark = bookmark
            service.queryLog?.record(
                elapsed: ContinuousClock.now - started, connection: connectionDescription, query: query,
                parameters: parameters, metadata: options.metadata, error: nil)
            return .completed(CompletedResult(columns: result.columns, rows: rows, summary: summary))
        } catch {
            // Every failed attempt is run again on the worker, where a real failure (or the client's own
            // time-out) is reported and counted: this one is not a terminated transaction.
            tx.rollbackAbandonedAttempt()
            service.transactionEnded(id)
            if let e = error as? DatabaseError, e.code == .transactionTimedOut { return .unsuitable }
            return .unavailable
        }
    }

    var connectionDescription: String { "\(name)\t\(user.username)" }

    /// An error in an explicit transaction rolls it back (Neo4j); the client still has to end it.
    func failed(_ error: DatabaseError) {
        if var current = explicit, !current.failed, ErrorMapping.rollsBack(error) {
            for cursor in current.cursors { cursor.abandon() }
            current.cursors = []
            current.tx.rollback()
            current.failed = true
            explicit = current
            service.transactionEnded(current.id)
        }
    }

    /// Called by a cursor that finished (successfully or not).
    func cursorFinished(_ cursor: SessionCursor, bookmark: String?, error: DatabaseError?) {
        if openCursor === cursor { openCursor = nil }
        if let bookmark { lastBookmark = bookmark }
        if cursor.autoCommit != nil { running.withLock { $0 = nil } }
        if let error { failed(error) }
        service.queryLog?.record(
            elapsed: ContinuousClock.now - cursor.started, connection: connectionDescription, query: cursor.query,
            parameters: cursor.parameters, metadata: cursor.metadata, error: error)
        // A password change (procedure or ALTER CURRENT USER) lifts the restriction for this session.
        if user.passwordChangeRequired { user = service.auth.refreshed(user) }
    }

    private func dropOpenCursor() throws {
        guard let cursor = openCursor else { return }
        openCursor = nil
        // Bolt only runs a new statement once the previous result was pulled or discarded; HTTP consumes
        // eagerly. An auto-commit result left open is discarded (committing its side effects, as Neo4j does).
        try cursor.discardRemaining()
    }

    // MARK: Admin commands handled by the session (not graph Cypher)

    private func runAdmin(_ command: AdminCommands.Command) throws -> ResultCursor {
        switch command {
        case .alterCurrentUserPassword(let old, let new):
            guard service.auth.enabled else {
                throw DatabaseError(.invalidRequest, "Changing passwords requires dbms.security.auth_enabled=true.")
            }
            do {
                _ = try service.auth.authenticate(scheme: "basic", principal: user.username, credentials: old)
            } catch {
                throw DatabaseError(.invalidRequest, "User '\(user.username)' failed to alter their own password: Invalid principal or credentials.")
            }
            try service.auth.changePassword(of: user.username, to: new)
            user = service.auth.refreshed(user)
            var summary = ResultSummary()
            summary.statistics.systemUpdates = 1
            summary.queryType = .writeOnly
            return StaticCursor(columns: [], rows: [], summary: summary)
        case .showCurrentUser:
            let roles = service.auth.enabled ? service.auth.refreshed(user).roles : user.roles
            let flags = service.auth.flags(of: user.username)
            return StaticCursor(
                columns: ["user", "roles", "passwordChangeRequired", "suspended", "home"],
                rows: [[.string(user.username), .list(roles.map(Value.string)), .boolean(user.passwordChangeRequired),
                        .boolean(flags.contains("is_suspended")), .null]],
                summary: ResultSummary())
        }
    }

    // MARK: Reset / interrupt / close

    func reset() {
        gate.lock()
        defer { gate.unlock() }
        openCursor?.abandon()
        openCursor = nil
        if let current = explicit {
            if !current.failed { current.tx.rollback() }
            endExplicit()
        }
        running.withLock { $0 = nil }
    }

    func interrupt() {
        running.withLock { $0?.tx.terminate() }
    }

    func close() {
        reset()
    }
}
