import Foundation
import GraphValues

/// Cypher's value semantics: equality with three-valued null logic, comparability, the global ORDER BY order,
/// grouping keys (1 = 1.0) and arithmetic with overflow checks.
///
/// During execution nodes and relationships are references (`NodeValue`/`RelationshipValue` whose id is what
/// counts); equality of entities is by id, as in Neo4j.
enum Semantics {
    // MARK: - Type names (for TypeError messages, Neo4j wording)

    static func typeName(_ v: Value) -> String {
        switch v {
        case .null: return "NULL"
        case .boolean: return "Boolean"
        case .integer: return "Long"
        case .float: return "Double"
        case .string: return "String"
        case .bytes: return "ByteArray"
        case .list: return "List"
        case .map: return "Map"
        case .node: return "Node"
        case .relationship: return "Relationship"
        case .path: return "Path"
        case .date: return "Date"
        case .localTime: return "LocalTime"
        case .time: return "Time"
        case .localDateTime: return "LocalDateTime"
        case .dateTime: return "DateTime"
        case .duration: return "Duration"
        case .point: return "Point"
        }
    }

    static func typeError(_ what: String, expected: String, got v: Value) -> DatabaseError {
        DatabaseError(.typeError, "Expected \(what) to be \(expected), but it was a `\(typeName(v))Value`")
    }

    // MARK: - Equality (three-valued)

    /// `a = b`: nil when the answer is null (a null operand, or a null deciding a list/map comparison).
    static func equals(_ a: Value, _ b: Value) -> Bool? {
        switch (a, b) {
        case (.null, _), (_, .null): return nil
        case (.integer(let x), .integer(let y)): return x == y
        case (.float(let x), .float(let y)): return x == y
        case (.integer(let x), .float(let y)): return intEqualsDouble(x, y)
        case (.float(let x), .integer(let y)): return intEqualsDouble(y, x)
        case (.string(let x), .string(let y)): return x == y
        case (.boolean(let x), .boolean(let y)): return x == y
        case (.node(let x), .node(let y)): return x.id == y.id
        case (.relationship(let x), .relationship(let y)): return x.id == y.id
        case (.path(let x), .path(let y)):
            return x.nodes.map(\.id) == y.nodes.map(\.id) && x.relationships.map(\.id) == y.relationships.map(\.id)
        case (.list(let x), .list(let y)):
            if x.count != y.count { return false }
            var sawNull = false
            for (p, q) in zip(x, y) {
                switch equals(p, q) {
                case .some(false): return false
                case nil: sawNull = true
                default: break
                }
            }
            return sawNull ? nil : true
        case (.map(let x), .map(let y)):
            if Set(x.keys) != Set(y.keys) { return false }
            var sawNull = false
            for (k, p) in x {
                switch equals(p, y[k]!) {
                case .some(false): return false
                case nil: sawNull = true
                default: break
                }
            }
            return sawNull ? nil : true
        case (.bytes(let x), .bytes(let y)): return x == y
        case (.duration(let x), .duration(let y)): return x == y
        case (.point(let x), .point(let y)): return x == y
        case (.date, .date), (.localTime, .localTime), (.time, .time), (.localDateTime, .localDateTime),
            (.dateTime, .dateTime):
            if let c = TemporalFunctions.compare(a, b) { return c == 0 }
            return a == b
        default: return false
        }
    }

    @inline(__always)
    static func intEqualsDouble(_ i: Int64, _ d: Double) -> Bool {
        guard d.isFinite, d == d.rounded() else { return false }
        if d >= 9.223372036854775807e18 || d < -9.223372036854775808e18 { return false }
        return Int64(d) == i
    }

    // MARK: - Comparison (for <, <=, >, >=)

    /// Ordering of comparable values; nil when the comparison yields null (different types, nulls, NaN).
    static func compare(_ a: Value, _ b: Value) -> Int? {
        switch (a, b) {
        case (.integer(let x), .integer(let y)): return x < y ? -1 : (x > y ? 1 : 0)
        case (.float(let x), .float(let y)):
            if x.isNaN || y.isNaN { return nil }
            return x < y ? -1 : (x > y ? 1 : 0)
        case (.integer(let x), .float(let y)): return compareIntDouble(x, y)
        case (.float(let x), .integer(let y)): return compareIntDouble(y, x).map { -$0 }
        case (.string(let x), .string(let y)): return compareStrings(x, y)
        case (.boolean(let x), .boolean(let y)): return x == y ? 0 : (x ? 1 : -1)
        case (.list(let x), .list(let y)):
            for (p, q) in zip(x, y) {
                guard let c = compare(p, q) else { return nil }
                if c != 0 { return c }
            }
            return x.count < y.count ? -1 : (x.count > y.count ? 1 : 0)
        case (.point, .point):
            return TemporalFunctions.compare(a, b)
        case (.date, .date), (.localTime, .localTime), (.time, .time), (.localDateTime, .localDateTime),
            (.dateTime, .dateTime):
            return TemporalFunctions.compare(a, b)
        default: return nil
        }
    }

