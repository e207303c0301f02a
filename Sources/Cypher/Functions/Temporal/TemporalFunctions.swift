import GraphValues

/// Per-statement inputs of the temporal functions.
///
/// `statementTimeEpochNanos` is fixed for the whole statement so that `date()`, `datetime()`,
/// `datetime.statement()` and friends all agree within one query, as Neo4j guarantees.
public struct TemporalContext: Sendable {
    /// The statement's clock reading, nanoseconds since 1970-01-01T00:00Z.
    public var statementTimeEpochNanos: Int64
    /// The transaction's clock reading (used by `*.transaction()`); defaults to the statement time.
    public var transactionTimeEpochNanos: Int64
    /// The zone used when a function needs one and none is given (`db.temporal.timezone`, default "Z").
    public var defaultTimeZone: String

    public init(statementTimeEpochNanos: Int64, transactionTimeEpochNanos: Int64? = nil, defaultTimeZone: String = "Z")
    {
        self.statementTimeEpochNanos = statementTimeEpochNanos
        self.transactionTimeEpochNanos = transactionTimeEpochNanos ?? statementTimeEpochNanos
        self.defaultTimeZone = defaultTimeZone
    }

    /// A context reading the real clock now (for callers without a statement clock, e.g. tests and tools).
    public static func now(defaultTimeZone: String = "Z") -> TemporalContext {
        TemporalContext(statementTimeEpochNanos: TemporalConstruction.realtimeNanos(), defaultTimeZone: defaultTimeZone)
    }
}

/// Temporal and spatial functions, properties, arithmetic and ordering for the Cypher runtime.
///
/// Errors are `DatabaseError`s with Neo4j's codes: invalid values (`date('2015-13-01')`, unknown zones, bad
/// units) are `Neo.ClientError.Statement.ArgumentError`, wrong argument types `…TypeError`, overflow
/// `…ArithmeticError`. Null arguments give null.
public enum TemporalFunctions {
    /// Every function name `call` answers to (lowercased), for the runtime's function table and `dbms.functions`.
    public static let functionNames: [String] = {
        var names: [String] = []
        for kind in ["date", "localtime", "time", "localdatetime", "datetime"] {
            names += [kind, "\(kind).transaction", "\(kind).statement", "\(kind).realtime", "\(kind).truncate"]
        }
        names += [
            "datetime.fromepoch", "datetime.fromepochmillis", "duration", "duration.between", "duration.inmonths",
            "duration.indays", "duration.inseconds", "point", "distance", "point.distance", "point.withinbbox",
        ]
        return names
    }()

