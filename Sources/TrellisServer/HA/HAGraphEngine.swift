import ClusterCore
import Dispatch
import Foundation
import GraphValues
import Synchronization
import TrellisService

/// Where a WRITE-mode transaction on a slave goes: the master's data port, and how to catch up afterwards.
public struct ForwardingTarget: Sendable {
    public var master: any HADataLink
    /// The master's epoch, as this slave learned it (the master refuses forwards from other epochs).
    public var epoch: Epoch
    /// This slave's server id (the master does not push the commit back to its author).
    public var author: Int
    /// The longest one call to the master may take (`ha.slave_read_timeout`).
    public var timeout: Duration
    /// Pulls from the master until this member has applied at least the given tx id (or throws).
    public var catchUp: @Sendable (UInt64) throws -> Void
}

/// Decides, per transaction, whether it runs here or on the master.
public protocol WriteForwarding: AnyObject, Sendable {
    /// nil: run locally (master, pending, or not HA). A target: this is a slave, forward. Throws a transient
    /// error while this member is switching to slave (copying the store, catching up).
    func forwardingTarget() throws -> ForwardingTarget?
    /// Throws a transient error when transactions must not run on the local store (it is not yet known to be the
    /// cluster's data: not checked against the master's since start, or being replaced by a copy of it).
    func checkLocalStoreServes() throws
}

extension WriteForwarding {
    public func checkLocalStoreServes() throws {}
}

/// The engine of an HA data member: transactions run on the local engine, except WRITE-mode transactions on a
/// slave, which are forwarded to the master (`ForwardingTransaction`). READ-mode transactions always run
/// locally, so reads keep working on a slave that lost its master.
public final class HAGraphEngine: GraphEngine, @unchecked Sendable {
    public let local: CypherGraphEngine
    let forwarding: Mutex<(any WriteForwarding)?> = Mutex(nil)

    public init(local: CypherGraphEngine) {
        self.local = local
    }

    /// Set once the HA instance exists (it needs the service, which needs this engine).
    public func setForwarding(_ f: (any WriteForwarding)?) {
        forwarding.withLock { $0 = f }
    }

    public func begin(security: SecurityContext, timeout: Duration?, metadata: [String: Value]) throws
        -> EngineTransaction
    {
        let router = forwarding.withLock({ $0 })
        if security.accessMode == .write, let router, let target = try router.forwardingTarget() {
            return ForwardingTransaction(
                target: target, local: local, security: security, timeout: timeout, metadata: metadata)
        }
        try router?.checkLocalStoreServes()
        return try local.begin(security: security, timeout: timeout, metadata: metadata)
    }

    public var lastCommittedTxID: Int64 { local.lastCommittedTxID }
    public func shutdown() throws { try local.shutdown() }
    public func replaceDatabase(_ reopen: (any KernelDatabase) throws -> any KernelDatabase) throws {
        try local.replaceDatabase(reopen)
    }
}

/// Runs `body` on the cooperative pool and waits for it from this (non-pool) thread, at most `timeout`. The
/// callers are Bolt connection queues, HTTP worker threads and the HA switch queue, never pool threads, so the
/// wait cannot starve the work it waits for.
func waitFor<T: Sendable>(
    _ timeout: Duration, _ what: String, _ body: @escaping @Sendable () async throws -> T
) throws -> T {
    let box = WaitBox<T>()
    let done = DispatchSemaphore(value: 0)
    let task = Task {
        let r: Result<T, any Error>
        do { r = .success(try await body()) } catch { r = .failure(error) }
        box.lock.withLock { box.result = r }
        done.signal()
    }
    let (seconds, atto) = timeout.components
    let nanos = Int(min(seconds, 86_400 * 365)) * 1_000_000_000 + Int(atto / 1_000_000_000)
    if done.wait(timeout: .now() + .nanoseconds(nanos)) == .timedOut {
        task.cancel()
        throw DatabaseError(
            .databaseUnavailable,
            "The master did not answer within \(timeout) (\(what)). The master is either down, or there are network "
                + "problems; retry.")
    }
    return try box.lock.withLock { box.result! }.get()
}

final class WaitBox<T>: @unchecked Sendable {
    var result: Result<T, any Error>?
    let lock = NSLock()
}

/// A WRITE transaction begun on a slave. Graph statements run on the master inside one forwarded transaction,
/// opened at the first such statement; `CALL dbms.…` statements describe or manage this instance (its role, its
/// routing table, its users and queries) and run locally. Commit returns once this slave has pulled the
/// master's commit, so the client reads its own write here.
final class ForwardingTransaction: EngineTransaction {
    let target: ForwardingTarget
    let local: CypherGraphEngine
    let security: SecurityContext
    let timeout: Duration?
    let metadata: [String: Value]
    var remote: UInt64?
    var localTx: EngineTransaction?
    let terminated = Atomic<Bool>(false)

