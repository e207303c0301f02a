import Foundation
import GraphValues

/// Aggregating functions: one `Aggregator` per group, fed one value per row.
enum Aggregation {
    static let names = ["count", "sum", "avg", "min", "max", "collect", "percentilecont", "percentiledisc",
                        "stdev", "stdevp"]

    static func isAggregate(_ lowerName: String) -> Bool { names.contains(lowerName) }

    /// A fresh aggregator for `name`; `distinct` wraps it so each equivalent value counts once.
    static func make(_ name: String, distinct: Bool) -> Aggregator {
        let base: Aggregator
        switch name {
        case "count": base = CountAggregator()
        case "sum": base = SumAggregator()
        case "avg": base = AvgAggregator()
        case "min": base = ExtremeAggregator(wantMax: false)
        case "max": base = ExtremeAggregator(wantMax: true)
        case "collect": base = CollectAggregator()
        case "percentilecont": base = PercentileAggregator(continuous: true)
        case "percentiledisc": base = PercentileAggregator(continuous: false)
        case "stdev": base = StdDevAggregator(population: false)
        case "stdevp": base = StdDevAggregator(population: true)
        default: preconditionFailure("unknown aggregation \(name)")
        }
        return distinct ? DistinctAggregator(base) : base
    }
}

/// Accumulates one group's values. `add` receives the argument values of one row (`count(*)` gets none).
class Aggregator {
    func add(_ args: [Value]) throws {}
    /// One-argument form (the common case), without allocating an argument array per row.
    func add(value: Value) throws { try add([value]) }
    func result() throws -> Value { .null }
}

/// DISTINCT: feeds `inner` only the first of each set of equivalent values. Nodes and relationships are
/// equivalent exactly when their ids are equal (and never to anything else), so they are kept by id in
/// `NodeIDSet`s — no `Hasher` over a whole `Value` per row, which `count(DISTINCT x)` over thousands of expanded
/// nodes otherwise pays for.
final class DistinctAggregator: Aggregator {
    private let inner: Aggregator
    private var seen = Set<GroupingKey>()
    private var nodes: NodeIDSet?
    private var relationships: NodeIDSet?

    init(_ inner: Aggregator) { self.inner = inner }

    private func firstOccurrence(_ v: Value) -> Bool {
        switch v {
        case .node(let n):
            if nodes == nil { nodes = NodeIDSet() }
            return nodes!.insert(id: n.id)
        case .relationship(let r):
            if relationships == nil { relationships = NodeIDSet() }
            return relationships!.insert(id: r.id)
        default:
            return seen.insert(GroupingKey(v)).inserted
        }
    }

    override func add(_ args: [Value]) throws {
        guard let v = args.first, !v.isNull else { return }
        if firstOccurrence(v) { try inner.add(args) }
    }

    override func add(value: Value) throws {
        if value.isNull { return }
        if firstOccurrence(value) { try inner.add(value: value) }
    }

    override func result() throws -> Value { try inner.result() }
}

final class CountAggregator: Aggregator {
    private var n: Int64 = 0
    override func add(_ args: [Value]) throws {
        if let v = args.first, v.isNull { return }
        n += 1
    }
    override func add(value: Value) throws {
        if !value.isNull { n += 1 }
    }

    override func result() throws -> Value { .integer(n) }
}

final class SumAggregator: Aggregator {
    private var intSum: Int64 = 0
    private var floatSum: Double = 0
    private var isFloat = false
    private var durations: Value?

    override func add(_ args: [Value]) throws {
        guard let v = args.first else { return }
        switch v {
        case .null: return
        case .integer(let i):
            if isFloat {
                floatSum += Double(i)
            } else {
                let (r, o) = intSum.addingReportingOverflow(i)
                if o { throw DatabaseError(.arithmeticError, "long overflow") }
                intSum = r
            }
        case .float(let d):
            if !isFloat {
                isFloat = true
                floatSum = Double(intSum)
            }
            floatSum += d
        case .duration:
            durations = try durations.map { try Semantics.add($0, v) } ?? v
        default:
            throw DatabaseError(.typeError, "sum() can only handle numerical values, duration, and null. Got \(Semantics.typeName(v))")
        }
    }

    override func result() throws -> Value {
        if let durations { return durations }
        return isFloat ? .float(floatSum) : .integer(intSum)
    }
}

final class AvgAggregator: Aggregator {
    private var sum: Double = 0
    private var n = 0
    private var durationSum: Value?