    /// Calls the temporal or spatial function `name` (lowercased, dotted: "date", "datetime.truncate",
    /// "duration.between", "point", "distance", "date.statement", …).
    ///
    /// Returns nil when `name` is not a temporal or spatial function.
    public static func call(_ name: String, _ args: [Value], context: TemporalContext) throws -> Value? {
        let lower = name.lowercased()
        let parts = lower.split(separator: ".", maxSplits: 1).map(String.init)
        if let kind = TemporalKind(rawValue: parts[0]) {
            if parts.count == 1 {
                try arity(lower, args, 0...1)
                if args.isEmpty {
                    return try TemporalConstruction.now(
                        kind, clockNanos: context.statementTimeEpochNanos,
                        zone: try CypherTimeZone.parse(context.defaultTimeZone))
                }
                return try TemporalConstruction.construct(kind, from: args[0], context: context)
            }
            switch parts[1] {
            case "transaction", "statement", "realtime":
                try arity(lower, args, 0...1)
                let clock: Int64
                switch parts[1] {
                case "transaction": clock = context.transactionTimeEpochNanos
                case "statement": clock = context.statementTimeEpochNanos
                default: clock = TemporalConstruction.realtimeNanos()
                }
                var zone = try CypherTimeZone.parse(context.defaultTimeZone)
                if let arg = args.first {
                    switch arg {
                    case .null: return .null
                    case .string(let text): zone = try CypherTimeZone.parse(text)
                    default:
                        throw DatabaseError(
                            .typeError, "\(lower)() expects a time zone string, got: \(arg.temporalErrorText)")
                    }
                }
                return try TemporalConstruction.now(kind, clockNanos: clock, zone: zone)
            case "truncate":
                try arity(lower, args, 2...3)
                return try TemporalArithmetic.truncate(
                    kind, unit: args[0], args[1], args.count > 2 ? args[2] : .null, context: context)
            case "fromepoch" where kind == .dateTime:
                try arity(lower, args, 2...2)
                if args[0].isNull || args[1].isNull { return .null }
                return try TemporalConstruction.fromEpoch(
                    ["epochseconds": args[0], "nanosecond": args[1]], zone: .offset(0))
            case "fromepochmillis" where kind == .dateTime:
                try arity(lower, args, 1...1)
                if args[0].isNull { return .null }
                return try TemporalConstruction.fromEpoch(["epochmillis": args[0]], zone: .offset(0))
            default:
                return nil
            }
        }
        switch lower {
        case "duration":
            try arity(lower, args, 1...1)
            return try durationFunction(args[0])
        case "duration.between":
            try arity(lower, args, 2...2)
            return try TemporalArithmetic.between(args[0], args[1], unit: .all)
        case "duration.inmonths":
            try arity(lower, args, 2...2)
            return try TemporalArithmetic.between(args[0], args[1], unit: .months)
        case "duration.indays":
            try arity(lower, args, 2...2)
            return try TemporalArithmetic.between(args[0], args[1], unit: .days)
        case "duration.inseconds":
            try arity(lower, args, 2...2)
            return try TemporalArithmetic.between(args[0], args[1], unit: .seconds)
        case "point":
            try arity(lower, args, 1...1)
            return try SpatialFunctions.point(args[0])
        case "distance", "point.distance":
            try arity(lower, args, 2...2)
            return try SpatialFunctions.distance(args[0], args[1])
        case "point.withinbbox":
            try arity(lower, args, 3...3)
            return try SpatialFunctions.withinBBox(args[0], args[1], args[2])
        default:
            return nil
        }
    }

    private static func arity(_ name: String, _ args: [Value], _ range: ClosedRange<Int>) throws {
        guard range.contains(args.count) else {
            let expected =
                range.lowerBound == range.upperBound
                ? "\(range.lowerBound)" : "\(range.lowerBound) to \(range.upperBound)"
            throw DatabaseError(
                .syntaxError, "Function \(name)() takes \(expected) argument(s), but \(args.count) were given")
        }
    }

    static func durationFunction(_ arg: Value) throws -> Value {
        switch arg {
        case .null:
            return .null
        case .string(let text):
            return .duration(try TemporalParser.duration(text))
        case .duration:
            return arg
        case .map(let map):
            var builder = CypherDuration.Builder()
            var any = false
            for (rawKey, value) in map {
                if value.isNull { continue }
                let amount: CypherDuration.Amount
                switch value {
                case .integer(let i): amount = .integer(i)
                case .float(let f): amount = .float(f)
                default:
                    throw DatabaseError(
                        .typeError, "duration field \(rawKey) must be a number, got: \(value.temporalErrorText)")
                }
                any = true
                switch rawKey.lowercased() {
                case "years": try builder.add(amount, times: 12, .months)
                case "quarters": try builder.add(amount, times: 3, .months)
                case "months": try builder.add(amount, times: 1, .months)
                case "weeks": try builder.add(amount, times: 7, .days)
                case "days": try builder.add(amount, times: 1, .days)
                case "hours": try builder.add(amount, times: 3600, .seconds)
                case "minutes": try builder.add(amount, times: 60, .seconds)
                case "seconds": try builder.add(amount, times: 1, .seconds)
                case "milliseconds": try builder.add(amount, times: 1_000_000, .nanoseconds)
                case "microseconds": try builder.add(amount, times: 1000, .nanoseconds)
                case "nanoseconds": try builder.add(amount, times: 1, .nanoseconds)
                default:
                    throw DatabaseError(.argumentError, "No such field: \(rawKey) (not supported for duration)")
                }
            }
            if !any && !map.isEmpty { return .null }
            return .duration(try builder.build())
        default:
            throw DatabaseError(
                .typeError,
                "Invalid input for function 'duration()': Expected a string or a map, got: \(arg.temporalErrorText)")
        }
    }

