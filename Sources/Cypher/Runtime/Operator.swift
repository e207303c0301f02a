import GraphKernel
import GraphValues

/// A row of slots: one value per variable (or hidden intermediate) of the query, indexed by slot number.
typealias Row = [Value]

/// A compiled expression: evaluates against a row.
typealias Eval = (Row, ExecutionContext) throws -> Value

/// Rows produced and kernel accesses made by one logical operator during one execution (PROFILE).
final class ProfileCounter {
    // Unchecked: bumped once per row by the one thread running the execution; a dynamic exclusivity check would
    // cost more than the increment.
    @exclusivity(unchecked) var rows = 0
    @exclusivity(unchecked) var dbHits = 0
}

/// A physical, pull-based operator (Volcano-style): `next()` returns the next row or nil at the end.
class Op {
    let counter: ProfileCounter

    init(counter: ProfileCounter) { self.counter = counter }

    /// The next row, counted for PROFILE.
    @inline(__always)
    final func next() throws -> Row? {
        guard let r = try produce() else { return nil }
        counter.rows += 1
        return r
    }

    /// Subclasses produce rows here.
    func produce() throws -> Row? { nil }
}

/// A node of the logical plan: what EXPLAIN shows, and a factory for the physical operator.
///
/// Plans are immutable after planning and may be cached and shared between executions (the factories capture
/// only compiled expressions and slot numbers, never a transaction).
final class LogicalPlan: @unchecked Sendable {
    let name: String
    let details: String
    let identifiers: [String]
    let estimatedRows: Double
    let source: LogicalPlan?
    /// Sub-plans shown as further children (the right side of an Apply, UNION branches, …).
    let inner: [LogicalPlan]
    /// Creates the operator given the instantiated source and the argument row (the outer row for sub-plans).
    let build: (ExecutionContext, Op?, Row, ProfileCounter) throws -> Op
    /// Set on a `NodeByLabelScan` leaf (variable, label, slot) so an aggregation directly above can read the scan
    /// itself instead of pulling rows through it (see `AggregationOp`'s fused scan).
    var labelScan: (variable: String, label: String, slot: Int)?
    /// Set on a `VarLengthExpand(All)` that may be replaced by `variant`, a `VarLengthExpand(Pruning)` producing
    /// each end node once, when what consumes it sees neither row multiplicity nor `relVariable` (see
    /// `PruningVarExpandOp`).
    var pruning: (relVariable: String, variant: LogicalPlan)?

    init(_ name: String, details: String = "", identifiers: [String] = [], estimatedRows: Double,
         source: LogicalPlan?, inner: [LogicalPlan] = [],
         build: @escaping (ExecutionContext, Op?, Row, ProfileCounter) throws -> Op) {
        self.name = name
        self.details = details
        self.identifiers = identifiers
        self.estimatedRows = estimatedRows
        self.source = source
        self.inner = inner
        self.build = build
    }

    func instantiate(_ ctx: ExecutionContext, argument: Row) throws -> Op {
        let src = try source?.instantiate(ctx, argument: argument)
        return try build(ctx, src, argument, ctx.counter(for: self))
    }

    /// The plan as the public `PlanNode` tree; with `profile`, rows and db hits from `ctx`.
    func describe(profile: ExecutionContext?) -> PlanNode {
        var args: [String: Value] = ["EstimatedRows": .float(estimatedRows)]
        if !details.isEmpty { args["Details"] = .string(details) }
        var children: [PlanNode] = []
        if let source { children.append(source.describe(profile: profile)) }
        children += inner.map { $0.describe(profile: profile) }
        var node = PlanNode(operatorType: name, identifiers: identifiers.filter { !$0.hasPrefix(" ") }.sorted(),
                            arguments: args, estimatedRows: estimatedRows, children: children)
        if let profile {
            let c = profile.counter(for: self)
            node.rows = c.rows
            node.dbHits = c.dbHits
            node.arguments["Rows"] = .integer(Int64(c.rows))
            node.arguments["DbHits"] = .integer(Int64(c.dbHits))
        }
        return node
    }
}

// MARK: - Basic operators

/// Yields the argument row once (the leaf of every pipeline).
final class ArgumentOp: Op {
    private var row: Row?
    init(_ row: Row, counter: ProfileCounter) {
        self.row = row
        super.init(counter: counter)
    }
    override func produce() throws -> Row? {
        defer { row = nil }
        return row
    }
}