    init(target: ForwardingTarget, local: CypherGraphEngine, security: SecurityContext, timeout: Duration?,
         metadata: [String: Value]) {
        self.target = target
        self.local = local
        self.security = security
        self.timeout = timeout
        self.metadata = metadata
    }

    /// Whether `query` only calls a `dbms.` procedure (instance management: run on this member).
    static func isInstanceProcedure(_ query: String) -> Bool {
        let words = query.split(whereSeparator: { $0.isWhitespace }).prefix(2)
        guard words.count == 2, words[0].uppercased() == "CALL" else { return false }
        return words[1].lowercased().hasPrefix("dbms.")
    }

    func checkTerminated() throws {
        if terminated.load(ordering: .acquiring) {
            throw DatabaseError(.transactionTerminated, "The transaction has been terminated.")
        }
    }

    func run(_ query: String, parameters: [String: Value]) throws -> EngineResult {
        try checkTerminated()
        if Self.isInstanceProcedure(query) {
            if localTx == nil {
                var readOnly = security
                readOnly.accessMode = .read
                localTx = try local.begin(security: readOnly, timeout: timeout, metadata: metadata)
            }
            return try localTx!.run(query, parameters: parameters)
        }
        let link = target.master
        let id: UInt64
        if let remote {
            id = remote
        } else {
            let (user, timeout, epoch) = (security.username, self.timeout, target.epoch)
            var tagged = self.metadata
            tagged[ForwardedTransactions.authorKey] = .integer(Int64(target.author))
            let metadata = tagged
            id = try waitFor(target.timeout, "begin") {
                try await link.forwardBegin(user: user, metadata: metadata, timeout: timeout, epoch: epoch)
            }
            remote = id
        }
        let result = try waitFor(target.timeout, "statement") {
            try await link.forwardRun(id, query: query, parameters: parameters)
        }
        return ForwardedEngineResult(result)
    }

    func commit() throws -> Int64 {
        try checkTerminated()
        if let localTx { _ = try localTx.commit() }
        guard let remote else { return local.lastCommittedTxID }
        let link = target.master
        let committed = try waitFor(target.timeout, "commit") { try await link.forwardCommit(remote) }
        self.remote = nil
        try target.catchUp(committed)
        return Int64(committed)
    }

    func rollback() {
        localTx?.rollback()
        localTx = nil
        guard let remote else { return }
        self.remote = nil
        let link = target.master
        // Best effort: a master that does not hear it reaps the transaction when idle.
        _ = try? waitFor(target.timeout, "rollback") { try await link.forwardRollback(remote) }
    }

    func terminate() {
        terminated.store(true, ordering: .releasing)
        localTx?.terminate()
    }
}

/// A statement result sent back by the master.
final class ForwardedEngineResult: EngineResult {
    let result: HAForwardedResult
    var index = 0

    init(_ result: HAForwardedResult) { self.result = result }

    var columns: [String] { result.keys }

    func next() throws -> [Value]? {
        guard index < result.rows.count else { return nil }
        defer { index += 1 }
        return result.rows[index]
    }

    func summary() -> ResultSummary {
        var s = ResultSummary()
        let c = result.statistics
        func n(_ key: String) -> Int { Int(c[key] ?? 0) }
        s.statistics.nodesCreated = n("nodes-created")
        s.statistics.nodesDeleted = n("nodes-deleted")
        s.statistics.relationshipsCreated = n("relationships-created")
        s.statistics.relationshipsDeleted = n("relationships-deleted")
        s.statistics.propertiesSet = n("properties-set")
        s.statistics.labelsAdded = n("labels-added")
        s.statistics.labelsRemoved = n("labels-removed")
        s.statistics.indexesAdded = n("indexes-added")
        s.statistics.indexesRemoved = n("indexes-removed")
        s.statistics.constraintsAdded = n("constraints-added")
        s.statistics.constraintsRemoved = n("constraints-removed")
        s.statistics.systemUpdates = n("system-updates")
        let schema = s.statistics.indexesAdded + s.statistics.indexesRemoved + s.statistics.constraintsAdded
            + s.statistics.constraintsRemoved > 0
        // The master does not send the query type; what changed tells writes from reads.
        s.queryType = schema ? .schemaWrite : (s.statistics.containsUpdates ? .readWrite : .readOnly)
        return s
    }
}
