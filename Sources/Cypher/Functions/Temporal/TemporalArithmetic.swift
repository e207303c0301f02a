import GraphValues

/// Temporal ± duration, `duration.between`/`inMonths`/`inDays`/`inSeconds` and `*.truncate`, with java.time's
/// semantics as Neo4j exposes them.
enum TemporalArithmetic {
    static let nanosPerSecond = TemporalCalendar.nanosPerSecond
    static let nanosPerDay = TemporalCalendar.nanosPerDay

    // MARK: Temporal ± duration

    /// `value + sign × duration`. Months and days move the calendar date (clamping the day to the month's end),
    /// seconds and nanoseconds move the clock; a date only takes whole days out of the seconds; a zoned
    /// date-time moves months/days on its wall clock and seconds on the timeline (as `ZonedDateTime.plus`).
    static func add(_ value: Value, _ duration: CypherDuration, sign: Int64) throws -> Value {
        let d = duration
        guard try TemporalParts.checked(value) != nil else {
            throw DatabaseError(.typeError, "Cannot add a duration to \(value.temporalErrorText)")
        }
        func checked(_ body: () throws -> Value) throws -> Value {
            let result = try body()
            if case .date(let date) = result { try TemporalCalendar.checkYear(date.year) }
            if case .localDateTime(let l) = result { try TemporalCalendar.checkYear(l.date.year) }
            if case .dateTime(let dt) = result { try TemporalCalendar.checkYear(dt.local.date.year) }
            return result
        }
        func mul(_ a: Int64) throws -> Int64 {
            let (r, o) = a.multipliedReportingOverflow(by: sign)
            if o { throw CypherDuration.overflowError() }
            return r
        }
        func moveDate(_ epochDay: Int64) throws -> Int64 {
            guard (-24_000_000_000...24_000_000_000).contains(d.months),
                (-800_000_000_000...800_000_000_000).contains(d.days)
            else {
                throw DatabaseError(.arithmeticError, "Temporal arithmetic result out of range")
            }
            return TemporalCalendar.addingMonths(try mul(d.months), to: epochDay) + (try mul(d.days))
        }
        /// Seconds/nanoseconds of the duration, signed, as (seconds, nanos) with nanos in 0..<1e9.
        func clockShift() throws -> (Int64, Int64) {
            let s = try mul(d.seconds)
            let n = sign * Int64(d.nanoseconds)
            return (s + TemporalCalendar.floorDiv(n, nanosPerSecond), TemporalCalendar.floorMod(n, nanosPerSecond))
        }
        func addLocal(_ seconds: Int64, _ nanos: Int64) throws -> (Int64, Int64) {
            let (ds, dn) = try clockShift()
            let total = nanos + dn
            let (s1, o1) = seconds.addingReportingOverflow(ds)
            if o1 { throw DatabaseError(.arithmeticError, "Temporal arithmetic result out of range") }
            let (s2, o2) = s1.addingReportingOverflow(total / nanosPerSecond)
            if o2 { throw DatabaseError(.arithmeticError, "Temporal arithmetic result out of range") }
            return (s2, total % nanosPerSecond)
        }
        func shiftTimeOfDay(_ nanoOfDay: Int64) throws -> Int64 {
            let (ds, dn) = try clockShift()
            let secondsOfDay = TemporalCalendar.floorMod(ds, 86_400)
            return TemporalCalendar.floorMod(nanoOfDay + secondsOfDay * nanosPerSecond + dn, nanosPerDay)
        }

        switch value {
        case .date(let date):
            return try checked {
                // LocalDate cannot add seconds: only whole days of them count (DurationValue.addTo).
                let days = try moveDate(date.epochDays) + (try mul(d.seconds)) / 86_400
                return .date(CypherDate(epochDays: days))
            }
        case .localTime(let t):
            return .localTime(CypherLocalTime(nanosecondOfDay: try shiftTimeOfDay(t.nanosecondOfDay)))
        case .time(let t):
            return .time(
                CypherTime(nanosecondOfDay: try shiftTimeOfDay(t.nanosecondOfDay), offsetSeconds: t.offsetSeconds))
        case .localDateTime(let l):
            return try checked {
                let day = try moveDate(l.date.epochDays)
                let (s, n) = try addLocal(
                    day * 86_400 + l.localTime.nanosecondOfDay / nanosPerSecond, Int64(l.nanosecond))
                return .localDateTime(CypherLocalDateTime(epochSeconds: s, nanosecond: Int32(n)))
            }
        case .dateTime(let dt):
            return try checked {
                var current = dt
                if d.months != 0 || d.days != 0 {
                    let local = dt.local
                    let day = try moveDate(local.date.epochDays)
                    current = dt.zone.dateTime(
                        localEpochSecond: day * 86_400 + TemporalCalendar.floorMod(local.epochSeconds, 86_400),
                        nanosecond: dt.nanosecond, preferredOffset: dt.offsetSeconds)
                }
                let (s, n) = try addLocal(current.epochSeconds, Int64(current.nanosecond))
                return .dateTime(current.zone.dateTime(epochSecond: s, nanosecond: Int32(n)))
            }
        default:
            throw DatabaseError(.typeError, "Cannot add a duration to \(value.temporalErrorText)")
        }
    }

