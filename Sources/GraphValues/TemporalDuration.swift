/// Duration construction and arithmetic with Neo4j's semantics.
///
/// Fractions cascade downwards the way Neo4j's `DurationValue.approximate` does: a fraction of a month becomes
/// days at the average month length (365.2425 / 12 = 30.436875 days), a fraction of a day becomes seconds
/// (86,400 per day), a fraction of a second nanoseconds. Integer inputs stay exact (no Double round trip).
extension CypherDuration {
    /// `PT0S`.
    public static let zero = CypherDuration(months: 0, days: 0, seconds: 0, nanoseconds: 0)
    /// Average days per month used to spread fractional months (Neo4j's AVG_DAYS_PER_MONTH).
    public static let averageDaysPerMonth = 365.2425 / 12
    /// Average seconds per month (used for ordering durations, as Neo4j does).
    public static let averageSecondsPerMonth: Int64 = 2_629_746

    /// Builds a normalised duration (nanoseconds carried into seconds). Throws ArgumentError on overflow.
    public static func normalized(months: Int64, days: Int64, seconds: Int64, nanoseconds: Int64) throws
        -> CypherDuration
    {
        let carry = TemporalCalendar.floorDiv(nanoseconds, TemporalCalendar.nanosPerSecond)
        let (s, overflow) = seconds.addingReportingOverflow(carry)
        if overflow { throw overflowError() }
        // Like Neo4j, refuse durations whose average length in seconds does not fit in 64 bits, so that ordering
        // and every derived total stay computable.
        let (m, o1) = months.multipliedReportingOverflow(by: averageSecondsPerMonth)
        let (d, o2) = days.multipliedReportingOverflow(by: TemporalCalendar.secondsPerDay)
        let (md, o3) = m.addingReportingOverflow(d)
        let (_, o4) = md.addingReportingOverflow(s)
        if o1 || o2 || o3 || o4 { throw overflowError() }
        return CypherDuration(
            months: months, days: days, seconds: s,
            nanoseconds: Int32(TemporalCalendar.floorMod(nanoseconds, TemporalCalendar.nanosPerSecond)))
    }

    /// The error Neo4j raises for a duration that would overflow (an ArgumentError, from its constructor check).
    public static func overflowError() -> DatabaseError {
        DatabaseError(.argumentError, "Invalid value for duration, will cause overflow")
    }

    /// One amount of a duration component: exact when integral, otherwise a Double.
    public enum Amount: Sendable {
        case integer(Int64)
        case float(Double)
    }

    /// Accumulates duration components (each in its unit) and folds fractions down as Neo4j does.
    public struct Builder: Sendable {
        var months: Int64 = 0
        var days: Int64 = 0
        var seconds: Int64 = 0
        var nanos: Int64 = 0
        var fracMonths = 0.0
        var fracDays = 0.0
        var fracSeconds = 0.0
        var fracNanos = 0.0

        public init() {}

        public enum Unit: Sendable { case months, days, seconds, nanoseconds }

        /// Adds `amount × factor` of `unit` (e.g. years are months × 12, weeks days × 7, hours seconds × 3600).
        public mutating func add(_ amount: Amount, times factor: Int64, _ unit: Unit) throws {
            switch amount {
            case .integer(let value):
                let (product, o1) = value.multipliedReportingOverflow(by: factor)
                if o1 { throw CypherDuration.overflowError() }
                func accumulate(_ total: inout Int64) throws {
                    let (sum, o2) = total.addingReportingOverflow(product)
                    if o2 { throw CypherDuration.overflowError() }
                    total = sum
                }
                switch unit {
                case .months: try accumulate(&months)
                case .days: try accumulate(&days)
                case .seconds: try accumulate(&seconds)
                case .nanoseconds: try accumulate(&nanos)
                }
            case .float(let value):
                guard value.isFinite else { throw CypherDuration.overflowError() }
                // Keep the integral part exact when it fits, so large whole amounts lose nothing.
                let whole = value.rounded(.towardZero)
                if abs(whole) < 9e15 {
                    try add(.integer(Int64(whole)), times: factor, unit)
                    let rest = (value - whole) * Double(factor)
                    switch unit {
                    case .months: fracMonths += rest
                    case .days: fracDays += rest
                    case .seconds: fracSeconds += rest
                    case .nanoseconds: fracNanos += rest
                    }
                } else {
                    throw CypherDuration.overflowError()
                }
            }
        }

        /// The duration, with fractions cascaded to smaller units.
        public func build() throws -> CypherDuration {
            var months = self.months
            var days = self.days
            var seconds = self.seconds
            var nanos = self.nanos
            func split(_ value: Double) throws -> (Int64, Double) {
                guard value.isFinite, abs(value) < 9e18 else { throw CypherDuration.overflowError() }
                let whole = value.rounded(.towardZero)
                return (Int64(whole), value - whole)
            }
            func accumulate(_ total: inout Int64, _ part: Int64) throws {
                let (sum, overflow) = total.addingReportingOverflow(part)
                if overflow { throw CypherDuration.overflowError() }
                total = sum
            }
            var (m, rest) = try split(fracMonths)
            try accumulate(&months, m)
            (m, rest) = try split(fracDays + rest * CypherDuration.averageDaysPerMonth)
            try accumulate(&days, m)
            (m, rest) = try split(fracSeconds + rest * Double(TemporalCalendar.secondsPerDay))
            try accumulate(&seconds, m)
            let nanosDouble = fracNanos + rest * Double(TemporalCalendar.nanosPerSecond)
            // Binary fractions such as 0.1 s land a hair below the intended nanosecond; snap those.
            let nearest = nanosDouble.rounded()
            let snapped = abs(nanosDouble - nearest) < 1e-4 ? nearest : nanosDouble.rounded(.towardZero)
            guard abs(snapped) < 9e18 else { throw CypherDuration.overflowError() }
            let (sum, overflow) = nanos.addingReportingOverflow(Int64(snapped))
            if overflow { throw CypherDuration.overflowError() }
            nanos = sum
            return try CypherDuration.normalized(months: months, days: days, seconds: seconds, nanoseconds: nanos)
        }
    }