    static func compareIntDouble(_ i: Int64, _ d: Double) -> Int? {
        if d.isNaN { return nil }
        if d >= 9.223372036854775807e18 { return -1 }
        if d < -9.223372036854775808e18 { return 1 }
        let t = d.rounded(.down)
        let ti = Int64(t)
        if i < ti { return -1 }
        if i > ti { return 1 }
        return t == d ? 0 : -1
    }

    /// Strings compare by Unicode code point (as Java's String.compareTo on BMP text does).
    @inline(__always)
    static func compareStrings(_ x: String, _ y: String) -> Int {
        if x == y { return 0 }
        var i = x.unicodeScalars.makeIterator()
        var j = y.unicodeScalars.makeIterator()
        while true {
            switch (i.next(), j.next()) {
            case (nil, nil): return 0
            case (nil, _): return -1
            case (_, nil): return 1
            case (let p?, let q?):
                if p.value != q.value { return p.value < q.value ? -1 : 1 }
            }
        }
    }

    // MARK: - Global order (ORDER BY, min/max over mixed types)

    /// Rank of a type in the ascending ORDER BY order (openCypher CIP2016-06-14): maps, nodes, relationships,
    /// lists, paths, points, date-times, local date-times, dates, times, local times, durations, strings,
    /// booleans, numbers, then null.
    static func orderRank(_ v: Value) -> Int {
        switch v {
        case .map: return 0
        case .node: return 1
        case .relationship: return 2
        case .list: return 3
        case .path: return 4
        case .point: return 5
        case .dateTime: return 6
        case .localDateTime: return 7
        case .date: return 8
        case .time: return 9
        case .localTime: return 10
        case .duration: return 11
        case .string: return 12
        case .boolean: return 13
        case .integer, .float: return 14
        case .bytes: return 15
        case .null: return 16
        }
    }

    /// Total order over all values, used by ORDER BY, DISTINCT-independent sorting and min/max.
    static func orderCompare(_ a: Value, _ b: Value) -> Int {
        let ra = orderRank(a)
        let rb = orderRank(b)
        if ra != rb { return ra < rb ? -1 : 1 }
        switch (a, b) {
        case (.null, .null): return 0
        case (.float(let x), .float(let y)) where x.isNaN || y.isNaN:
            return x.isNaN ? (y.isNaN ? 0 : 1) : -1
        case (.float(let x), .integer) where x.isNaN: return 1
        case (.integer, .float(let y)) where y.isNaN: return -1
        case (.node(let x), .node(let y)): return x.id < y.id ? -1 : (x.id > y.id ? 1 : 0)
        case (.relationship(let x), .relationship(let y)): return x.id < y.id ? -1 : (x.id > y.id ? 1 : 0)
        case (.list(let x), .list(let y)):
            for (p, q) in zip(x, y) {
                let c = orderCompare(p, q)
                if c != 0 { return c }
            }
            return x.count < y.count ? -1 : (x.count > y.count ? 1 : 0)
        case (.path(let x), .path(let y)):
            let xs: [Value] = x.nodes.map { .node($0) }
            let ys: [Value] = y.nodes.map { .node($0) }
            return orderCompare(.list(xs), .list(ys))
        case (.map(let x), .map(let y)):
            let kx = x.keys.sorted()
            let ky = y.keys.sorted()
            let c = orderCompare(.list(kx.map { .string($0) }), .list(ky.map { .string($0) }))
            if c != 0 { return c }
            return orderCompare(.list(kx.map { x[$0]! }), .list(ky.map { y[$0]! }))
        case (.duration, .duration), (.point, .point):
            // Durations by their average length, points by SRID then coordinates (the one ordering for both).
            return TemporalFunctions.orderingCompare(a, b) ?? 0
        case (.bytes(let x), .bytes(let y)): return x.lexicographicallyPrecedes(y) ? -1 : (x == y ? 0 : 1)
        default:
            return compare(a, b) ?? TemporalFunctions.orderingCompare(a, b) ?? 0
        }
    }

