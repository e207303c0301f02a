import GraphValues
import TrellisService

/// The cursor of one statement run by a session. For auto-commit statements it owns the transaction: it commits
/// when the last row has been pulled (or the rest discarded) and rolls back on any error.
final class SessionCursor: ResultCursor {
    unowned let session: TrellisSession
    let result: EngineResult
    let autoCommit: (EngineTransaction, Int)?
    let query: String
    let parameters: [String: Value]
    let metadata: [String: Value]
    let started: ContinuousClock.Instant
    /// Registration in the service's running-query table (`dbms.listQueries`).
    let queryID: Int
    let service: TrellisDatabaseService
    private var finished = false {
        didSet { if finished && !oldValue { service.queryEnded(queryID) } }
    }
    var isFinished: Bool { finished }
    private var transactionClosed = false
    private var summaryValue: ResultSummary?
    /// Set when the session ended the transaction under this cursor (time-out): pulling more reports it.
    private var abandonedBecause: DatabaseError?

    init(
        session: TrellisSession, result: EngineResult, autoCommit: (EngineTransaction, Int)?, query: String,
        parameters: [String: Value], metadata: [String: Value], started: ContinuousClock.Instant, queryID: Int
    ) {
        self.queryID = queryID
        self.service = session.service
        self.session = session
        self.result = result
        self.autoCommit = autoCommit
        self.query = query
        self.parameters = parameters
        self.metadata = metadata
        self.started = started
    }

    deinit {
        if !finished { service.queryEnded(queryID) }
    }

    var columns: [String] { result.columns }

    func next() throws -> [Value]? {
        session.gate.lock()
        defer { session.gate.unlock() }
        guard !finished else {
            if let abandonedBecause { throw abandonedBecause }
            return nil
        }
        do {
            if let row = try result.next() { return row }
            try complete()
            return nil
        } catch {
            throw fail(error)
        }
    }

    func discardRemaining() throws {
        session.gate.lock()
        defer { session.gate.unlock() }
        guard !finished else {
            if let abandonedBecause { throw abandonedBecause }
            return
        }
        do {
            // A read-only statement has nothing left to do; anything that writes runs to completion.
            if result.summary().queryType != .readOnly {
                while try result.next() != nil {}
            }
            try complete()
        } catch {
            throw fail(error)
        }
    }

    func summary() throws -> ResultSummary {
        session.gate.lock()
        defer { session.gate.unlock() }
        if let abandonedBecause { throw abandonedBecause }
        guard let s = summaryValue else {
            throw DatabaseError(.invalidRequest, "The result has not been consumed yet.")
        }
        return s
    }

    private func complete() throws {
        var s = result.summary()
        if let (tx, id) = autoCommit {
            let txID = try tx.commit()
            transactionClosed = true
            session.service.transactionEnded(id)
            s.bookmark = Bookmark.make(txID: txID)
        }
        finished = true
        summaryValue = s
        session.cursorFinished(self, bookmark: s.bookmark, error: nil)
    }

    private func fail(_ error: any Error) -> DatabaseError {
        let mapped = ErrorMapping.map(error)
        finished = true
        closeTransaction()
        session.cursorFinished(self, bookmark: nil, error: mapped)
        return mapped
    }

    /// Dropped without being consumed (RESET, close, or `because` its transaction timed out): roll an
    /// auto-commit transaction back. Called with the session's gate held.
    func abandon(because reason: DatabaseError? = nil) {
        guard !finished else { return }
        finished = true
        abandonedBecause = reason
        closeTransaction()
    }

    private func closeTransaction() {
        guard let (tx, id) = autoCommit, !transactionClosed else { return }
        transactionClosed = true
        tx.rollback()
        session.service.transactionEnded(id)
    }
}

/// A result computed up front (session-level admin commands).
final class StaticCursor: ResultCursor {
    let columns: [String]
    private var rows: IndexingIterator<[[Value]]>
    private let summaryValue: ResultSummary

    init(columns: [String], rows: [[Value]], summary: ResultSummary) {
        self.columns = columns
        self.rows = rows.makeIterator()
        self.summaryValue = summary
    }

    func next() throws -> [Value]? { rows.next() }
    func discardRemaining() throws { while rows.next() != nil {} }
    func summary() throws -> ResultSummary { summaryValue }
}
