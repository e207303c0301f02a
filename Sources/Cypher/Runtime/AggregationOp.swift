import GraphKernel
import GraphValues

/// One aggregate of an aggregation: the function, DISTINCT, its compiled arguments and its output slot.
struct AggregateSpec {
    let name: String
    let distinct: Bool
    let arguments: [Eval]
    let slot: Int
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
    private func runFused(_ fused: FusedLabelScan) throws -> [Row] {
        let scanCounter = ctx.counter(for: fused.scanPlan)
        let cacheCounter = fused.cachePlan.map { ctx.counter(for: $0) }
        var groupKeys: [[Value]] = []
        var groupAggs: [[Aggregator]] = []
        var singleGroups: [GroupingKey: Int] = [:]
        var groups: [GroupingKeys: Int] = [:]
        let single = fused.keyIndexes.count == 1
        if let label = try ctx.label(fused.label) {
            // Keys without a token read as null for every node; only existing ones are asked of the kernel.
            var tokens: [PropertyKeyToken] = []
            var positions: [Int] = []
            for (i, k) in fused.keys.enumerated() {
                if let t = try ctx.key(k) {
                    tokens.append(t)
                    positions.append(i)
                }
            }
            // Nodes are read in batches: one kernel call (one lock round trip) per `batchSize` nodes.
            let batchSize = 256
            let width = tokens.count
            var batch: [NodeID] = []
            batch.reserveCapacity(batchSize)
            var read: [Value] = []
            var values = [Value](repeating: .null, count: fused.keys.count)
            let nodes = try ctx.tx.nodes(withLabel: label)
            var noKeyAggs = fused.keyIndexes.isEmpty ? freshAggregators() : []
            var exhausted = false
            while !exhausted {
                batch.removeAll(keepingCapacity: true)
                while batch.count < batchSize, let node = nodes.next() { batch.append(node) }
                if batch.count < batchSize { exhausted = true }
                if batch.isEmpty { break }
                scanCounter.rows += batch.count
                scanCounter.dbHits += batch.count
                if width > 0 {
                    if read.count != batch.count * width {
                        read = [Value](repeating: .null, count: batch.count * width)
                    }
                    try ctx.tx.nodeProperties(batch, keys: tokens, into: &read)
                }
                if let cacheCounter {
                    cacheCounter.rows += batch.count
                    cacheCounter.dbHits += batch.count * width
                }
                for n in 0..<batch.count {
                    for (j, i) in positions.enumerated() { values[i] = read[n * width + j] }
                    let aggs: [Aggregator]
                    if fused.keyIndexes.isEmpty {
                        aggs = noKeyAggs
                    } else if single {
                        let v = values[fused.keyIndexes[0]]
                        if let g = singleGroups[GroupingKey(v)] {
                            aggs = groupAggs[g]
                        } else {
                            singleGroups[GroupingKey(v)] = groupKeys.count
                            aggs = try newGroup([v], &groupKeys, &groupAggs)
                        }
                    } else {
                        let k = fused.keyIndexes.map { values[$0] }
                        if let g = groups[GroupingKeys(values: k)] {
                            aggs = groupAggs[g]
                        } else {
                            groups[GroupingKeys(values: k)] = groupKeys.count
                            aggs = try newGroup(k, &groupKeys, &groupAggs)
                        }
                    }
                    for (i, a) in fused.argumentIndexes.enumerated() {
                        if let a { try aggs[i].add(value: values[a]) } else { try aggs[i].add([]) }
                    }
                }
            }
            // The kernel's scan iterator just ends when the transaction times out or is terminated: make sure a
            // cut-short scan fails instead of aggregating part of the label.
            try ctx.tx.checkUsable()
            if fused.keyIndexes.isEmpty {
                groupKeys = [[]]
                groupAggs = [noKeyAggs]
                noKeyAggs = []
            }
        } else if fused.keyIndexes.isEmpty {
            groupKeys = [[]]
            groupAggs = [freshAggregators()]
        }
        return try output(groupKeys, groupAggs)
    }

    private func newGroup(_ k: [Value], _ groupKeys: inout [[Value]], _ groupAggs: inout [[Aggregator]]) throws
        -> [Aggregator]
    {
        let aggs = freshAggregators()
        groupKeys.append(k)
        groupAggs.append(aggs)
        if groupKeys.count > ctx.options.maxEagerRows {
            throw DatabaseError(.outOfMemory, "Aggregation exceeded \(ctx.options.maxEagerRows) groups")
        }
        return aggs
    }

    private func output(_ groupKeys: [[Value]], _ groupAggs: [[Aggregator]]) throws -> [Row] {
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

    private func run() throws -> [Row] {
        if let fused { return try runFused(fused) }
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