    /// Neo4j's approximate(months, days, seconds, nanos) for products and quotients by floats.
    public static func approximate(months: Double, days: Double, seconds: Double, nanoseconds: Double) throws
        -> CypherDuration
    {
        var builder = Builder()
        try builder.add(.float(months), times: 1, .months)
        try builder.add(.float(days), times: 1, .days)
        try builder.add(.float(seconds), times: 1, .seconds)
        try builder.add(.float(nanoseconds), times: 1, .nanoseconds)
        return try builder.build()
    }

    // MARK: Arithmetic

    /// Component-wise sum (Neo4j `d1 + d2`).
    public static func + (a: CypherDuration, b: CypherDuration) throws -> CypherDuration {
        try combine(a, b, sign: 1)
    }

    /// Component-wise difference (Neo4j `d1 - d2`).
    public static func - (a: CypherDuration, b: CypherDuration) throws -> CypherDuration {
        try combine(a, b, sign: -1)
    }

    private static func combine(_ a: CypherDuration, _ b: CypherDuration, sign: Int64) throws -> CypherDuration {
        func op(_ x: Int64, _ y: Int64) throws -> Int64 {
            let (r, o) = sign > 0 ? x.addingReportingOverflow(y) : x.subtractingReportingOverflow(y)
            if o { throw overflowError() }
            return r
        }
        return try normalized(
            months: op(a.months, b.months), days: op(a.days, b.days), seconds: op(a.seconds, b.seconds),
            nanoseconds: sign * Int64(b.nanoseconds) + Int64(a.nanoseconds))
    }

    /// `d * n` for an integer (exact).
    public func multiplied(by factor: Int64) throws -> CypherDuration {
        func op(_ x: Int64) throws -> Int64 {
            let (r, o) = x.multipliedReportingOverflow(by: factor)
            if o { throw CypherDuration.overflowError() }
            return r
        }
        return try CypherDuration.normalized(
            months: op(months), days: op(days), seconds: op(seconds), nanoseconds: op(Int64(nanoseconds)))
    }

    /// `d * f` for a float (fractions cascade down).
    public func multiplied(by factor: Double) throws -> CypherDuration {
        try CypherDuration.approximate(
            months: Double(months) * factor, days: Double(days) * factor, seconds: Double(seconds) * factor,
            nanoseconds: Double(nanoseconds) * factor)
    }

    /// `d / x` (Neo4j divides every component as a Double and cascades the fractions).
    public func divided(by divisor: Double) throws -> CypherDuration {
        // Neo4j divides as doubles; a zero divisor gives infinite parts, which its overflow check rejects.
        guard divisor != 0 else { throw CypherDuration.overflowError() }
        return try CypherDuration.approximate(
            months: Double(months) / divisor, days: Double(days) / divisor, seconds: Double(seconds) / divisor,
            nanoseconds: Double(nanoseconds) / divisor)
    }

    /// The negated duration.
    public func negated() throws -> CypherDuration {
        try CypherDuration.zero - self
    }

    /// Neo4j's total order for durations (ORDER BY): by average length, then by the parts.
    public static func order(_ a: CypherDuration, _ b: CypherDuration) -> Int {
        func key(_ d: CypherDuration) -> (Double, Int64, Int64, Int64, Int32) {
            let total =
                Double(d.months) * Double(averageSecondsPerMonth) + Double(d.days) * 86_400
                + Double(d.seconds) + Double(d.nanoseconds) / 1e9
            return (total, d.months, d.days, d.seconds, d.nanoseconds)
        }
        let ka = key(a)
        let kb = key(b)
        if ka < kb { return -1 }
        if kb < ka { return 1 }
        return 0
    }

    // MARK: Components (Neo4j property names)

    /// A duration component (`years`, `monthsOfYear`, `nanosecondsOfSecond`…) or nil for an unknown name.
    /// Throws ArithmeticError when a total (`nanoseconds` of a huge duration) does not fit in 64 bits.
    public func component(_ name: String) throws -> Int64? {
        func total(_ perSecond: Int64, _ divisor: Int64) throws -> Int64 {
            let (scaled, o1) = seconds.multipliedReportingOverflow(by: perSecond)
            let (sum, o2) = scaled.addingReportingOverflow(Int64(nanoseconds) / divisor)
            if o1 || o2 { throw CypherDuration.overflowError() }
            return sum
        }
        switch name.lowercased() {
        case "years": return months / 12
        case "quarters": return months / 3
        case "months": return months
        case "weeks": return days / 7
        case "days": return days
        case "hours": return seconds / 3600
        case "minutes": return seconds / 60
        case "seconds": return seconds
        case "milliseconds": return try total(1000, 1_000_000)
        case "microseconds": return try total(1_000_000, 1000)
        case "nanoseconds": return try total(1_000_000_000, 1)
        case "quartersofyear": return (months / 3) % 4
        case "monthsofquarter": return months % 3
        case "monthsofyear": return months % 12
        case "daysofweek": return days % 7
        case "minutesofhour": return (seconds / 60) % 60
        case "secondsofminute": return seconds % 60
        case "millisecondsofsecond": return Int64(nanoseconds) / 1_000_000
        case "microsecondsofsecond": return Int64(nanoseconds) / 1000
        case "nanosecondsofsecond": return Int64(nanoseconds)
        default: return nil
        }
    }
}