/// For each input row, binds `slot` to each node an iterator yields (scans and seeks).
final class NodeSourceOp: Op {
    private let source: Op
    private let slot: Int
    private let ctx: ExecutionContext
    private let makeIterator: (Row, ExecutionContext) throws -> AnyIterator<NodeID>
    private var current: Row?
    private var it: AnyIterator<NodeID>?

    init(source: Op, slot: Int, ctx: ExecutionContext, counter: ProfileCounter,
         makeIterator: @escaping (Row, ExecutionContext) throws -> AnyIterator<NodeID>) {
        self.source = source
        self.slot = slot
        self.ctx = ctx
        self.makeIterator = makeIterator
        super.init(counter: counter)
    }

    override func produce() throws -> Row? {
        while true {
            if let it, current != nil {
                if let id = it.next() {
                    counter.dbHits += 1
                    // Mutating the kept row in place: when the consumer has dropped the previous row, the
                    // buffer is uniquely referenced and no copy is made.
                    current![slot] = ctx.nodeRef(id)
                    return current
                }
                // Kernel scan iterators just end when the transaction times out or is terminated: a scan cut
                // short must fail rather than look complete.
                try ctx.tx.checkUsable()
                self.it = nil
                current = nil
            }
            guard let row = try source.next() else { return nil }
            current = row
            ctx.hits = counter
            it = try makeIterator(row, ctx)
        }
    }
}

/// `NodeSourceOp` for sources that fill a buffer per input row (an index equality seek): the buffer is reused,
/// so an input row costs no iterator or closure context.
final class NodeBufferSourceOp: Op {
    private let source: Op
    private let slot: Int
    private let ctx: ExecutionContext
    private let fill: (Row, ExecutionContext, inout [NodeID]) throws -> Void
    private var current: Row?
    private var buffer: [NodeID] = []
    private var position = 0

    init(source: Op, slot: Int, ctx: ExecutionContext, counter: ProfileCounter,
         fill: @escaping (Row, ExecutionContext, inout [NodeID]) throws -> Void) {
        self.source = source
        self.slot = slot
        self.ctx = ctx
        self.fill = fill
        super.init(counter: counter)
    }

    override func produce() throws -> Row? {
        while true {
            if current != nil {
                if position < buffer.count {
                    let id = buffer[position]
                    position += 1
                    counter.dbHits += 1
                    // In place, as NodeSourceOp: no copy when the consumer dropped the previous row.
                    current![slot] = ctx.nodeRef(id)
                    return current
                }
                current = nil
            }
            guard let row = try source.next() else { return nil }
            ctx.hits = counter
            try fill(row, ctx, &buffer)
            position = 0
            current = row
        }
    }
}

/// Keeps rows whose predicate is true.
final class FilterOp: Op {
    private let source: Op
    private let predicate: Eval
    private let ctx: ExecutionContext

    init(source: Op, predicate: @escaping Eval, ctx: ExecutionContext, counter: ProfileCounter) {
        self.source = source
        self.predicate = predicate
        self.ctx = ctx
        super.init(counter: counter)
    }

    override func produce() throws -> Row? {
        while let row = try source.next() {
            ctx.hits = counter
            if try Semantics.truth(predicate(row, ctx)) == true { return row }
        }
        return nil
    }
}

/// Evaluates expressions into slots (all evaluated against the incoming row, then written).
final class ProjectOp: Op {
    private let source: Op
    private let items: [(Int, Eval)]
    private let ctx: ExecutionContext
    private let clear: [Int]

    init(source: Op, items: [(Int, Eval)], clear: [Int] = [], ctx: ExecutionContext, counter: ProfileCounter) {
        self.source = source
        self.items = items
        self.ctx = ctx
        self.clear = clear
        super.init(counter: counter)
    }

    override func produce() throws -> Row? {
        guard var row = try source.next() else { return nil }
        ctx.hits = counter
        if items.count == 1 {
            let v = try items[0].1(row, ctx)
            row[items[0].0] = v
        } else {
            var values: [Value] = []
            values.reserveCapacity(items.count)
            for (_, e) in items { values.append(try e(row, ctx)) }
            for (i, (slot, _)) in items.enumerated() { row[slot] = values[i] }
        }
        for s in clear { row[s] = .null }
        return row
    }
}

/// Passes rows through once a slot set is new (DISTINCT).
final class DistinctOp: Op {
    private let source: Op
    private let slots: [Int]
    private var seen = Set<GroupingKeys>()

    init(source: Op, slots: [Int], counter: ProfileCounter) {
        self.source = source
        self.slots = slots
        super.init(counter: counter)
    }

    override func produce() throws -> Row? {
        while let row = try source.next() {
            if seen.insert(GroupingKeys(values: slots.map { row[$0] })).inserted { return row }
        }
        return nil
    }
}