    // MARK: Between

    enum BetweenUnit { case all, months, days, seconds }

    /// `duration.between(a, b)` and the `inMonths`/`inDays`/`inSeconds` variants. Missing parts are borrowed
    /// from the other operand as Neo4j does (a date gets midnight, a time gets the other's date, a local value
    /// gets the other's zone).
    static func between(_ a: Value, _ b: Value, unit: BetweenUnit) throws -> Value {
        if a.isNull || b.isNull { return .null }
        guard var from = try TemporalParts.checked(a), var to = try TemporalParts.checked(b) else {
            let bad = TemporalParts(a) == nil ? a : b
            throw DatabaseError(.typeError, "Expected a temporal value, got: \(bad.temporalErrorText)")
        }
        if unit == .seconds {
            if from.nanoOfDay == nil { from.nanoOfDay = 0 }
            if to.nanoOfDay == nil { to.nanoOfDay = 0 }
        } else if from.nanoOfDay != nil && to.nanoOfDay == nil {
            to.nanoOfDay = 0
        } else if to.nanoOfDay != nil && from.nanoOfDay == nil {
            from.nanoOfDay = 0
        }
        if from.epochDay != nil && to.epochDay == nil {
            to.epochDay = from.epochDay
        } else if to.epochDay != nil && from.epochDay == nil {
            from.epochDay = to.epochDay
        }
        if let zone = from.zone, to.zone == nil {
            attach(zone, to: &to)
        } else if let zone = to.zone, from.zone == nil {
            attach(zone, to: &from)
        }
        let zoned = from.zone != nil

        guard from.epochDay != nil else {
            // Times of day only: no months or days between them.
            if unit == .months || unit == .days { return .duration(.zero) }
            let fromNanos = (from.nanoOfDay ?? 0) - Int64(from.offset ?? 0) * nanosPerSecond
            let toNanos = (to.nanoOfDay ?? 0) - Int64(to.offset ?? 0) * nanosPerSecond
            return .duration(
                try CypherDuration.normalized(months: 0, days: 0, seconds: 0, nanoseconds: toNanos - fromNanos))
        }

        // (seconds, nanos) pairs: wall clock and timeline.
        func local(_ p: TemporalParts) -> (Int64, Int64) { (p.localSeconds, p.nanoOfSecond) }
        func instant(_ p: TemporalParts) -> (Int64, Int64) {
            (p.localSeconds - Int64(p.offset ?? 0), p.nanoOfSecond)
        }
        let fromLocal = local(from)
        // Date-based units compare wall clocks, with `to` seen in `from`'s zone (ZonedDateTime.until).
        var toLocal = local(to)
        if zoned, let zone = from.zone {
            let (s, n) = instant(to)
            let seen = zone.dateTime(epochSecond: s, nanosecond: Int32(n))
            toLocal = (seen.local.epochSeconds, n)
        }
        func difference(_ x: (Int64, Int64), _ y: (Int64, Int64)) throws -> CypherDuration {
            let (ds, o) = y.0.subtractingReportingOverflow(x.0)
            if o { throw CypherDuration.overflowError() }
            return try CypherDuration.normalized(months: 0, days: 0, seconds: ds, nanoseconds: y.1 - x.1)
        }

        switch unit {
        case .months:
            return .duration(
                CypherDuration(
                    months: dateUnitsUntil(fromLocal, toLocal, months: true), days: 0, seconds: 0, nanoseconds: 0))
        case .days:
            return .duration(
                CypherDuration(
                    months: 0, days: dateUnitsUntil(fromLocal, toLocal, months: false), seconds: 0, nanoseconds: 0))
        case .seconds:
            return .duration(try zoned ? difference(instant(from), instant(to)) : difference(fromLocal, toLocal))
        case .all:
            let months = dateUnitsUntil(fromLocal, toLocal, months: true)
            var moved = from
            moved.epochDay = TemporalCalendar.addingMonths(months, to: from.epochDay!)
            reresolve(&moved)
            let days = dateUnitsUntil(local(moved), toLocal, months: false)
            moved.epochDay = moved.epochDay! + days
            reresolve(&moved)
            let rest = try zoned ? difference(instant(moved), instant(to)) : difference(local(moved), toLocal)
            return .duration(
                CypherDuration(months: months, days: days, seconds: rest.seconds, nanoseconds: rest.nanoseconds))
        }
    }