    // MARK: - Truthiness

    /// A predicate's value: true, false, or nil (null). Non-boolean values are a TypeError.
    static func truth(_ v: Value) throws -> Bool? {
        switch v {
        case .boolean(let b): return b
        case .null: return nil
        default: throw typeError("a predicate", expected: "Boolean", got: v)
        }
    }

    // MARK: - Arithmetic

    static func overflow(_ op: String) -> DatabaseError {
        DatabaseError(.arithmeticError, "long overflow")
    }

    static func add(_ a: Value, _ b: Value) throws -> Value {
        switch (a, b) {
        case (.null, _), (_, .null): return .null
        case (.integer(let x), .integer(let y)):
            let (r, o) = x.addingReportingOverflow(y)
            if o { throw overflow("+") }
            return .integer(r)
        case (.integer(let x), .float(let y)): return .float(Double(x) + y)
        case (.float(let x), .integer(let y)): return .float(x + Double(y))
        case (.float(let x), .float(let y)): return .float(x + y)
        case (.string(let x), .string(let y)): return .string(x + y)
        case (.string(let x), .integer), (.string(let x), .float), (.string(let x), .boolean):
            return .string(x + (try FunctionLibrary.toStringValue(b)))
        case (.integer, .string(let y)), (.float, .string(let y)), (.boolean, .string(let y)):
            return .string((try FunctionLibrary.toStringValue(a)) + y)
        case (.list(let x), .list(let y)): return .list(x + y)
        case (.list(let x), _): return .list(x + [b])
        case (_, .list(let y)): return .list([a] + y)
        default:
            if let r = try TemporalFunctions.add(a, b) { return r }
            throw DatabaseError(.typeError, "Cannot add `\(typeName(a))` and `\(typeName(b))`")
        }
    }

    static func subtract(_ a: Value, _ b: Value) throws -> Value {
        switch (a, b) {
        case (.null, _), (_, .null): return .null
        case (.integer(let x), .integer(let y)):
            let (r, o) = x.subtractingReportingOverflow(y)
            if o { throw overflow("-") }
            return .integer(r)
        case (.integer(let x), .float(let y)): return .float(Double(x) - y)
        case (.float(let x), .integer(let y)): return .float(x - Double(y))
        case (.float(let x), .float(let y)): return .float(x - y)
        default:
            if let r = try TemporalFunctions.subtract(a, b) { return r }
            throw DatabaseError(.typeError, "Cannot subtract `\(typeName(b))` from `\(typeName(a))`")
        }
    }

    static func multiply(_ a: Value, _ b: Value) throws -> Value {
        switch (a, b) {
        case (.null, _), (_, .null): return .null
        case (.integer(let x), .integer(let y)):
            let (r, o) = x.multipliedReportingOverflow(by: y)
            if o { throw overflow("*") }
            return .integer(r)
        case (.integer(let x), .float(let y)): return .float(Double(x) * y)
        case (.float(let x), .integer(let y)): return .float(x * Double(y))
        case (.float(let x), .float(let y)): return .float(x * y)
        default:
            if let r = try TemporalFunctions.multiply(a, b) { return r }
            throw DatabaseError(.typeError, "Cannot multiply `\(typeName(a))` with `\(typeName(b))`")
        }
    }

    static func divide(_ a: Value, _ b: Value) throws -> Value {
        switch (a, b) {
        case (.null, _), (_, .null): return .null
        case (.integer(let x), .integer(let y)):
            if y == 0 { throw DatabaseError(.arithmeticError, "/ by zero") }
            let (r, o) = x.dividedReportingOverflow(by: y)
            if o { throw overflow("/") }
            return .integer(r)
        case (.integer(let x), .float(let y)): return .float(Double(x) / y)
        case (.float(let x), .integer(let y)): return .float(x / Double(y))
        case (.float(let x), .float(let y)): return .float(x / y)
        default:
            if let r = try TemporalFunctions.divide(a, b) { return r }
            throw DatabaseError(.typeError, "Cannot divide `\(typeName(a))` by `\(typeName(b))`")
        }
    }

