import Foundation
import GraphKernel
import GraphValues

// MARK: - Engine

/// Plans and runs Cypher statements over a kernel transaction.
///
/// The engine is stateless apart from its plan cache and procedure registry, so one instance serves every session
/// of a database. `execute` parses (or takes the parsed statement from the cache keyed by query text), plans, and
/// returns a lazy `CypherResult`: rows are produced only as the caller pulls them.
public final class CypherEngine: @unchecked Sendable {
    private let registry: ProcedureRegistry
    let planCache: PlanCache

    /// Creates an engine; `procedures` holds the built-ins plus whatever other modules register.
    public init(procedures: ProcedureRegistry = .standard(), planCacheSize: Int = 1000) {
        self.registry = procedures
        self.planCache = PlanCache(capacity: planCacheSize)
    }

    /// The procedures `CALL` can reach.
    public var procedures: ProcedureRegistry { registry }

    /// Parses (with a plan cache keyed by query text), plans and starts executing lazily.
    ///
    /// Errors found before execution (syntax, semantics, missing parameters) are thrown here; errors raised while
    /// producing rows are thrown by `CypherResult.next()`. Writes go through `transaction`.
    public func execute(
        _ query: String, parameters: [String: Value], transaction: any GraphWriteOperations,
        options: ExecutionOptions = .init()
    ) throws -> CypherResult {
        try QueryRunner(engine: self, query: query, parameters: parameters, transaction: transaction,
                        options: options).run()
    }

    /// Whether `query` is a planned read-only statement in the plan cache whose plan neither calls a procedure nor
    /// loads a file: the only operators left read the graph and compute, and every one of them checks the
    /// transaction's deadline as it goes (kernel reads, `ExecutionContext.tick`). A server may then run it where
    /// it must not block (Bolt's event loop) inside a short time budget, and fall back to its worker otherwise.
    /// Procedures (`db.awaitIndexes` waits) and `LOAD CSV` (file or network I/O) can block, so never qualify;
    /// neither does a statement not yet planned (planning is not bounded by the budget).
    public func isCachedBoundedRead(_ query: String) -> Bool {
        guard let cached = planCache.get(query), cached.procedureGeneration == registry.generation else {
            return false
        }
        return cached.boundedRead
    }

    /// Whether `query` is a planned statement in the plan cache that writes nodes, relationships or properties
    /// (not the schema) and neither calls a procedure nor loads a file: like `isCachedBoundedRead`, every operator
    /// checks the transaction's deadline as it goes, so a short time-out bounds its work up to the commit. What
    /// the commit then waits for (locks, the log's sync) is the caller's to bound.
    public func isCachedBoundedWrite(_ query: String) -> Bool {
        guard let cached = planCache.get(query), cached.procedureGeneration == registry.generation else {
            return false
        }
        return cached.boundedWrite
    }

    /// Drops every cached plan (`dbms.clearQueryCaches()`).
    public func clearPlanCache() { planCache.clear() }
}

/// Per-statement settings given by the caller (session, server configuration).
public struct ExecutionOptions: Sendable {
    /// Reject statements that write (a read transaction, a slave's read-only session): `AccessMode` error.
    public var readOnly: Bool = false
    /// Directory `LOAD CSV FROM 'file:///…'` reads from; nil disables file URLs.
    public var importDirectory: String? = nil
    /// Statement time (nanoseconds since the epoch) for `date()`, `timestamp()`, …; nil means "now".
    public var statementTimeEpochNanos: Int64? = nil
    /// The default time zone for temporal functions (`db.temporal.timezone`).
    public var defaultTimeZone: String = "Z"
    /// The user running the statement (shown to procedures; "" when auth is disabled).
    public var username: String = ""
    /// Upper bound on rows a single eager operator may buffer before failing with OutOfMemoryError.
    public var maxEagerRows: Int = 50_000_000

    public init(readOnly: Bool = false, importDirectory: String? = nil) {
        self.readOnly = readOnly
        self.importDirectory = importDirectory
    }
}

// MARK: - Result

/// What kind of statement ran, as Bolt's `type` summary field reports it ("r", "w", "rw", "s").
public enum CypherQueryType: String, Sendable, Hashable {
    case read = "r"
    case write = "w"
    case readWrite = "rw"
    case schema = "s"
}