    // MARK: - Properties

    /// Component access (`d.year`, `dur.months`, `p.x`, `dt.timezone`…); nil when `value` is not temporal/spatial.
    /// Unknown components throw an ArgumentError (`No such field: …`).
    public static func property(of value: Value, _ key: String) throws -> Value? {
        switch value {
        case .duration(let d):
            guard let v = try d.component(key) else {
                throw DatabaseError(.argumentError, "No such field: \(key)")
            }
            return .integer(v)
        case .point(let p):
            return try SpatialFunctions.property(of: p, key)
        default:
            guard let parts = try TemporalParts.checked(value) else { return nil }
            guard let result = try temporalComponent(value, parts, key.lowercased()) else {
                throw DatabaseError(.argumentError, "No such field: \(key)")
            }
            return result
        }
    }

    private static func temporalComponent(_ value: Value, _ parts: TemporalParts, _ key: String) throws -> Value? {
        if let day = parts.epochDay {
            let civil = TemporalCalendar.civil(day)
            switch key {
            case "year": return .integer(civil.year)
            case "quarter": return .integer(TemporalCalendar.quarter(month: civil.month))
            case "month": return .integer(civil.month)
            case "week": return .integer(TemporalCalendar.isoWeek(day).week)
            case "weekyear": return .integer(TemporalCalendar.isoWeek(day).weekYear)
            case "day": return .integer(civil.day)
            case "ordinalday": return .integer(TemporalCalendar.dayOfYear(day))
            case "dayofweek", "weekday": return .integer(TemporalCalendar.dayOfWeek(day))
            case "dayofquarter":
                let q = TemporalCalendar.quarter(month: civil.month)
                return .integer(day - TemporalCalendar.firstDayOfQuarter(year: civil.year, quarter: q) + 1)
            default: break
            }
        }
        if let nanos = parts.nanoOfDay {
            let seconds = nanos / TemporalCalendar.nanosPerSecond
            let sub = nanos % TemporalCalendar.nanosPerSecond
            switch key {
            case "hour": return .integer(seconds / 3600)
            case "minute": return .integer((seconds / 60) % 60)
            case "second": return .integer(seconds % 60)
            case "millisecond": return .integer(sub / 1_000_000)
            case "microsecond": return .integer(sub / 1000)
            case "nanosecond": return .integer(sub)
            default: break
            }
        }
        if let zone = parts.zone, let offset = parts.offset {
            switch key {
            case "timezone": return .string(zone.name)
            case "offset": return .string(TemporalFormat.offset(offset))
            case "offsetminutes": return .integer(Int64(offset) / 60)
            case "offsetseconds": return .integer(Int64(offset))
            default: break
            }
        }
        if case .dateTime(let dt) = value {
            switch key {
            case "epochseconds": return .integer(dt.epochSeconds)
            case "epochmillis":
                let (ms, o) = dt.epochSeconds.multipliedReportingOverflow(by: 1000)
                if o { throw DatabaseError(.arithmeticError, "epochMillis out of range") }
                return .integer(ms + Int64(dt.nanosecond) / 1_000_000)
            default: break
            }
        }
        return nil
    }

    // MARK: - Operators

    static func isTemporal(_ v: Value) -> Bool {
        switch v {
        case .date, .localTime, .time, .localDateTime, .dateTime, .duration: return true
        default: return false
        }
    }

    static func isNumberOrScalar(_ v: Value) -> Bool {
        switch v {
        case .integer, .float, .boolean, .null: return true
        default: return isTemporal(v)
        }
    }

    static func typeMismatch(_ op: String, _ a: Value, _ b: Value) -> DatabaseError {
        DatabaseError(
            .typeError, "Cannot compute \(a.temporalErrorText) \(op) \(b.temporalErrorText): unsupported operand types")
    }