    /// Gives a local value a zone (and the offset in force there).
    private static func attach(_ zone: CypherTimeZone, to parts: inout TemporalParts) {
        parts.zone = zone
        if let day = parts.epochDay {
            parts.offset =
                zone.dateTime(
                    localEpochSecond: day * 86_400 + (parts.nanoOfDay ?? 0) / nanosPerSecond, nanosecond: 0
                ).offsetSeconds
        } else if case .offset(let o) = zone {
            parts.offset = o
        } else {
            parts.offset = zone.offset(atEpochSecond: 0)
        }
    }

    /// After moving a zoned value's wall clock, find its offset again (keeping the old one in an overlap, and
    /// moving forward out of a gap).
    private static func reresolve(_ parts: inout TemporalParts) {
        guard let zone = parts.zone, case .named = zone, let day = parts.epochDay else { return }
        let dt = zone.dateTime(
            localEpochSecond: day * 86_400 + (parts.nanoOfDay ?? 0) / nanosPerSecond,
            nanosecond: Int32(parts.nanoOfSecond), preferredOffset: parts.offset)
        if let p = TemporalParts(.dateTime(dt)) { parts = p }
    }

    /// Whole months or days from one wall-clock reading to another (java.time `LocalDateTime.until`).
    static func dateUnitsUntil(_ from: (Int64, Int64), _ to: (Int64, Int64), months: Bool) -> Int64 {
        let fromDate = TemporalCalendar.floorDiv(from.0, 86_400)
        let toDate = TemporalCalendar.floorDiv(to.0, 86_400)
        let fromTime = TemporalCalendar.floorMod(from.0, 86_400) * nanosPerSecond + from.1
        let toTime = TemporalCalendar.floorMod(to.0, 86_400) * nanosPerSecond + to.1
        var endDate = toDate
        if endDate > fromDate && toTime < fromTime {
            endDate -= 1
        } else if endDate < fromDate && toTime > fromTime {
            endDate += 1
        }
        return months ? TemporalCalendar.monthsBetween(fromDate, endDate) : endDate - fromDate
    }

    // MARK: Truncate

    static let dateUnits: [String: Int] = [
        "millennium": 0, "century": 1, "decade": 2, "year": 3, "weekyear": 4, "quarter": 5, "month": 6, "week": 7,
        "day": 8,
    ]
    static let timeUnits: [String: Int] = ["hour": 9, "minute": 10, "second": 11, "millisecond": 12, "microsecond": 13]

