import Synchronization
import TrellisService

/// An explicit transaction opened over HTTP: the database session that holds it and who owns it.
///
/// A session is not thread-safe; the registry hands an open transaction to one request at a time (see
/// `TransactionRegistry.acquire`), which is what makes the unchecked sendability sound.
final class OpenTransaction: @unchecked Sendable {
    let session: DatabaseSession
    let owner: String
    let database: String?

    init(session: DatabaseSession, owner: String, database: String?) {
        self.session = session
        self.owner = owner
        self.database = database
    }

    /// Rolls back and closes, ignoring errors: used for expiry and shutdown, where nobody is left to tell.
    func abandon() {
        try? session.rollback()
        session.close()
    }
}

/// The HTTP transactions that are open between requests, with their idle deadlines.
///
/// Neo4j rolls back a transaction that sees no request for `dbms.rest.transaction.idle_timeout` (http-api.md §2).
/// Time is an input (`now:`), so expiry is tested without sleeping; the server calls `expire(now:)` from a timer.
/// A transaction that a request is using never expires under it; its deadline restarts when the request ends.
final class TransactionRegistry: Sendable {
    enum AcquireResult {
        case acquired(OpenTransaction)
        /// Unknown, expired, owned by another user or in another database: all look the same to the client.
        case notFound
        /// Another request is using it right now.
        case busy
    }

    private struct Entry {
        let transaction: OpenTransaction
        var deadline: ContinuousClock.Instant
        var inUse: Bool
    }

    private struct State {
        var nextID: Int64 = 1
        var entries: [Int64: Entry] = [:]
    }

    let idleTimeout: Duration
    let capacity: Int
    private let state = Mutex(State())

    init(idleTimeout: Duration, capacity: Int) {
        precondition(capacity > 0, "transaction capacity must be positive, got \(capacity)")
        self.idleTimeout = idleTimeout
        self.capacity = capacity
    }

    var count: Int { state.withLock { $0.entries.count } }

    /// Adds a new transaction, held by the calling request. Nil when `capacity` transactions are open.
    func register(_ transaction: OpenTransaction, now: ContinuousClock.Instant) -> Int64? {
        state.withLock { state in
            guard state.entries.count < capacity else { return nil }
            let id = state.nextID
            state.nextID += 1
            state.entries[id] = Entry(transaction: transaction, deadline: now + idleTimeout, inUse: true)
            return id
        }
    }

    /// Takes the transaction for one request.
    func acquire(id: Int64, user: String, database: String?, now: ContinuousClock.Instant) -> AcquireResult {
        state.withLock { state in
            guard var entry = state.entries[id], entry.transaction.owner == user,
                entry.transaction.database == database
            else { return .notFound }
            if entry.inUse { return .busy }
            if entry.deadline <= now { return .notFound }  // expired, the sweep has not run yet
            entry.inUse = true
            state.entries[id] = entry
            return .acquired(entry.transaction)
        }
    }

    /// Hands the transaction back after a request; its idle deadline starts again.
    func release(id: Int64, now: ContinuousClock.Instant) {
        state.withLock { state in
            precondition(state.entries[id]?.inUse == true, "releasing HTTP transaction \(id) that is not held")
            state.entries[id]!.inUse = false
            state.entries[id]!.deadline = now + idleTimeout
        }
    }

    /// Forgets a transaction that its request committed or rolled back.
    func remove(id: Int64) {
        _ = state.withLock { $0.entries.removeValue(forKey: id) }
    }

    /// Removes the transactions whose deadline has passed and that no request holds; the caller rolls them back.
    func expire(now: ContinuousClock.Instant) -> [(id: Int64, transaction: OpenTransaction)] {
        state.withLock { state in
            let expired = state.entries.filter { !$0.value.inUse && $0.value.deadline <= now }
            for id in expired.keys { state.entries.removeValue(forKey: id) }
            return expired.sorted { $0.key < $1.key }.map { ($0.key, $0.value.transaction) }
        }
    }

    /// Removes every idle transaction (server shutdown); ones held by a running request are left to it.
    func removeAllIdle() -> [OpenTransaction] {
        state.withLock { state in
            let idle = state.entries.filter { !$0.value.inUse }
            for id in idle.keys { state.entries.removeValue(forKey: id) }
            return idle.sorted { $0.key < $1.key }.map { $0.value.transaction }
        }
    }
}
