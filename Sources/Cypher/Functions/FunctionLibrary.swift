import Foundation
import GraphKernel
import GraphValues

/// The non-temporal openCypher function library (scalar, list, string, math, type conversion, entity and path
/// functions). Temporal and spatial functions are delegated to `TemporalFunctions`.
///
/// Errors follow the TCK: a wrong argument type is a `TypeError`, an out-of-domain argument (negative substring
/// length, zero range step) an `ArgumentError`.
enum FunctionLibrary {
    /// Lower-cased names of the functions implemented here (aggregations are listed by `Aggregation`).
    static let names: [String] = [
        "abs", "ceil", "floor", "round", "sign", "rand", "sqrt", "exp", "log", "log10", "e", "pi", "sin", "cos",
        "tan", "cot", "asin", "acos", "atan", "atan2", "degrees", "radians", "haversin",
        "tostring", "tointeger", "tofloat", "toboolean", "tostringornull", "tointegerornull", "tofloatornull",
        "tobooleanornull", "tointegerlist", "tofloatlist", "tostringlist", "tobooleanlist",
        "size", "length", "head", "last", "tail", "reverse", "range", "keys", "labels", "type", "id", "elementid",
        "properties", "startnode", "endnode", "nodes", "relationships", "coalesce", "exists", "timestamp",
        "tolower", "toupper", "lower", "upper", "trim", "ltrim", "rtrim", "replace", "substring", "left", "right",
        "split", "isempty", "isnan", "valuetype", "randomuuid", "char_length", "character_length",
    ] + Aggregation.names

    static func isKnown(_ name: String) -> Bool { known.contains(name) }
    private static let known = Set(names)

    static func argError(_ message: String) -> DatabaseError { DatabaseError(.argumentError, message) }

    static func wrongType(_ fn: String, _ v: Value) -> DatabaseError {
        DatabaseError(.typeError, "Invalid input for function '\(fn)()': Expected a numeric value but got: "
                        + CypherText.literal(v) + " (\(Semantics.typeName(v)))")
    }

    static func number(_ fn: String, _ v: Value) throws -> Double? {
        switch v {
        case .null: return nil
        case .integer(let i): return Double(i)
        case .float(let d): return d
        default: throw wrongType(fn, v)
        }
    }

    static func string(_ fn: String, _ v: Value) throws -> String? {
        switch v {
        case .null: return nil
        case .string(let s): return s
        default:
            throw DatabaseError(.typeError, "Invalid input for function '\(fn)()': Expected a string value but got: "
                                    + "\(CypherText.literal(v)) (\(Semantics.typeName(v)))")
        }
    }

    static func integer(_ fn: String, _ v: Value) throws -> Int64? {
        switch v {
        case .null: return nil
        case .integer(let i): return i
        case .float(let d) where d == d.rounded() && d.isFinite: return Int64(d)
        default:
            throw DatabaseError(.typeError, "Invalid input for function '\(fn)()': Expected an integer but got: "
                                    + "\(CypherText.literal(v)) (\(Semantics.typeName(v)))")
        }
    }

    static func checkArity(_ fn: String, _ args: [Value], _ range: ClosedRange<Int>) throws {
        if !range.contains(args.count) {
            throw DatabaseError(.syntaxError, "Insufficient parameters for function '\(fn)'")
        }
    }