    /// `a + b` when either operand is temporal; nil when neither is.
    /// Strings and lists are left to the runtime (concatenation / list append).
    public static func add(_ a: Value, _ b: Value) throws -> Value? {
        guard isTemporal(a) || isTemporal(b), isNumberOrScalar(a), isNumberOrScalar(b) else { return nil }
        if a.isNull || b.isNull { return .null }
        switch (a, b) {
        case (.duration(let x), .duration(let y)): return .duration(try x + y)
        case (_, .duration(let d)) where TemporalParts(a) != nil: return try TemporalArithmetic.add(a, d, sign: 1)
        case (.duration(let d), _) where TemporalParts(b) != nil: return try TemporalArithmetic.add(b, d, sign: 1)
        default: throw typeMismatch("+", a, b)
        }
    }

    /// `a - b` when either operand is temporal; nil when neither is.
    public static func subtract(_ a: Value, _ b: Value) throws -> Value? {
        guard isTemporal(a) || isTemporal(b), isNumberOrScalar(a), isNumberOrScalar(b) else { return nil }
        if a.isNull || b.isNull { return .null }
        switch (a, b) {
        case (.duration(let x), .duration(let y)): return .duration(try x - y)
        case (_, .duration(let d)) where TemporalParts(a) != nil: return try TemporalArithmetic.add(a, d, sign: -1)
        default: throw typeMismatch("-", a, b)
        }
    }

    /// `a * b` for a duration and a number; nil when not temporal operands.
    public static func multiply(_ a: Value, _ b: Value) throws -> Value? {
        guard isTemporal(a) || isTemporal(b), isNumberOrScalar(a), isNumberOrScalar(b) else { return nil }
        if a.isNull || b.isNull { return .null }
        switch (a, b) {
        case (.duration(let d), .integer(let n)), (.integer(let n), .duration(let d)):
            return .duration(try d.multiplied(by: n))
        case (.duration(let d), .float(let f)), (.float(let f), .duration(let d)):
            return .duration(try d.multiplied(by: f))
        default: throw typeMismatch("*", a, b)
        }
    }

    /// `a / b` for a duration and a number; nil when not temporal operands.
    public static func divide(_ a: Value, _ b: Value) throws -> Value? {
        guard isTemporal(a) || isTemporal(b), isNumberOrScalar(a), isNumberOrScalar(b) else { return nil }
        if a.isNull || b.isNull { return .null }
        switch (a, b) {
        case (.duration(let d), .integer(let n)): return .duration(try d.divided(by: Double(n)))
        case (.duration(let d), .float(let f)): return .duration(try d.divided(by: f))
        default: throw typeMismatch("/", a, b)
        }
    }

    // MARK: - Ordering

    /// Ordering within one temporal/spatial type for comparisons (`<`, `<=`, …); nil when not comparable.
    /// Durations and points have no `<` order in Cypher (comparisons give null); for ORDER BY use
    /// `orderingCompare`, which also orders those.
    public static func compare(_ a: Value, _ b: Value) -> Int? {
        switch (a, b) {
        case (.date(let x), .date(let y)): return x.epochDays == y.epochDays ? 0 : (x.epochDays < y.epochDays ? -1 : 1)
        case (.localTime(let x), .localTime(let y)):
            return x.nanosecondOfDay == y.nanosecondOfDay ? 0 : (x.nanosecondOfDay < y.nanosecondOfDay ? -1 : 1)
        case (.time(let x), .time(let y)): return CypherTime.order(x, y)
        case (.localDateTime(let x), .localDateTime(let y)): return CypherLocalDateTime.order(x, y)
        case (.dateTime(let x), .dateTime(let y)): return CypherDateTime.order(x, y)
        default: return nil
        }
    }

    /// Total order within one temporal/spatial type for ORDER BY (durations by average length, points by
    /// SRID then coordinates); nil when the values are not of the same temporal/spatial type.
    public static func orderingCompare(_ a: Value, _ b: Value) -> Int? {
        if let c = compare(a, b) { return c }
        switch (a, b) {
        case (.duration(let x), .duration(let y)): return CypherDuration.order(x, y)
        case (.point(let x), .point(let y)): return SpatialFunctions.order(x, y)
        default: return nil
        }
    }
}
