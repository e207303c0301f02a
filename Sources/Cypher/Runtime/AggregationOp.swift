import GraphKernel
import GraphValues

/// One aggregate of an aggregation: the function, DISTINCT, its compiled arguments and its output slot.
struct AggregateSpec {
    let name: String
    let distinct: Bool
    let arguments: [Eval]
    let slot: Int
    /// The slot of the single argument when it is a plain variable (`count(DISTINCT x)`), else nil: lets the
    /// aggregation see that it counts the end node of the expansion below (`CountableExpansion`).
    var argumentSlot: Int? = nil
}

/// An aggregation reading a label scan directly: every grouping key and aggregate argument is a property of the
/// scanned node (`MATCH (p:Person) RETURN p.city, count(*), avg(p.age)`).
struct FusedLabelScan {
    let label: String
    /// The property keys read per node, once each.
    let keys: [String]
    /// For each grouping key, its index in `keys`.
    let keyIndexes: [Int]
    /// For each aggregate, the index in `keys` of its argument (nil for `count(*)`).
    let argumentIndexes: [Int?]
    /// The plans whose PROFILE counters the fused loop keeps (the scan, and CacheProperties when planned).
    let scanPlan: LogicalPlan
    let cachePlan: LogicalPlan?
}

/// EagerAggregation (with grouping keys) or plain aggregation (none): consumes all input, then produces one
/// row per group (one row even for empty input when there are no grouping keys).
///
/// With `fused`, the aggregation runs the label scan below it itself: node ids come straight from the kernel's
/// label scan and their properties from one batched read per node into a reused buffer, with no rows, entity
/// values or compiled expressions per node (the slotted pipeline costs several times the work of the
/// aggregation itself for a global aggregation over a label). EXPLAIN still shows the scan and CacheProperties
/// below, and PROFILE counts their rows and db hits.
final class AggregationOp: Op {
    private let source: Op
    private let keys: [(Int, Eval)]
    private let aggregates: [AggregateSpec]
    private let width: Int
    private let ctx: ExecutionContext
    private let fused: FusedLabelScan?
    private var output: [Row]?
    private var index = 0

    init(source: Op, keys: [(Int, Eval)], aggregates: [AggregateSpec], width: Int, ctx: ExecutionContext,
         counter: ProfileCounter, fused: FusedLabelScan? = nil) {
        self.source = source
        self.keys = keys
        self.aggregates = aggregates
        self.width = width
        self.ctx = ctx
        self.fused = fused
        super.init(counter: counter)
    }

