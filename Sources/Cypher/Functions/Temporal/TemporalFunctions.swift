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

    public init(statementTimeEpochNanos: Int64, transactionTimeEpochNanos: Int64? = nil, defaultTimeZone: String = "Z") {
        self.statementTimeEpochNanos = statementTimeEpochNanos
        self.transactionTimeEpochNanos = transactionTimeEpochNanos ?? statementTimeEpochNanos
        self.defaultTimeZone = defaultTimeZone
    }
}

/// Temporal and spatial functions, properties, arithmetic and ordering for the Cypher runtime.
public enum TemporalFunctions {
    /// Calls the temporal or spatial function `name` (lowercased, dotted: "date", "datetime.truncate",
    /// "duration.between", "point", "distance", "date.statement", …).
    ///
    /// Returns nil when `name` is not a temporal or spatial function.
    public static func call(_ name: String, _ args: [Value], context: TemporalContext) throws -> Value? {
        nil
    }

    /// Component access (`d.year`, `dur.months`, `p.x`, `dt.timezone`…); nil when `value` is not temporal/spatial.
    public static func property(of value: Value, _ key: String) throws -> Value? {
        nil
    }

    /// `a + b` when either operand is temporal; nil when neither is.
    public static func add(_ a: Value, _ b: Value) throws -> Value? { nil }

    /// `a - b` when either operand is temporal; nil when neither is.
    public static func subtract(_ a: Value, _ b: Value) throws -> Value? { nil }

    /// `a * b` for a duration and a number; nil when not temporal operands.
    public static func multiply(_ a: Value, _ b: Value) throws -> Value? { nil }

    /// `a / b` for a duration and a number; nil when not temporal operands.
    public static func divide(_ a: Value, _ b: Value) throws -> Value? { nil }

    /// Ordering within one temporal/spatial type for ORDER BY and comparisons; nil when not comparable.
    public static func compare(_ a: Value, _ b: Value) -> Int? { nil }
}
