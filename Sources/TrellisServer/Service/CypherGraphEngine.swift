import Cypher
import GraphKernel
import Synchronization
import GraphValues
import TrellisService

/// The kernel as the service needs it. `GraphDatabase` conforms (see `KernelAdapter.swift`); keeping this a
/// protocol lets the cluster work put a replicating database behind the same engine.
public protocol KernelDatabase: AnyObject, Sendable {
    func beginKernelTransaction(write: Bool, timeout: Duration?) throws -> any KernelTransactionHandle
    var lastCommittedTransaction: Int64 { get }
    /// Checkpoint and release the store.
    func closeDatabase() throws
}

/// A kernel transaction: the graph operations plus its lifecycle.
public protocol KernelTransactionHandle: GraphWriteOperations {
    /// Commits; returns the id the commit got in the transaction log, or nil when nothing was written.
    func commitTransaction() throws -> Int64?
    func rollbackTransaction()
    /// Rolls back an attempt the caller will run again another way; its time-out is not a termination.
    func rollbackAbandonedAttempt()
    /// From any thread.
    func terminateTransaction()
    /// Lock waits fail at once and a due checkpoint is left to the timer (`EngineTransaction.avoidWaiting`).
    func avoidWaiting()
}

extension KernelTransactionHandle {
    public func rollbackAbandonedAttempt() { rollbackTransaction() }
    public func avoidWaiting() {}
}

/// `GraphEngine` over a kernel database and the Cypher engine: each transaction is a kernel transaction
/// wrapped in `SecuredTransaction`, and each statement runs through `CypherEngine.execute`, streaming rows
/// from its lazy result.
///
/// The database can be replaced while the engine lives (`replaceDatabase`): an HA slave whose store diverged from
/// the master's closes it, moves it away and opens a copy of the master's, under the same service and procedures.
public final class CypherGraphEngine: GraphEngine, @unchecked Sendable {
    private let current: Mutex<any KernelDatabase>
    public let cypher: CypherEngine
    let importDirectory: String?

    public init(database: any KernelDatabase, cypher: CypherEngine, importDirectory: String?) {
        self.current = Mutex(database)
        self.cypher = cypher
        self.importDirectory = importDirectory
    }

    /// The database transactions begin on now.
    public var database: any KernelDatabase { current.withLock { $0 } }

    /// Closes the current database, then installs the one `reopen` returns (it may move or copy store files in
    /// between). The caller must have stopped new transactions and ended running ones first
    /// (`TrellisDatabaseService.replaceStore`). If `reopen` throws, the engine keeps the closed database, so
    /// every later transaction fails with DatabaseUnavailable until a later replacement succeeds.
    public func replaceDatabase(_ reopen: (any KernelDatabase) throws -> any KernelDatabase) throws {
        let old = database
        try old.closeDatabase()
        let new = try reopen(old)
        current.withLock { $0 = new }
    }

    public func begin(security: SecurityContext, timeout: Duration?, metadata: [String: Value]) throws
        -> EngineTransaction
    {
        let database = self.database
        let tx = try database.beginKernelTransaction(write: security.accessMode == .write, timeout: timeout)
        var options = ExecutionOptions(readOnly: security.accessMode == .read, importDirectory: importDirectory)
        options.username = security.username
        return CypherTransaction(
            engine: self, database: database, kernel: tx, secured: SecuredTransaction(tx, security: security),
            options: options)
    }

    public var lastCommittedTxID: Int64 { database.lastCommittedTransaction }

    public func isCachedBoundedRead(_ query: String) -> Bool { cypher.isCachedBoundedRead(query) }

    /// A local kernel commits without forwarding or pushing; an HA member's engine (`HAGraphEngine`) wraps this one
    /// and keeps the default (false), so writes there always take the worker.
    public func isCachedBoundedWrite(_ query: String) -> Bool { cypher.isCachedBoundedWrite(query) }

    public func shutdown() throws { try database.closeDatabase() }
}

final class CypherTransaction: EngineTransaction {
    let engine: CypherGraphEngine
    let database: any KernelDatabase
    let kernel: any KernelTransactionHandle
    let secured: SecuredTransaction
    let options: ExecutionOptions

    init(engine: CypherGraphEngine, database: any KernelDatabase, kernel: any KernelTransactionHandle,
         secured: SecuredTransaction, options: ExecutionOptions) {
        self.engine = engine
        self.database = database
        self.kernel = kernel
        self.secured = secured
        self.options = options
    }

    func run(_ query: String, parameters: [String: Value]) throws -> EngineResult {
        let result = try engine.cypher.execute(query, parameters: parameters, transaction: secured, options: options)
        return CypherEngineResult(result, profile: CypherEngineResult.isProfile(query))
    }

    func commit() throws -> Int64 {
        if let id = try kernel.commitTransaction() { return id }
        // Nothing written: the bookmark names what was committed when this transaction ended, which covers
        // everything it can have read.
        return database.lastCommittedTransaction
    }

    func rollback() { kernel.rollbackTransaction() }
    func rollbackAbandonedAttempt() { kernel.rollbackAbandonedAttempt() }
    func terminate() { kernel.terminateTransaction() }
    func avoidWaiting() { kernel.avoidWaiting() }
}

final class CypherEngineResult: EngineResult {
    let result: CypherResult
    let profile: Bool

    init(_ result: CypherResult, profile: Bool) {
        self.result = result
        self.profile = profile
    }

    /// Whether the statement starts with PROFILE (ASCII case-insensitive after leading whitespace). Runs for
    /// every statement, so it looks at UTF-8 bytes instead of building an uppercased copy.
    static func isProfile(_ query: String) -> Bool {
        var bytes = query.utf8.makeIterator()
        var b: UInt8? = bytes.next()
        while let c = b, c == 0x20 || (0x09...0x0D).contains(c) { b = bytes.next() }
        for expected in profileKeyword {
            guard let c = b, c | 0x20 == expected else { return false }
            b = bytes.next()
        }
        return true
    }

    static let profileKeyword = Array("profile".utf8)

    var columns: [String] { result.columns }
    func next() throws -> [Value]? { try result.next() }

    func summary() -> ResultSummary {
        var s = ResultSummary()
        s.statistics = result.statistics
        switch result.queryType {
        case .read: s.queryType = .readOnly
        case .write: s.queryType = .writeOnly
        case .readWrite: s.queryType = .readWrite
        case .schema: s.queryType = .schemaWrite
        }
        s.notifications = result.notifications.map {
            Notification(code: $0.code, title: $0.title, description: $0.description, severity: $0.severity)
        }
        if let plan = result.plan {
            if profile { s.profile = Self.describe(plan) } else { s.plan = Self.describe(plan) }
        }
        return s
    }

    static func describe(_ p: PlanNode) -> PlanDescription {
        var arguments = p.arguments
        arguments["EstimatedRows"] = .float(p.estimatedRows)
        return PlanDescription(
            operatorType: p.operatorType, identifiers: p.identifiers, arguments: arguments,
            children: p.children.map(describe), rows: p.rows.map(Int64.init), dbHits: p.dbHits.map(Int64.init))
    }
}