    /// The fused scan: one pass over the label's nodes, grouping on the read values.
    ///
    /// Properties come from the kernel as `RawProperty` bits, so the common scalar values (integers, floats,
    /// booleans, strings of up to 8 bytes) are never boxed into `Value`s just to be hashed: a single grouping key
    /// is first looked up by its exact bits in a `RawGroupCache`, and only a miss goes through the exact Cypher
    /// equivalence (`GroupingKey`: 1 and 1.0 together, strings by canonical equivalence), whose group is then
    /// cached under those bits. Equal bits always mean equivalent values, so the cache only saves work.
    private func runFused(_ fused: FusedLabelScan) throws -> [Row] {
        let scanCounter = ctx.counter(for: fused.scanPlan)
        let cacheCounter = fused.cachePlan.map { ctx.counter(for: $0) }
        let aggregateCount = aggregates.count
        var groupKeys: [[Value]] = []
        // The aggregators of group g are `groupAggs[g * aggregateCount ..< (g + 1) * aggregateCount]`.
        var groupAggs: [Aggregator] = []
        var singleGroups: [GroupingKey: Int] = [:]
        var groups: [GroupingKeys: Int] = [:]
        var rawGroups = RawGroupCache()
        let single = fused.keyIndexes.count == 1
        if let label = try ctx.label(fused.label) {
            // Keys without a token read as null for every node; only existing ones are asked of the kernel.
            // `column[i]` is key i's position in a node's `columns` raw values, or nil when it has no token.
            var tokens: [PropertyKeyToken] = []
            var column: [Int?] = []
            for k in fused.keys {
                if let t = try ctx.key(k) {
                    column.append(tokens.count)
                    tokens.append(t)
                } else {
                    column.append(nil)
                }
            }
            let keyColumns = fused.keyIndexes.map { column[$0] }
            let argumentColumns: [Int?] = fused.argumentIndexes.map { $0.flatMap { column[$0] } }
            // `count(*)` counts rows; an aggregate of a key without a token sees null.
            let countsRows = fused.argumentIndexes.map { $0 == nil }
            // Nodes are read in batches: one kernel call (one lock round trip) per `batchSize` nodes.
            let batchSize = 256
            let columns = tokens.count
            var batch: [NodeID] = []
            batch.reserveCapacity(batchSize)
            var raw: [RawProperty] = []
            var decoded: [Value] = []
            let nodes = try ctx.tx.nodes(withLabel: label)
            if fused.keyIndexes.isEmpty { groupAggs = freshAggregators() }
            var exhausted = false
            while !exhausted {
                batch.removeAll(keepingCapacity: true)
                while batch.count < batchSize, let node = nodes.next() { batch.append(node) }
                if batch.count < batchSize { exhausted = true }
                if batch.isEmpty { break }
                if columns > 0 {
                    while true {
                        decoded.removeAll(keepingCapacity: true)
                        if raw.count != batch.count * columns {
                            raw = [RawProperty](repeating: .absent, count: batch.count * columns)
                        }
                        do {
                            try ctx.tx.rawNodeProperties(batch, keys: tokens, into: &raw, decoded: &decoded)
                            break
                        } catch let error as DatabaseError where error.code == .entityNotFound {
                            // A node of the label scan was deleted by a transaction that committed since the scan
                            // began: read committed, it is no longer there, so it is skipped (as the unfused
                            // pipeline's scan skips it). The kernel does not reuse its id while this transaction
                            // is open, so no other node can stand in for it.
                            let before = batch.count
                            batch = try batch.filter { try ctx.tx.nodeExists($0) }
                            if batch.count == before { throw error }
                        }
                    }
                    if batch.isEmpty { continue }
                }
                scanCounter.rows += batch.count
                scanCounter.dbHits += batch.count
                if columns == 0 { decoded.removeAll(keepingCapacity: true) }
                if let cacheCounter {
                    cacheCounter.rows += batch.count
                    cacheCounter.dbHits += batch.count * columns
                }
                for n in 0..<batch.count {
                    let rowBase = n * columns
                    let g: Int
                    if fused.keyIndexes.isEmpty {
                        g = 0
                    } else if single {
                        let r = keyColumns[0].map { raw[rowBase + $0] } ?? .absent
                        if let cached = rawGroups.group(of: r) {
                            g = cached
                        } else {
                            let v = r.value(decoded)
                            if let found = singleGroups[GroupingKey(v)] {
                                g = found
                            } else {
                                g = groupKeys.count
                                singleGroups[GroupingKey(v)] = g
                                try newGroup([v], &groupKeys, &groupAggs)
                            }
                            // A decoded value's bits index this batch's side array: they identify nothing.
                            if r.kind != .decoded { rawGroups.insert(r, group: g) }
                        }
                    } else {
                        let k = keyColumns.map { c in c.map { raw[rowBase + $0].value(decoded) } ?? .null }
                        if let found = groups[GroupingKeys(values: k)] {
                            g = found
                        } else {
                            g = groupKeys.count
                            groups[GroupingKeys(values: k)] = g
                            try newGroup(k, &groupKeys, &groupAggs)
                        }
                    }
                    let aggBase = g * aggregateCount
                    for i in 0..<aggregateCount {
                        if countsRows[i] {
                            try groupAggs[aggBase + i].add([])
                        } else {
                            let v = argumentColumns[i].map { raw[rowBase + $0].value(decoded) } ?? .null
                            try groupAggs[aggBase + i].add(value: v)
                        }
                    }
                }
            }
            // The kernel's scan iterator just ends when the transaction times out or is terminated: make sure a
            // cut-short scan fails instead of aggregating part of the label.
            try ctx.tx.checkUsable()
            if fused.keyIndexes.isEmpty { groupKeys = [[]] }
        } else if fused.keyIndexes.isEmpty {
            groupKeys = [[]]
            groupAggs = freshAggregators()
        }
        var out: [Row] = []
        out.reserveCapacity(groupKeys.count)
        for (gi, k) in groupKeys.enumerated() {
            var r = Row(repeating: .null, count: width)
            for (i, (slot, _)) in keys.enumerated() { r[slot] = k[i] }
            for (i, spec) in aggregates.enumerated() { r[spec.slot] = try groupAggs[gi * aggregateCount + i].result() }
            out.append(r)
        }
        return out
    }

