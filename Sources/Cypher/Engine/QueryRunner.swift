import Foundation
import GraphKernel
import GraphValues

/// A bounded cache of planned statements keyed by query text.
final class PlanCache: @unchecked Sendable {
    private let lock = NSLock()
    private var entries: [String: CachedPlan] = [:]
    private var order: [String] = []
    let capacity: Int

    init(capacity: Int) { self.capacity = max(1, capacity) }

    func get(_ query: String) -> CachedPlan? {
        lock.lock()
        defer { lock.unlock() }
        return entries[query]
    }

    func put(_ query: String, _ plan: CachedPlan) {
        lock.lock()
        defer { lock.unlock() }
        if entries[query] == nil {
            order.append(query)
            if order.count > capacity {
                let evicted = order.removeFirst()
                entries[evicted] = nil
            }
        }
        entries[query] = plan
    }

    func clear() {
        lock.lock()
        defer { lock.unlock() }
        entries.removeAll()
        order.removeAll()
    }

    var count: Int {
        lock.lock()
        defer { lock.unlock() }
        return entries.count
    }
}

/// A parsed statement and, once planned, its plan for the schema it was planned against.
final class CachedPlan: @unchecked Sendable {
    let statement: Statement
    let planned: PlannedQuery?
    /// Index names and states the plan was made with: a different schema means re-planning.
    let schemaSignature: SchemaSignature
    /// `ProcedureRegistry.generation` when the statement was checked: a procedure (re-)registered since then
    /// means checking and planning again (its signature or mode may have changed).
    let procedureGeneration: Int

    /// A normal (not EXPLAIN/PROFILE) read-only plan without procedure calls or LOAD CSV
    /// (`CypherEngine.isCachedBoundedRead`).
    let boundedRead: Bool
    /// A normal plan that writes the graph (not the schema) without procedure calls or LOAD CSV
    /// (`CypherEngine.isCachedBoundedWrite`).
    let boundedWrite: Bool

    init(statement: Statement, planned: PlannedQuery?, schemaSignature: SchemaSignature, procedureGeneration: Int) {
        self.statement = statement
        self.planned = planned
        self.schemaSignature = schemaSignature
        self.procedureGeneration = procedureGeneration
        if let planned, statement.mode == .normal, planned.queryType == .read, !planned.writes {
            boundedRead = Self.onlyGraphReads(planned.root)
            boundedWrite = false
        } else if let planned, statement.mode == .normal, planned.queryType != .schema, planned.writes {
            boundedRead = false
            boundedWrite = Self.onlyGraphReads(planned.root)
        } else {
            boundedRead = false
            boundedWrite = false
        }
    }

    private static func onlyGraphReads(_ plan: LogicalPlan) -> Bool {
        if plan.name == "ProcedureCall" || plan.name == "LoadCSV" { return false }
        if let source = plan.source, !onlyGraphReads(source) { return false }
        if let variant = plan.pruning?.variant, !onlyGraphReads(variant) { return false }
        return plan.inner.allSatisfy(onlyGraphReads)
    }
}

/// The indexes (name, online or not) a plan was made with, in the order the transaction lists them.
///
/// Compared element by element on every statement, so it is built without formatting or sorting strings (a
/// sorted, joined string per statement cost ~3 % of a point query's server CPU). An unchanged schema lists its
/// indexes in the same order; a different order only costs a re-plan.
struct SchemaSignature: Equatable {
    var names: [String]
    var online: [Bool]

    init(_ indexes: [IndexDescriptor]) {
        names = indexes.map(\.name)
        online = indexes.map { $0.state == .online }
    }
}

/// Runs one statement: cache lookup, planning, result construction.
struct QueryRunner {
    let engine: CypherEngine
    let query: String
    let parameters: [String: Value]
    let transaction: any GraphWriteOperations
    let options: ExecutionOptions

    private func schemaSignature() throws -> SchemaSignature {
        SchemaSignature(try transaction.indexes())
    }