    /// Calls the scalar function `name` (lower-cased, dotted).
    static func call(_ name: String, _ args: [Value], _ ctx: ExecutionContext) throws -> Value {
        func a(_ i: Int) -> Value { i < args.count ? args[i] : .null }
        func math(_ f: (Double) -> Double) throws -> Value {
            try checkArity(name, args, 1...1)
            guard let x = try number(name, a(0)) else { return .null }
            return .float(f(x))
        }
        switch name {
        // MARK: Math
        case "abs":
            switch a(0) {
            case .null: return .null
            case .integer(let i):
                if i == .min { throw DatabaseError(.arithmeticError, "long overflow") }
                return .integer(Swift.abs(i))
            case .float(let d): return .float(Swift.abs(d))
            default: throw wrongType(name, a(0))
            }
        case "ceil": return try math { $0.rounded(.up) }
        case "floor": return try math { $0.rounded(.down) }
        case "round":
            guard let x = try number(name, a(0)) else { return .null }
            if args.count >= 2 {
                guard let p = try integer(name, a(1)) else { return .null }
                let m = pow(10.0, Double(p))
                return .float((x * m).rounded(.toNearestOrAwayFromZero) / m)
            }
            // Java's Math.round: half up (toward positive infinity).
            return .float((x + 0.5).rounded(.down) == x + 0.5 && x < 0 ? (x + 0.5) : x.rounded(.toNearestOrAwayFromZero))
        case "sign":
            switch a(0) {
            case .null: return .null
            case .integer(let i): return .integer(i.signum())
            case .float(let d): return .integer(d > 0 ? 1 : (d < 0 ? -1 : 0))
            default: throw wrongType(name, a(0))
            }
        case "rand": return .float(Double.random(in: 0..<1))
        case "sqrt": return try math { $0.squareRoot() }
        case "exp": return try math { Foundation.exp($0) }
        case "log": return try math { Foundation.log($0) }
        case "log10": return try math { Foundation.log10($0) }
        case "e": return .float(M_E)
        case "pi": return .float(Double.pi)
        case "sin": return try math { Foundation.sin($0) }
        case "cos": return try math { Foundation.cos($0) }
        case "tan": return try math { Foundation.tan($0) }
        case "cot": return try math { 1 / Foundation.tan($0) }
        case "asin": return try math { Foundation.asin($0) }
        case "acos": return try math { Foundation.acos($0) }
        case "atan": return try math { Foundation.atan($0) }
        case "atan2":
            guard let y = try number(name, a(0)), let x = try number(name, a(1)) else { return .null }
            return .float(Foundation.atan2(y, x))
        case "degrees": return try math { $0 * 180 / Double.pi }
        case "radians": return try math { $0 * Double.pi / 180 }
        case "haversin": return try math { (1 - Foundation.cos($0)) / 2 }
        case "isnan":
            switch a(0) {
            case .null: return .null
            case .float(let d): return .boolean(d.isNaN)
            case .integer: return .boolean(false)
            default: throw wrongType(name, a(0))
            }

        // MARK: Conversion
        case "tostring":
            if case .null = a(0) { return .null }
            return .string(try toStringValue(a(0), strict: true))
        case "tostringornull":
            if case .null = a(0) { return .null }
            return (try? toStringValue(a(0), strict: true)).map { .string($0) } ?? .null
        case "tointeger": return try toInteger(a(0), strict: true)
        case "tointegerornull": return (try? toInteger(a(0), strict: true)) ?? .null
        case "tofloat": return try toFloat(a(0), strict: true)
        case "tofloatornull": return (try? toFloat(a(0), strict: true)) ?? .null
        case "toboolean": return try toBoolean(a(0), strict: true)
        case "tobooleanornull": return (try? toBoolean(a(0), strict: true)) ?? .null
        case "tointegerlist", "tofloatlist", "tostringlist", "tobooleanlist":
            guard case .list(let items) = a(0) else {
                if case .null = a(0) { return .null }
                throw DatabaseError(.typeError, "Invalid input for function '\(name)()': Expected a List")
            }
            return .list(items.map { v in
                switch name {
                case "tointegerlist": return (try? toInteger(v, strict: true)) ?? .null
                case "tofloatlist": return (try? toFloat(v, strict: true)) ?? .null
                case "tostringlist": return (try? toStringValue(v, strict: true)).map { .string($0) } ?? .null
                default: return (try? toBoolean(v, strict: true)) ?? .null
                }
            })

        // MARK: Lists and sizes
        case "size":
            switch a(0) {
            case .null: return .null
            case .list(let l): return .integer(Int64(l.count))
            case .string(let s): return .integer(Int64(s.utf16.count))
            case .path(let p): return .integer(Int64(p.relationships.count))
            default:
                throw DatabaseError(.typeError, "Invalid input for function 'size()': Expected a List or a String, "
                                        + "got: \(CypherText.literal(a(0)))")
            }
        case "char_length", "character_length":
            guard let s = try string(name, a(0)) else { return .null }
            return .integer(Int64(s.count))
        case "length":
            switch a(0) {
            case .null: return .null
            case .path(let p): return .integer(Int64(p.relationships.count))
            case .string(let s): return .integer(Int64(s.utf16.count))
            case .list(let l): return .integer(Int64(l.count))
            default:
                throw DatabaseError(.typeError, "Invalid input for function 'length()': Expected a Path, got: "
                                        + CypherText.literal(a(0)))
            }
        case "isempty":
            switch a(0) {
            case .null: return .null
            case .list(let l): return .boolean(l.isEmpty)
            case .string(let s): return .boolean(s.isEmpty)
            case .map(let m): return .boolean(m.isEmpty)
            default:
                throw DatabaseError(.typeError, "Invalid input for function 'isEmpty()': Expected a List, Map or String")
            }
        case "head":
            switch a(0) {
            case .null: return .null
            case .list(let l): return l.first ?? .null
            default: throw DatabaseError(.typeError, "Invalid input for function 'head()': Expected a List")
            }
        case "last":
            switch a(0) {
            case .null: return .null
            case .list(let l): return l.last ?? .null
            default: throw DatabaseError(.typeError, "Invalid input for function 'last()': Expected a List")
            }
        case "tail":
            switch a(0) {
            case .null: return .null
            case .list(let l): return .list(Array(l.dropFirst()))
            default: throw DatabaseError(.typeError, "Invalid input for function 'tail()': Expected a List")
            }
        case "reverse":
            switch a(0) {
            case .null: return .null
            case .list(let l): return .list(l.reversed())
            case .string(let s): return .string(String(s.reversed()))
            default: throw DatabaseError(.typeError, "Invalid input for function 'reverse()': Expected a List or String")
            }
        case "range":
            try checkArity(name, args, 2...3)
            guard let lo = try rangeInt(a(0)), let hi = try rangeInt(a(1)) else {
                throw argError("range() requires integer arguments, got \(CypherText.literal(a(0))), \(CypherText.literal(a(1)))")
            }
            let step = args.count > 2 ? try rangeInt(a(2)) : 1
            guard let step else { throw argError("range() requires an integer step") }
            if step == 0 { throw argError("Step argument to range() can't be 0") }
            return .list(RangeSequence(lo: lo, hi: hi, step: step).map { .integer($0) })
        case "coalesce":
            return args.first { !$0.isNull } ?? .null

        // MARK: Strings
        case "tolower", "lower":
            guard let s = try string(name, a(0)) else { return .null }
            return .string(s.lowercased())
        case "toupper", "upper":
            guard let s = try string(name, a(0)) else { return .null }
            return .string(s.uppercased())
        case "trim":
            guard let s = try string(name, a(0)) else { return .null }
            return .string(s.trimmingCharacters(in: .whitespaces))
        case "ltrim":
            guard let s = try string(name, a(0)) else { return .null }
            return .string(String(s.drop { $0 == " " || $0 == "\t" }))
        case "rtrim":
            guard let s = try string(name, a(0)) else { return .null }
            var t = Substring(s)
            while let l = t.last, l == " " || l == "\t" { t.removeLast() }
            return .string(String(t))
        case "replace":
            guard let s = try string(name, a(0)), let f = try string(name, a(1)), let r = try string(name, a(2)) else {
                return .null
            }
            if f.isEmpty { return .string(s) }
            return .string(s.replacingOccurrences(of: f, with: r))
        case "substring":
            guard let s = try string(name, a(0)) else { return .null }
            guard let start = try integer(name, a(1)) else { return .null }
            if start < 0 { throw argError("Invalid input for function 'substring()': start index must be >= 0") }
            let chars = Array(s)
            if args.count > 2 {
                guard let len = try integer(name, a(2)) else { return .null }
                if len < 0 { throw argError("Invalid input for function 'substring()': length must be >= 0") }
                let lo = min(Int(start), chars.count)
                let hi = min(lo + Int(min(len, Int64(Int32.max))), chars.count)
                return .string(String(chars[lo..<hi]))
            }
            return .string(String(chars[min(Int(start), chars.count)...]))
        case "left", "right":
            guard let s = try string(name, a(0)) else { return .null }
            guard let n = try integer(name, a(1)) else {
                throw argError("Invalid input for function '\(name)()': length must be a non-negative integer")
            }
            if n < 0 { throw argError("Invalid input for function '\(name)()': length must be >= 0") }
            let k = Int(min(n, Int64(s.count)))
            return .string(name == "left" ? String(s.prefix(k)) : String(s.suffix(k)))
        case "split":
            guard let s = try string(name, a(0)) else { return .null }
            switch a(1) {
            case .null: return .null
            case .string(let d):
                return .list(splitString(s, by: [d]).map { .string($0) })
            case .list(let ds):
                let seps = ds.compactMap { if case .string(let x) = $0 { return x } else { return nil } }
                return .list(splitString(s, by: seps).map { .string($0) })
            default: throw DatabaseError(.typeError, "Invalid input for function 'split()': Expected a String")
            }
        case "randomuuid": return .string(UUID().uuidString.lowercased())
        case "timestamp": return .integer(ctx.temporal.statementTimeEpochNanos / 1_000_000)
        case "valuetype": return .string(valueTypeName(a(0)))

        // MARK: Entities and paths
        case "id":
            switch a(0) {
            case .null: return .null
            case .node(let n): return .integer(n.id)
            case .relationship(let r): return .integer(r.id)
            default: throw DatabaseError(.typeError, "Invalid input for function 'id()': Expected a Node or Relationship")
            }
        case "elementid":
            switch a(0) {
            case .null: return .null
            case .node(let n): return .string(n.elementId)
            case .relationship(let r): return .string(r.elementId)
            default: throw DatabaseError(.typeError, "Invalid input for function 'elementId()': Expected a Node or Relationship")
            }
        case "labels":
            switch a(0) {
            case .null: return .null
            case .node(let n): return .list(try ctx.labels(n.id).map { .string($0) })
            default: throw DatabaseError(.typeError, "Invalid input for function 'labels()': Expected a Node, got: "
                                            + CypherText.literal(a(0)))
            }
        case "type":
            switch a(0) {
            case .null: return .null
            case .relationship(let r): return .string(r.type)
            default: throw DatabaseError(.typeError, "Invalid input for function 'type()': Expected a Relationship, got: "
                                            + CypherText.literal(a(0)))
            }
        case "keys":
            switch a(0) {
            case .null: return .null
            case .node, .relationship:
                return .list(try ctx.properties(a(0)).keys.sorted().map { .string($0) })
            case .map(let m): return .list(m.keys.sorted().map { .string($0) })
            default: throw DatabaseError(.typeError, "Invalid input for function 'keys()': Expected a Node, Relationship or Map")
            }
        case "properties":
            switch a(0) {
            case .null: return .null
            case .node, .relationship, .map: return .map(try ctx.properties(a(0)))
            default:
                throw DatabaseError(.typeError, "Invalid input for function 'properties()': Expected a Node, Relationship or Map")
            }
        case "startnode", "endnode":
            switch a(0) {
            case .null: return .null
            case .relationship(let r):
                return ctx.nodeRef(NodeID(name == "startnode" ? r.startNodeId : r.endNodeId))
            default: throw DatabaseError(.typeError, "Invalid input for function '\(name)()': Expected a Relationship")
            }
        case "nodes":
            switch a(0) {
            case .null: return .null
            case .path(let p): return .list(p.nodes.map { .node($0) })
            default: throw DatabaseError(.typeError, "Invalid input for function 'nodes()': Expected a Path")
            }
        case "relationships":
            switch a(0) {
            case .null: return .null
            case .path(let p): return .list(p.relationships.map { .relationship($0) })
            default: throw DatabaseError(.typeError, "Invalid input for function 'relationships()': Expected a Path")
            }
        case "exists":
            // exists(n.prop) is compiled specially; on a plain value it tests for non-null.
            return .boolean(!a(0).isNull)
        default:
            if let v = try TemporalFunctions.call(name, args, context: ctx.temporal) { return v }
            throw DatabaseError(.syntaxError, "Unknown function '\(name)'")
        }
    }