/// Skips the first n rows.
final class SkipOp: Op {
    private let source: Op
    private var remaining: Int64

    init(source: Op, count: Int64, counter: ProfileCounter) {
        self.source = source
        self.remaining = count
        super.init(counter: counter)
    }

    override func produce() throws -> Row? {
        while remaining > 0 {
            guard try source.next() != nil else { return nil }
            remaining -= 1
        }
        return try source.next()
    }
}

/// Stops after n rows, without pulling more from its source.
final class LimitOp: Op {
    private let source: Op
    private var remaining: Int64
    private var drainFirst: Bool

    /// `drainFirst`: pull once even for LIMIT 0 so the Eager below runs the statement's updates.
    init(source: Op, count: Int64, drainFirst: Bool = false, counter: ProfileCounter) {
        self.source = source
        self.remaining = count
        self.drainFirst = drainFirst
        super.init(counter: counter)
    }

    override func produce() throws -> Row? {
        if drainFirst && remaining == 0 {
            drainFirst = false
            _ = try source.next()
        }
        guard remaining > 0 else { return nil }
        remaining -= 1
        return try source.next()
    }
}

/// Buffers all input before producing (a barrier between writes and later reads, as Neo4j's Eager).
final class EagerOp: Op {
    private let source: Op
    private var buffer: [Row]?
    private var index = 0
    private let limit: Int

    init(source: Op, limit: Int, counter: ProfileCounter) {
        self.source = source
        self.limit = limit
        super.init(counter: counter)
    }

    override func produce() throws -> Row? {
        if buffer == nil {
            var b: [Row] = []
            while let r = try source.next() {
                b.append(r)
                if b.count > limit {
                    throw DatabaseError(.outOfMemory, "Eager buffer exceeded \(limit) rows")
                }
            }
            buffer = b
        }
        guard index < buffer!.count else { return nil }
        defer { index += 1 }
        return buffer![index]
    }
}

/// Sorts all input rows (stable), optionally keeping only the first `limit` (Top).
final class SortOp: Op {
    private let source: Op
    private let keys: [(Eval, Bool)]
    private let ctx: ExecutionContext
    private let limit: Int64?
    private var sorted: [Row]?
    private var index = 0

    init(source: Op, keys: [(Eval, Bool)], limit: Int64?, ctx: ExecutionContext, counter: ProfileCounter) {
        self.source = source
        self.keys = keys
        self.limit = limit
        self.ctx = ctx
        super.init(counter: counter)
    }

    override func produce() throws -> Row? {
        if sorted == nil {
            var entries: [([Value], Int, Row)] = []
            var n = 0
            while let r = try source.next() {
                ctx.hits = counter
                entries.append((try keys.map { try $0.0(r, ctx) }, n, r))
                n += 1
            }
            let asc = keys.map(\.1)
            let less: (([Value], Int, Row), ([Value], Int, Row)) -> Bool = { a, b in
                for i in 0..<asc.count {
                    let c = Semantics.orderCompare(a.0[i], b.0[i])
                    if c != 0 { return asc[i] ? c < 0 : c > 0 }
                }
                return a.1 < b.1
            }
            if let limit, limit < entries.count {
                // Top: a partial selection would be better for tiny limits; sorting keeps it simple and stable.
                entries.sort(by: less)
                entries.removeSubrange(Int(max(0, limit))...)
            } else {
                entries.sort(by: less)
            }
            sorted = entries.map(\.2)
        }
        guard index < sorted!.count else { return nil }
        defer { index += 1 }
        return sorted![index]
    }
}

/// Binds `slot` to each element of a list (a non-list value is a one-element list; null none).
final class UnwindOp: Op {
    private let source: Op
    private let list: Eval
    private let slot: Int
    private let ctx: ExecutionContext
    private var current: Row?
    private var items: [Value] = []
    private var lazyRange: RangeSequence?
    private var index = 0
    /// Arguments of `range(…)` when the list is a range: it is then stepped lazily, never materialised.
    private let rangeArguments: [Eval]?

    init(source: Op, list: @escaping Eval, rangeArguments: [Eval]? = nil, slot: Int, ctx: ExecutionContext,
         counter: ProfileCounter) {
        self.source = source
        self.list = list
        self.rangeArguments = rangeArguments
        self.slot = slot
        self.ctx = ctx
        super.init(counter: counter)
    }