    func run() throws -> CypherResult {
        let signature = try schemaSignature()
        let generation = engine.procedures.generation
        var statement: Statement
        var planned: PlannedQuery?
        if let cached = engine.planCache.get(query), cached.procedureGeneration == generation {
            statement = cached.statement
            if cached.schemaSignature == signature { planned = cached.planned }
        } else {
            statement = try SemanticAnalyzer.analyze(try CypherParser.parse(query), procedures: engine.procedures)
        }
        let ctx = ExecutionContext(tx: transaction, parameters: parameters, options: options,
                                   registry: engine.procedures, engine: engine)
        switch statement.kind {
        case .schema(let command):
            engine.planCache.put(query, CachedPlan(statement: statement, planned: nil, schemaSignature: signature,
                                                          procedureGeneration: generation))
            if options.readOnly {
                throw DatabaseError(.accessMode, "Schema operations are not allowed for read-only transactions")
            }
            if statement.mode == .explain {
                return CypherResult(columns: [], queryType: .schema, notifications: [], pipeline: nil,
                                    counters: ctx.stats, plan: nil)
            }
            let (columns, rows) = try SchemaCommands.run(command, ctx: ctx)
            let isShow: Bool = { if case .show = command { return true } else { return false } }()
            return CypherResult(columns: columns, queryType: isShow ? .read : .schema, notifications: [],
                                pipeline: rows.isEmpty && columns.isEmpty ? nil : ListSource(rows), counters: ctx.stats,
                                plan: nil)
        case .query(let q):
            if planned == nil {
                let planner = QueryPlanner(tx: transaction, registry: engine.procedures)
                planned = try planner.plan(q)
                engine.planCache.put(query, CachedPlan(statement: statement, planned: planned,
                                                       schemaSignature: signature, procedureGeneration: generation))
            }
            let plan = planned!
            let missing = plan.parameterNames.filter { parameters[$0] == nil }.sorted()
            if !missing.isEmpty && statement.mode != .explain {
                throw DatabaseError(.parameterMissing, "Expected parameter(s): \(missing.joined(separator: ", "))")
            }
            if options.readOnly && plan.writes {
                throw DatabaseError(.accessMode, "Write operations are not allowed for read-only transactions")
            }
            let notifications: [CypherNotification] = []
            switch statement.mode {
            case .explain:
                let root = plan.root
                return CypherResult(columns: plan.columns, queryType: plan.queryType, notifications: notifications,
                                    pipeline: nil, counters: ctx.stats, plan: { Self.decorate(root.describe(profile: nil)) })
            case .profile, .normal:
                let op = try plan.root.instantiate(ctx, argument: Row(repeating: .null, count: plan.width))
                let root = plan.root
                let planBuilder: (() -> PlanNode)? = statement.mode == .profile
                    ? { Self.decorate(root.describe(profile: ctx)) } : nil
                return CypherResult(columns: plan.columns, queryType: plan.queryType, notifications: notifications,
                                    pipeline: PipelineSource(op), counters: ctx.stats, plan: planBuilder)
            }
        }
    }

    /// Root-level arguments Neo4j reports with every plan.
    static func decorate(_ node: PlanNode) -> PlanNode {
        var n = node
        n.arguments["planner"] = .string("COST")
        n.arguments["planner-impl"] = .string("IDP")
        n.arguments["runtime"] = .string("SLOTTED")
        n.arguments["runtime-impl"] = .string("SLOTTED")
        n.arguments["version"] = .string("CYPHER 3.5")
        return n
    }
}

/// Rows already computed (SHOW commands).
final class ListSource: RowSource {
    private var rows: [[Value]]
    private var index = 0
    init(_ rows: [[Value]]) { self.rows = rows }
    func next() throws -> [Value]? {
        guard index < rows.count else { return nil }
        defer { index += 1 }
        return rows[index]
    }
}