    static func modulo(_ a: Value, _ b: Value) throws -> Value {
        switch (a, b) {
        case (.null, _), (_, .null): return .null
        case (.integer(let x), .integer(let y)):
            if y == 0 { throw DatabaseError(.arithmeticError, "/ by zero") }
            let (r, o) = x.remainderReportingOverflow(dividingBy: y)
            if o { return .integer(0) }
            return .integer(r)
        case (.integer(let x), .float(let y)): return .float(fmod(Double(x), y))
        case (.float(let x), .integer(let y)): return .float(fmod(x, Double(y)))
        case (.float(let x), .float(let y)): return .float(fmod(x, y))
        default:
            throw DatabaseError(.typeError, "Cannot calculate modulus of `\(typeName(a))` and `\(typeName(b))`")
        }
    }

    static func power(_ a: Value, _ b: Value) throws -> Value {
        switch (a, b) {
        case (.null, _), (_, .null): return .null
        default:
            guard let x = a.numericDouble, let y = b.numericDouble else {
                throw DatabaseError(.typeError, "Cannot raise `\(typeName(a))` to the power of `\(typeName(b))`")
            }
            return .float(pow(x, y))
        }
    }

    static func negate(_ a: Value) throws -> Value {
        switch a {
        case .null: return .null
        case .integer(let x):
            if x == Int64.min { throw overflow("-") }
            return .integer(-x)
        case .float(let x): return .float(-x)
        default:
            if case .duration(let d) = a {
                return .duration(CypherDuration(months: -d.months, days: -d.days, seconds: -d.seconds,
                                                nanoseconds: -d.nanoseconds))
            }
            throw DatabaseError(.typeError, "Cannot negate `\(typeName(a))`")
        }
    }
}

extension Value {
    /// The value as a Double when it is a number.
    var numericDouble: Double? {
        switch self {
        case .integer(let i): return Double(i)
        case .float(let d): return d
        default: return nil
        }
    }
}

// MARK: - Grouping keys

/// A value wrapped for hashing in DISTINCT and grouping: equivalent values (1 and 1.0, null and null,
/// NaN and NaN) collide, while the first value seen is kept as the group's (typed) key.
struct GroupingKey: Hashable {
    let value: Value

    init(_ value: Value) { self.value = value }

    static func == (a: GroupingKey, b: GroupingKey) -> Bool { equivalent(a.value, b.value) }

    func hash(into hasher: inout Hasher) { GroupingKey.hashValue(value, into: &hasher) }

    /// Equivalence: equality where null ≡ null and NaN ≡ NaN (openCypher's grouping semantics).
    static func equivalent(_ a: Value, _ b: Value) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case (.float(let x), .float(let y)) where x.isNaN && y.isNaN: return true
        case (.list(let x), .list(let y)):
            return x.count == y.count && zip(x, y).allSatisfy { equivalent($0, $1) }
        case (.map(let x), .map(let y)):
            return Set(x.keys) == Set(y.keys) && x.allSatisfy { equivalent($0.value, y[$0.key]!) }
        default:
            return Semantics.equals(a, b) == true
        }
    }

    static func hashValue(_ v: Value, into h: inout Hasher) {
        switch v {
        case .null: h.combine(0)
        case .boolean(let b): h.combine(1); h.combine(b)
        case .integer(let i): h.combine(2); h.combine(i)
        case .float(let d):
            // Exactly the floats `Semantics.intEqualsDouble` can find equal to an integer hash as that integer.
            if d.isFinite, d == d.rounded(), d < 9.223372036854775807e18, d >= -9.223372036854775808e18 {
                h.combine(2); h.combine(Int64(d))
            } else {
                h.combine(3); h.combine(d.isNaN ? Double.nan.bitPattern : d.bitPattern)
            }
        case .string(let s): h.combine(4); h.combine(s)
        case .list(let items):
            h.combine(5); h.combine(items.count)
            for i in items { hashValue(i, into: &h) }
        case .map(let m):
            h.combine(6)
            for k in m.keys.sorted() { h.combine(k); hashValue(m[k]!, into: &h) }
        case .node(let n): h.combine(7); h.combine(n.id)
        case .relationship(let r): h.combine(8); h.combine(r.id)
        case .path(let p): h.combine(9); h.combine(p.nodes.map(\.id)); h.combine(p.relationships.map(\.id))
        default: h.combine(10); h.combine(v)
        }
    }
}

/// A row of grouping values as one hashable key.
struct GroupingKeys: Hashable {
    let values: [Value]

    static func == (a: GroupingKeys, b: GroupingKeys) -> Bool {
        a.values.count == b.values.count && zip(a.values, b.values).allSatisfy { GroupingKey.equivalent($0, $1) }
    }

    func hash(into hasher: inout Hasher) {
        for v in values { GroupingKey.hashValue(v, into: &hasher) }
    }
}
