import Foundation
import GraphValues
import Synchronization
import TrellisService

/// One client session (a Bolt connection or an HTTP transaction). Calls arrive one at a time; only
/// `interrupt()` may come from another thread.
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
        guard explicit == nil else {
            throw DatabaseError(.invalidRequest, "A transaction is already open in this session.")
        }
        try dropOpenCursor()
        do {
            let (tx, id) = try service.beginEngineTransaction(user: user, options: options)
            let timeout = options.timeout.flatMap { $0 == .zero ? nil : $0 } ?? service.defaultTimeout
            explicit = Explicit(tx: tx, id: id, options: options, deadline: timeout.map { ContinuousClock.now + $0 })
            running.withLock { $0 = TransactionHandleBox(tx) }
        } catch {
            throw ErrorMapping.map(error)
        }
    }

    func commit() throws -> String {
        guard var current = explicit else {
            throw DatabaseError(.transactionNotFound, "There is no open transaction to commit.")
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
        guard let current = explicit else { return }
        current.tx.rollback()
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
            current.tx.rollback()
            endExplicit()
            throw DatabaseError(
                .transactionTimedOut,
                "The transaction has been terminated. Retry your operation in a new transaction, and you should see "
                    + "a successful result. The transaction has not completed within the specified timeout "
                    + "(dbms.transaction.timeout). You may want to retry with a longer timeout.")
        }
    }

    // MARK: Statements

    func run(_ query: String, parameters: [String: Value], options: TransactionOptions) throws -> ResultCursor {
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
                let (tx, id) = try service.beginEngineTransaction(user: user, options: options)
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