    private static func rangeInt(_ v: Value) throws -> Int64? {
        switch v {
        case .integer(let i): return i
        default: return nil
        }
    }

    static func splitString(_ s: String, by seps: [String]) -> [String] {
        let nonEmpty = seps.filter { !$0.isEmpty }
        if nonEmpty.isEmpty {
            if seps.isEmpty { return [s] }
            return s.map { String($0) }
        }
        var parts: [String] = []
        var current = ""
        var rest = Substring(s)
        outer: while !rest.isEmpty {
            for sep in nonEmpty where rest.hasPrefix(sep) {
                parts.append(current)
                current = ""
                rest = rest.dropFirst(sep.count)
                continue outer
            }
            current.append(rest.removeFirst())
        }
        parts.append(current)
        return parts
    }

    static func valueTypeName(_ v: Value) -> String {
        switch v {
        case .null: return "NULL"
        case .boolean: return "BOOLEAN NOT NULL"
        case .integer: return "INTEGER NOT NULL"
        case .float: return "FLOAT NOT NULL"
        case .string: return "STRING NOT NULL"
        case .list: return "LIST<ANY> NOT NULL"
        case .map: return "MAP NOT NULL"
        case .node: return "NODE NOT NULL"
        case .relationship: return "RELATIONSHIP NOT NULL"
        case .path: return "PATH NOT NULL"
        default: return Semantics.typeName(v).uppercased() + " NOT NULL"
        }
    }