    override func add(value: Value) throws {
        switch value {
        case .null: return
        case .integer(let i): sum += Double(i); n += 1
        case .float(let d): sum += d; n += 1
        default: try add([value])
        }
    }

    override func add(_ args: [Value]) throws {
        guard let v = args.first else { return }
        switch v {
        case .null: return
        case .integer(let i): sum += Double(i)
        case .float(let d): sum += d
        case .duration: durationSum = try durationSum.map { try Semantics.add($0, v) } ?? v
        default:
            throw DatabaseError(.typeError, "avg() can only handle numerical values, duration, and null. Got \(Semantics.typeName(v))")
        }
        n += 1
    }

    override func result() throws -> Value {
        if n == 0 { return .null }
        if let durationSum { return try Semantics.divide(durationSum, .integer(Int64(n))) }
        return .float(sum / Double(n))
    }
}

final class ExtremeAggregator: Aggregator {
    private let wantMax: Bool
    private var best: Value = .null

    init(wantMax: Bool) { self.wantMax = wantMax }

    override func add(_ args: [Value]) throws {
        guard let v = args.first, !v.isNull else { return }
        if best.isNull {
            best = v
            return
        }
        let c = Semantics.orderCompare(v, best)
        if wantMax ? c > 0 : c < 0 { best = v }
    }

    override func add(value: Value) throws {
        if value.isNull { return }
        if best.isNull {
            best = value
            return
        }
        let c = Semantics.orderCompare(value, best)
        if wantMax ? c > 0 : c < 0 { best = value }
    }

    override func result() throws -> Value { best }
}

final class CollectAggregator: Aggregator {
    private var items: [Value] = []
    override func add(value: Value) throws {
        if !value.isNull { items.append(value) }
    }
    override func add(_ args: [Value]) throws {
        guard let v = args.first, !v.isNull else { return }
        items.append(v)
    }
    override func result() throws -> Value { .list(items) }
}

final class PercentileAggregator: Aggregator {
    private let continuous: Bool
    private var values: [Double] = []
    private var allInts = true
    private var percentile: Double?

    init(continuous: Bool) { self.continuous = continuous }

    override func add(_ args: [Value]) throws {
        if percentile == nil, args.count > 1 {
            guard let p = args[1].numericDouble else {
                throw DatabaseError(.typeError, "percentile must be a number")
            }
            if !(0...1).contains(p) {
                throw DatabaseError(.argumentError,
                                    "Invalid input '\(CypherText.formatFloat(p))' is not a valid argument, must be a number in the range 0.0 to 1.0")
            }
            percentile = p
        }
        guard let v = args.first else { return }
        switch v {
        case .null: return
        case .integer(let i): values.append(Double(i))
        case .float(let d):
            allInts = false
            values.append(d)
        default:
            throw DatabaseError(.typeError, "percentile functions can only handle numerical values. Got \(Semantics.typeName(v))")
        }
    }

    override func result() throws -> Value {
        guard let p = percentile, !values.isEmpty else { return .null }
        let sorted = values.sorted()
        if continuous {
            let pos = p * Double(sorted.count - 1)
            let lo = Int(pos.rounded(.down))
            let hi = Int(pos.rounded(.up))
            if lo == hi { return .float(sorted[lo]) }
            let frac = pos - Double(lo)
            return .float(sorted[lo] + (sorted[hi] - sorted[lo]) * frac)
        }
        let idx = p == 0 ? 0 : Int((p * Double(sorted.count)).rounded(.up)) - 1
        let v = sorted[max(0, min(idx, sorted.count - 1))]
        return allInts ? .integer(Int64(v)) : .float(v)
    }
}

final class StdDevAggregator: Aggregator {
    private let population: Bool
    private var n = 0
    private var mean = 0.0
    private var m2 = 0.0

    init(population: Bool) { self.population = population }

    override func add(_ args: [Value]) throws {
        guard let v = args.first, !v.isNull else { return }
        guard let x = v.numericDouble else {
            throw DatabaseError(.typeError, "stDev() can only handle numerical values. Got \(Semantics.typeName(v))")
        }
        // Welford's online algorithm: numerically stable in one pass.
        n += 1
        let d = x - mean
        mean += d / Double(n)
        m2 += d * (x - mean)
    }

    override func result() throws -> Value {
        if population { return .float(n == 0 ? 0 : (m2 / Double(n)).squareRoot()) }
        return .float(n < 2 ? 0 : (m2 / Double(n - 1)).squareRoot())
    }
}
