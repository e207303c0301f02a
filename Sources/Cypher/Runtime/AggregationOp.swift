import GraphValues

/// One aggregate of an aggregation: the function, DISTINCT, its compiled arguments and its output slot.
struct AggregateSpec {
    let name: String
    let distinct: Bool
    let arguments: [Eval]
    let slot: Int
}

/// EagerAggregation (with grouping keys) or plain aggregation (none): consumes all input, then produces one
/// row per group (one row even for empty input when there are no grouping keys).
final class AggregationOp: Op {
    private let source: Op
    private let keys: [(Int, Eval)]
    private let aggregates: [AggregateSpec]
    private let width: Int
    private let ctx: ExecutionContext
    private var output: [Row]?
    private var index = 0

    init(source: Op, keys: [(Int, Eval)], aggregates: [AggregateSpec], width: Int, ctx: ExecutionContext,
         counter: ProfileCounter) {
        self.source = source
        self.keys = keys
        self.aggregates = aggregates
        self.width = width
        self.ctx = ctx
        super.init(counter: counter)
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
        if keys.isEmpty {
            let aggs = freshAggregators()
            while let row = try source.next() { try feed(aggs, row) }
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