    // MARK: - Conversions

    /// `toString()` text; `strict` rejects lists/maps/entities with a TypeError as the function does.
    static func toStringValue(_ v: Value, strict: Bool = false) throws -> String {
        switch v {
        case .string(let s): return s
        case .integer(let i): return String(i)
        case .float(let d): return CypherText.formatFloat(d)
        case .boolean(let b): return b ? "true" : "false"
        case .null: return "null"
        case .list, .map, .node, .relationship, .path, .bytes:
            throw DatabaseError(.typeError, "Invalid input for function 'toString()': Expected a String, Number, "
                                    + "Boolean, Temporal or Duration, got: \(CypherText.literal(v))")
        default:
            return temporalText(v)
        }
    }

    static func temporalText(_ v: Value) -> String {
        // The temporal engineer's `cypherString` gives Neo4j's exact text.
        switch v {
        case .date(let d): return d.cypherString
        case .localTime(let t): return t.cypherString
        case .time(let t): return t.cypherString
        case .localDateTime(let t): return t.cypherString
        case .dateTime(let t): return t.cypherString
        case .duration(let d): return d.cypherString
        case .point(let p): return p.cypherString
        default: return CypherText.literal(v)
        }
    }

    static func toInteger(_ v: Value, strict: Bool) throws -> Value {
        switch v {
        case .null: return .null
        case .integer: return v
        case .float(let d):
            if d.isNaN || d.isInfinite || d >= 9.223372036854775807e18 || d < -9.223372036854775808e18 {
                throw DatabaseError(.arithmeticError, "integer overflow converting \(CypherText.formatFloat(d))")
            }
            return .integer(Int64(d.rounded(.towardZero)))
        case .boolean(let b): return .integer(b ? 1 : 0)
        case .string(let s):
            let t = s.trimmingCharacters(in: .whitespaces)
            if let i = Int64(t) { return .integer(i) }
            if t.lowercased().hasPrefix("0x"), let i = Int64(t.dropFirst(2), radix: 16) { return .integer(i) }
            if let d = Double(t), d.isFinite, abs(d) < 9.2e18 { return .integer(Int64(d.rounded(.towardZero))) }
            return .null
        default:
            throw DatabaseError(.typeError, "Invalid input for function 'toInteger()': Expected a String, Float, "
                                    + "Integer or Boolean, got: \(CypherText.literal(v))")
        }
    }