    /// `kind.truncate(unit, value, overrides)`.
    static func truncate(
        _ kind: TemporalKind, unit unitValue: Value, _ value: Value, _ overrides: Value,
        context: TemporalContext
    ) throws -> Value {
        if value.isNull { return .null }
        guard case .string(let unitName) = unitValue else {
            throw DatabaseError(
                .typeError, "The unit of truncate must be a string, got: \(unitValue.temporalErrorText)")
        }
        guard var parts = try TemporalParts.checked(value) else {
            throw DatabaseError(.typeError, "Cannot truncate \(value.temporalErrorText)")
        }
        var map: [String: Value] = [:]
        switch overrides {
        case .null: break
        case .map(let m): for (k, v) in m where !v.isNull { map[k.lowercased()] = v }
        default:
            throw DatabaseError(.typeError, "The fields of truncate must be a map, got: \(overrides.temporalErrorText)")
        }
        let unit = unitName.lowercased()
        guard let rank = dateUnits[unit] ?? timeUnits[unit] else {
            throw DatabaseError(.argumentError, "Unsupported unit: \(unitName)")
        }
        if kind.hasDate {
            guard parts.epochDay != nil else {
                throw DatabaseError(.argumentError, "Cannot truncate \(value.temporalErrorText) to \(kind.rawValue)")
            }
            if kind == .date && rank > 8 {
                throw DatabaseError(.argumentError, "Unit too small for truncating a date: \(unitName)")
            }
        } else if rank < 8 {
            throw DatabaseError(.argumentError, "Unit too large for truncating a time: \(unitName)")
        }

        if rank <= 8, let day = parts.epochDay {
            let (y, m, _) = TemporalCalendar.civil(day)
            switch unit {
            case "millennium":
                parts.epochDay = TemporalCalendar.epochDay(
                    year: y - TemporalCalendar.floorMod(y, 1000), month: 1, day: 1)
            case "century":
                parts.epochDay = TemporalCalendar.epochDay(
                    year: y - TemporalCalendar.floorMod(y, 100), month: 1, day: 1)
            case "decade":
                parts.epochDay = TemporalCalendar.epochDay(year: y - TemporalCalendar.floorMod(y, 10), month: 1, day: 1)
            case "year": parts.epochDay = TemporalCalendar.epochDay(year: y, month: 1, day: 1)
            case "weekyear":
                parts.epochDay = TemporalCalendar.firstDayOfWeekYear(TemporalCalendar.isoWeek(day).weekYear)
            case "quarter":
                parts.epochDay = TemporalCalendar.firstDayOfQuarter(
                    year: y, quarter: TemporalCalendar.quarter(month: m))
            case "month": parts.epochDay = TemporalCalendar.epochDay(year: y, month: m, day: 1)
            case "week": parts.epochDay = day - TemporalCalendar.dayOfWeek(day) + 1
            default: break
            }
        }
        var nanos = parts.nanoOfDay ?? 0
        switch unit {
        case "hour": nanos -= nanos % (3600 * nanosPerSecond)
        case "minute": nanos -= nanos % (60 * nanosPerSecond)
        case "second": nanos -= nanos % nanosPerSecond
        case "millisecond": nanos -= nanos % 1_000_000
        case "microsecond": nanos -= nanos % 1000
        default: nanos = 0
        }
        parts.nanoOfDay = nanos
        // A finer field in the overrides counts within the truncated unit (Neo4j adds the kept part to it).
        let subsecond = nanos % nanosPerSecond
        // (Out-of-range sums are left to the field range checks; &+ only avoids a trap on absurd inputs.)
        if unit == "millisecond" {
            if let us = map["microsecond"], case .integer(let v) = us {
                map["microsecond"] = .integer(v &+ subsecond / 1000)
            } else if let ns = map["nanosecond"], case .integer(let v) = ns {
                map["nanosecond"] = .integer(v &+ subsecond)
            }
        } else if unit == "microsecond", let ns = map["nanosecond"], case .integer(let v) = ns {
            map["nanosecond"] = .integer(v &+ subsecond)
        }

        var zoneOverride: CypherTimeZone?
        if let tz = map.removeValue(forKey: "timezone") {
            guard kind.hasZone, case .string(let name) = tz else {
                throw DatabaseError(.argumentError, "Cannot set timezone when truncating to \(kind.rawValue)")
            }
            zoneOverride = try CypherTimeZone.parse(name)
        }
        let allowed = (kind.hasDate ? TemporalConstruction.dateFields : []).union(
            kind.hasTime ? TemporalConstruction.timeFields : [])
        for key in map.keys where !allowed.contains(key) {
            throw DatabaseError(.argumentError, "No such field: \(key) (not supported for \(kind.rawValue))")
        }
        if kind.hasDate, map.keys.contains(where: { TemporalConstruction.dateFields.contains($0) }) {
            parts.epochDay = try TemporalConstruction.resolveDate(map, base: parts.epochDay)
        }
        if kind.hasTime, map.keys.contains(where: { TemporalConstruction.timeFields.contains($0) }) {
            parts.nanoOfDay = try TemporalConstruction.resolveTime(map, base: parts.nanoOfDay)
        }
        if let zoneOverride {
            parts.zone = zoneOverride
            parts.offset = nil
        }
        let defaultZone = try CypherTimeZone.parse(context.defaultTimeZone)
        return try parts.make(
            kind, defaultZone: defaultZone,
            now: TemporalCalendar.floorDiv(context.statementTimeEpochNanos, 1_000_000_000))
    }
}