    private func newGroup(_ k: [Value], _ groupKeys: inout [[Value]], _ groupAggs: inout [Aggregator]) throws {
        groupKeys.append(k)
        groupAggs.append(contentsOf: freshAggregators())
        if groupKeys.count > ctx.options.maxEagerRows {
            throw DatabaseError(.outOfMemory, "Aggregation exceeded \(ctx.options.maxEagerRows) groups")
        }
    }

    private func freshAggregators() -> [Aggregator] {
        aggregates.map { Aggregation.make($0.name, distinct: $0.distinct) }
    }

    private func feed(_ aggs: [Aggregator], _ row: Row) throws {
        for (i, spec) in aggregates.enumerated() {
            switch spec.arguments.count {
            case 0: try aggs[i].add([])
            case 1: try aggs[i].add(value: try spec.arguments[0](row, ctx))
            default: try aggs[i].add(try spec.arguments.map { try $0(row, ctx) })
            }
        }
    }

    /// The counts when this aggregation only counts the rows or distinct end nodes of the expansion directly below
    /// (no grouping keys; every aggregate `count(*)`, `count(end)` or `count(DISTINCT end)`), else nil. The
    /// expansion then runs without building rows: `MATCH (p {id: $id})-[:KNOWS*1..3]->(x) RETURN count(DISTINCT x)`
    /// is a breadth-first search counted in an id set.
    private func runCountingExpansion() throws -> [Row]? {
        guard keys.isEmpty, !aggregates.isEmpty, let expansion = source as? CountableExpansion else { return nil }
        var wantsDistinct = false
        for spec in aggregates {
            guard spec.name == "count" else { return nil }
            if spec.arguments.isEmpty {
                guard !spec.distinct else { return nil }
            } else {
                guard spec.arguments.count == 1, spec.argumentSlot == expansion.endSlot else { return nil }
                if spec.distinct { wantsDistinct = true }
            }
        }
        let (rows, distinctEnds) = try expansion.countRows(distinct: wantsDistinct)
        var out = Row(repeating: .null, count: width)
        for spec in aggregates {
            out[spec.slot] = .integer(Int64(spec.distinct ? distinctEnds : rows))
        }
        return [out]
    }

    private func run() throws -> [Row] {
        if let fused { return try runFused(fused) }
        if let counted = try runCountingExpansion() { return counted }
        if keys.isEmpty {
            let aggs = freshAggregators()
            while let row = try source.next() {
                ctx.hits = counter
                try feed(aggs, row)
            }
            var out = Row(repeating: .null, count: width)
            for (i, spec) in aggregates.enumerated() { out[spec.slot] = try aggs[i].result() }
            return [out]
        }
        var groups: [GroupingKeys: Int] = [:]
        var singleGroups: [GroupingKey: Int] = [:]
        let single = keys.count == 1
        var groupKeys: [[Value]] = []
        var groupAggs: [[Aggregator]] = []
        while let row = try source.next() {
            ctx.hits = counter
            let gi: Int
            // One grouping key (the usual case) is hashed on its own, without building a key array per row.
            let found: Int?
            var k: [Value] = []
            if single {
                let v = try keys[0].1(row, ctx)
                found = singleGroups[GroupingKey(v)]
                if found == nil { k = [v] }
            } else {
                k = try keys.map { try $0.1(row, ctx) }
                found = groups[GroupingKeys(values: k)]
            }
            if let g = found {
                gi = g
            } else {
                gi = groupKeys.count
                if single { singleGroups[GroupingKey(k[0])] = gi } else { groups[GroupingKeys(values: k)] = gi }
                groupKeys.append(k)
                groupAggs.append(freshAggregators())
                if groupKeys.count > ctx.options.maxEagerRows {
                    throw DatabaseError(.outOfMemory, "Aggregation exceeded \(ctx.options.maxEagerRows) groups")
                }
            }
            try feed(groupAggs[gi], row)
        }
        var out: [Row] = []
        out.reserveCapacity(groupKeys.count)
        for (gi, k) in groupKeys.enumerated() {
            var r = Row(repeating: .null, count: width)
            for (i, (slot, _)) in keys.enumerated() { r[slot] = k[i] }
            for (i, spec) in aggregates.enumerated() { r[spec.slot] = try groupAggs[gi][i].result() }
            out.append(r)
        }
        return out
    }

    override func produce() throws -> Row? {
        if output == nil { output = try run() }
        guard index < output!.count else { return nil }
        defer { index += 1 }
        return output![index]
    }
}