    static func toFloat(_ v: Value, strict: Bool) throws -> Value {
        switch v {
        case .null: return .null
        case .float: return v
        case .integer(let i): return .float(Double(i))
        case .string(let s):
            let t = s.trimmingCharacters(in: .whitespaces)
            if let d = Double(t) { return .float(d) }
            return .null
        default:
            throw DatabaseError(.typeError, "Invalid input for function 'toFloat()': Expected a String, Float or "
                                    + "Integer, got: \(CypherText.literal(v))")
        }
    }

    static func toBoolean(_ v: Value, strict: Bool) throws -> Value {
        switch v {
        case .null: return .null
        case .boolean: return v
        case .string(let s):
            switch s.trimmingCharacters(in: .whitespaces).lowercased() {
            case "true": return .boolean(true)
            case "false": return .boolean(false)
            default: return .null
            }
        case .integer(let i): return .boolean(i != 0)
        default:
            throw DatabaseError(.typeError, "Invalid input for function 'toBoolean()': Expected a String, Integer "
                                    + "or Boolean, got: \(CypherText.literal(v))")
        }
    }
}

/// `range(lo, hi, step)` as a lazy sequence (no overflow past the bounds).
struct RangeSequence: Sequence, IteratorProtocol {
    var next_: Int64
    let hi: Int64
    let step: Int64
    var done: Bool

    init(lo: Int64, hi: Int64, step: Int64) {
        next_ = lo
        self.hi = hi
        self.step = step
        done = step > 0 ? lo > hi : lo < hi
    }

    mutating func next() -> Int64? {
        if done { return nil }
        let v = next_
        let (n, o) = next_.addingReportingOverflow(step)
        if o || (step > 0 ? n > hi : n < hi) { done = true } else { next_ = n }
        return v
    }
}