    private func startRange(_ row: Row, _ args: [Eval]) throws -> RangeSequence {
        var ints: [Int64] = []
        for a in args {
            guard case .integer(let i) = try a(row, ctx) else {
                throw DatabaseError(.argumentError, "range() requires integer arguments")
            }
            ints.append(i)
        }
        let step = ints.count > 2 ? ints[2] : 1
        if step == 0 { throw DatabaseError(.argumentError, "Step argument to range() can't be 0") }
        return RangeSequence(lo: ints[0], hi: ints[1], step: step)
    }

    override func produce() throws -> Row? {
        try ctx.tick()
        while true {
            if current != nil, lazyRange != nil {
                if let i = lazyRange!.next() {
                    current![slot] = .integer(i)
                    return current
                }
                lazyRange = nil
                current = nil
            }
            if current != nil {
                if index < items.count {
                    current![slot] = items[index]
                    index += 1
                    return current
                }
                current = nil
            }
            guard let row = try source.next() else { return nil }
            if let rangeArguments {
                lazyRange = try startRange(row, rangeArguments)
                current = row
                continue
            }
            ctx.hits = counter
            switch try list(row, ctx) {
            case .list(let l): items = l
            case .null: items = []
            case let v: items = [v]
            }
            index = 0
            current = row
        }
    }
}

/// For each input row, runs the inner plan with the row as argument; rows of the inner plan are passed on, or,
/// when it yields none, the input row with `nullSlots` set to null (OPTIONAL MATCH).
final class OptionalApplyOp: Op {
    private let source: Op
    private let inner: LogicalPlan
    private let nullSlots: [Int]
    private let ctx: ExecutionContext
    private let optional: Bool
    private var current: Op?
    private var producedForCurrent = false
    private var currentRow: Row?

    init(source: Op, inner: LogicalPlan, nullSlots: [Int], optional: Bool, ctx: ExecutionContext,
         counter: ProfileCounter) {
        self.source = source
        self.inner = inner
        self.nullSlots = nullSlots
        self.optional = optional
        self.ctx = ctx
        super.init(counter: counter)
    }

    override func produce() throws -> Row? {
        while true {
            if let op = current {
                if let r = try op.next() {
                    producedForCurrent = true
                    return r
                }
                current = nil
                if optional && !producedForCurrent, var row = currentRow {
                    for s in nullSlots { row[s] = .null }
                    return row
                }
            }
            guard let row = try source.next() else { return nil }
            currentRow = row
            producedForCurrent = false
            current = try inner.instantiate(ctx, argument: row)
        }
    }
}

/// Produces the output columns with entities fully materialised.
final class ProduceResultsOp: Op, RowSource {
    private let source: Op
    private let slots: [Int]
    private let ctx: ExecutionContext

    init(source: Op, slots: [Int], ctx: ExecutionContext, counter: ProfileCounter) {
        self.source = source
        self.slots = slots
        self.ctx = ctx
        super.init(counter: counter)
    }

    override func produce() throws -> Row? {
        guard let row = try source.next() else { return nil }
        var out: [Value] = []
        out.reserveCapacity(slots.count)
        for s in slots { out.append(try ctx.materializeResult(row[s])) }
        return out
    }
}

/// Runs the source to completion, producing nothing (statements without RETURN).
final class EmptyResultOp: Op {
    private let source: Op
    init(source: Op, counter: ProfileCounter) {
        self.source = source
        super.init(counter: counter)
    }
    override func produce() throws -> Row? {
        while try source.next() != nil {}
        return nil
    }
}

/// Rows of each branch in turn (UNION ALL), or their distinct rows (UNION).
final class UnionOp: Op {
    private let branches: [LogicalPlan]
    private let ctx: ExecutionContext
    private let distinct: Bool
    private var index = 0
    private var current: Op?
    private var seen = Set<GroupingKeys>()
    private let argument: Row

    init(branches: [LogicalPlan], distinct: Bool, argument: Row, ctx: ExecutionContext, counter: ProfileCounter) {
        self.branches = branches
        self.distinct = distinct
        self.ctx = ctx
        self.argument = argument
        super.init(counter: counter)
    }

    override func produce() throws -> Row? {
        while true {
            if let op = current {
                while let r = try op.next() {
                    if !distinct || seen.insert(GroupingKeys(values: r)).inserted { return r }
                }
                current = nil
            }
            guard index < branches.count else { return nil }
            current = try branches[index].instantiate(ctx, argument: argument)
            index += 1
        }
    }
}

/// Adapts an operator to a result's row source.
final class PipelineSource: RowSource {
    let op: Op
    init(_ op: Op) { self.op = op }
    func next() throws -> [Value]? { try op.next() }
}