/// Update counters of one statement: the shared `QueryStatistics`, under the name Cypher code has used.
public typealias CypherStatistics = QueryStatistics

/// One operator of an EXPLAIN/PROFILE plan, in Neo4j's vocabulary (`NodeIndexSeek`, `Expand(All)`, …).
public struct PlanNode: Sendable, Hashable {
    public var operatorType: String
    public var identifiers: [String]
    /// Operator details: `EstimatedRows`, `Details`/`ExpandExpression`, `runtime`, `planner`, `version`, ….
    public var arguments: [String: Value]
    public var estimatedRows: Double
    /// PROFILE only: rows the operator produced.
    public var rows: Int?
    /// PROFILE only: kernel accesses the operator made.
    public var dbHits: Int?
    public var children: [PlanNode]

    public init(
        operatorType: String, identifiers: [String], arguments: [String: Value], estimatedRows: Double,
        rows: Int? = nil, dbHits: Int? = nil, children: [PlanNode] = []
    ) {
        self.operatorType = operatorType
        self.identifiers = identifiers
        self.arguments = arguments
        self.estimatedRows = estimatedRows
        self.rows = rows
        self.dbHits = dbHits
        self.children = children
    }
}

/// A notification attached to a result (Neo4j's `notifications` summary field).
public struct CypherNotification: Sendable, Hashable {
    public var code: String
    public var title: String
    public var description: String
    public var severity: String
    /// Position in the query text, when the notification refers to one.
    public var offset: Int?
    public var line: Int?
    public var column: Int?

    public init(code: String, title: String, description: String, severity: String = "WARNING",
                offset: Int? = nil, line: Int? = nil, column: Int? = nil) {
        self.code = code
        self.title = title
        self.description = description
        self.severity = severity
        self.offset = offset
        self.line = line
        self.column = column
    }
}

/// The lazily produced result of one statement.
///
/// `next()` pulls one row through the operator pipeline; only eager operators (aggregation, sort, and the
/// barrier between a write and later reads of the same data) buffer. Not thread-safe: one consumer at a time,
/// on the transaction's thread.
public final class CypherResult {
    /// Column names, in RETURN order.
    public let columns: [String]
    /// The kind of statement, fixed at planning time.
    public let queryType: CypherQueryType
    /// Notifications produced while planning.
    public let notifications: [CypherNotification]
    let pipeline: RowSource?
    let counters: StatisticsBox
    let planBuilder: (() -> PlanNode)?
    private var exhausted = false

    init(columns: [String], queryType: CypherQueryType, notifications: [CypherNotification], pipeline: RowSource?,
         counters: StatisticsBox, plan: (() -> PlanNode)?) {
        self.columns = columns
        self.queryType = queryType
        self.notifications = notifications
        self.pipeline = pipeline
        self.counters = counters
        self.planBuilder = plan
        if pipeline == nil { exhausted = true }
    }

    /// The next row (one value per column, entities fully materialised), or nil at the end.
    public func next() throws -> [Value]? {
        guard !exhausted, let pipeline else { return nil }
        do {
            if let row = try pipeline.next() { return row }
        } catch {
            exhausted = true
            throw error
        }
        exhausted = true
        return nil
    }

    /// Runs the statement to completion (all side effects happen), discarding remaining rows.
    public func consume() throws {
        while try next() != nil {}
    }

    /// All remaining rows (convenience for tests and small results).
    public func all() throws -> [[Value]] {
        var rows: [[Value]] = []
        while let r = try next() { rows.append(r) }
        return rows
    }

    /// Update counters so far (complete once the result is exhausted).
    public var statistics: CypherStatistics { counters.stats }

    /// The plan for EXPLAIN and PROFILE (with rows and db hits for PROFILE once consumed); nil otherwise.
    public var plan: PlanNode? { planBuilder?() }
}

/// Shared mutable counters: operators bump them while the consumer pulls.
final class StatisticsBox {
    var stats = CypherStatistics()
}

/// What a result pulls rows from.
protocol RowSource: AnyObject {
    func next() throws -> [Value]?
}
