import GraphValues

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Building temporal values from maps, strings, other temporals and the clock, following Neo4j's rules:
/// fields may only be given from the largest unit down without gaps (`{hour, second}` is an error), a date is
/// either calendar (`year, month, day`), week (`year, week, dayOfWeek`), quarter (`year, quarter, dayOfQuarter`)
/// or ordinal (`year, ordinalDay`), and `date`/`time`/`datetime` keys select parts of another temporal that the
/// remaining fields then override.
enum TemporalConstruction {
    static let dateFields: Set<String> = [
        "year", "month", "day", "week", "dayofweek", "ordinalday", "quarter", "dayofquarter",
    ]
    static let timeFields: Set<String> = ["hour", "minute", "second", "millisecond", "microsecond", "nanosecond"]

    static func argumentError(_ message: String) -> DatabaseError { DatabaseError(.argumentError, message) }

    static func integer(_ value: Value, _ field: String) throws -> Int64 {
        switch value {
        case .integer(let i): return i
        case .float(let f) where f == f.rounded() && abs(f) < 9e18: return Int64(f)
        default:
            throw DatabaseError(.typeError, "\(field) must be an integer value, but was: \(value.temporalErrorText)")
        }
    }

    // MARK: Entry points

    /// `date(x)`, `localtime(x)`, … with one argument.
    static func construct(_ kind: TemporalKind, from argument: Value, context: TemporalContext) throws -> Value {
        let defaultZone = try CypherTimeZone.parse(context.defaultTimeZone)
        let now = context.statementTimeEpochNanos
        switch argument {
        case .null:
            return .null
        case .string(let text):
            return try parse(
                kind, text, defaultZone: defaultZone, nowSeconds: TemporalCalendar.floorDiv(now, 1_000_000_000))
        case .map(let map):
            return try fromMap(kind, map, context: context, clockNanos: now)
        default:
            guard let parts = try TemporalParts.checked(argument) else {
                throw DatabaseError(
                    .typeError,
                    "Invalid input for function '\(kind.rawValue)()': "
                        + "Expected a string, a map or a temporal value, got: \(argument.temporalErrorText)")
            }
            return try convert(parts, to: kind, defaultZone: defaultZone, now: now)
        }
    }

    static func parse(_ kind: TemporalKind, _ text: String, defaultZone: CypherTimeZone, nowSeconds: Int64) throws
        -> Value
    {
        switch kind {
        case .date: return .date(try TemporalParser.date(text))
        case .localTime: return .localTime(try TemporalParser.localTime(text))
        case .time: return .time(try TemporalParser.time(text, defaultZone: defaultZone, now: nowSeconds))
        case .localDateTime: return .localDateTime(try TemporalParser.localDateTime(text))
        case .dateTime: return .dateTime(try TemporalParser.dateTime(text, defaultZone: defaultZone))
        }
    }

    /// Converts another temporal (its date, time and zone parts) to `kind`.
    static func convert(_ parts: TemporalParts, to kind: TemporalKind, defaultZone: CypherTimeZone, now: Int64)
        throws -> Value
    {
        if kind.hasDate && parts.epochDay == nil {
            throw argumentError("Cannot construct \(kind.rawValue) from a value without a date")
        }
        return try parts.make(kind, defaultZone: defaultZone, now: TemporalCalendar.floorDiv(now, 1_000_000_000))
    }

    /// The current value of `kind` at `clockNanos` (epoch nanoseconds) in `zone`.
    static func now(_ kind: TemporalKind, clockNanos: Int64, zone: CypherTimeZone) throws -> Value {
        let seconds = TemporalCalendar.floorDiv(clockNanos, 1_000_000_000)
        let nanos = Int32(TemporalCalendar.floorMod(clockNanos, 1_000_000_000))
        let dt = zone.dateTime(epochSecond: seconds, nanosecond: nanos)
        guard let parts = TemporalParts(.dateTime(dt)) else { return .null }
        return try parts.make(kind, defaultZone: zone, now: seconds)
    }

    static func realtimeNanos() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }

    // MARK: Maps

    static func fromMap(_ kind: TemporalKind, _ input: [String: Value], context: TemporalContext, clockNanos: Int64)
        throws -> Value
    {
        var map: [String: Value] = [:]
        for (key, value) in input where !value.isNull { map[key.lowercased()] = value }
        let defaultZone = try CypherTimeZone.parse(context.defaultTimeZone)
        let nowSeconds = TemporalCalendar.floorDiv(clockNanos, 1_000_000_000)

        var explicitZone: CypherTimeZone?
        if let tz = map.removeValue(forKey: "timezone") {
            guard case .string(let name) = tz else {
                throw DatabaseError(.typeError, "timezone must be a string, but was: \(tz.temporalErrorText)")
            }
            explicitZone = try CypherTimeZone.parse(name)
        }

        // Only a time zone: the current value in that zone.
        if map.isEmpty {
            if let explicitZone { return try now(kind, clockNanos: clockNanos, zone: explicitZone) }
            if kind.hasDate { throw argumentError("year must be specified") }
        }

        var allowed = Set<String>()
        if kind.hasDate { allowed.formUnion(dateFields) }
        if kind.hasTime { allowed.formUnion(timeFields) }
        if kind == .date { allowed.insert("date") }
        if kind == .localTime || kind == .time { allowed.formUnion(["time"]) }
        if kind == .localDateTime || kind == .dateTime { allowed.formUnion(["date", "time", "datetime"]) }
        if kind == .dateTime { allowed.formUnion(["epochseconds", "epochmillis"]) }
        for key in map.keys where !allowed.contains(key) {
            throw argumentError("No such field: \(key) (not supported for \(kind.rawValue))")
        }
        if !kind.hasZone, explicitZone != nil {
            throw argumentError("Cannot specify timezone when constructing a \(kind.rawValue) from fields")
        }

        // datetime({epochSeconds | epochMillis, [nanosecond…], [timezone]})
        if map["epochseconds"] != nil || map["epochmillis"] != nil {
            return try fromEpoch(map, zone: explicitZone ?? defaultZone)
        }

        var parts = TemporalParts()
        // Selection of another temporal's parts.
        if let source = map.removeValue(forKey: "datetime") {
            guard let p = try TemporalParts.checked(source) else { throw selectionError("datetime", source) }
            guard p.epochDay != nil && p.nanoOfDay != nil else { throw selectionError("datetime", source) }
            parts = p
        }
        if let source = map.removeValue(forKey: "date") {
            guard let p = try TemporalParts.checked(source), p.epochDay != nil else {
                throw selectionError("date", source)
            }
            parts.epochDay = p.epochDay
        }
        if let source = map.removeValue(forKey: "time") {
            guard let p = try TemporalParts.checked(source), p.nanoOfDay != nil else {
                throw selectionError("time", source)
            }
            parts.nanoOfDay = p.nanoOfDay
            if p.zone != nil {
                parts.zone = p.zone
                parts.offset = p.offset
            }
        }

        if kind.hasDate {
            parts.epochDay = try resolveDate(map, base: parts.epochDay)
        }
        if kind.hasTime {
            parts.nanoOfDay = try resolveTime(map, base: parts.nanoOfDay)
        }

        if let explicitZone, kind.hasZone {
            if let sourceZone = parts.zone, parts.epochDay != nil, kind == .dateTime {
                // A selected zoned value moves to the new zone keeping its instant.
                let existing = try parts.make(.dateTime, defaultZone: sourceZone, now: nowSeconds)
                if case .dateTime(let dt) = existing { return .dateTime(dt.converted(to: explicitZone)) }
            } else if parts.zone != nil, kind == .time, let sourceOffset = parts.offset {
                // A time with an offset converts to the new zone's offset.
                let newOffset = explicitZone.offset(atEpochSecond: nowSeconds)
                let shifted = TemporalCalendar.floorMod(
                    (parts.nanoOfDay ?? 0) + Int64(newOffset - sourceOffset) * 1_000_000_000,
                    TemporalCalendar.nanosPerDay)
                return .time(CypherTime(nanosecondOfDay: shifted, offsetSeconds: newOffset))
            }
            parts.zone = explicitZone
            parts.offset = nil
        }
        return try parts.make(kind, defaultZone: defaultZone, now: nowSeconds)
    }

    static func selectionError(_ key: String, _ value: Value) -> DatabaseError {
        DatabaseError(.typeError, "Cannot select \(key) from \(value.temporalErrorText)")
    }

    static func fromEpoch(_ map: [String: Value], zone: CypherTimeZone) throws -> Value {
        if map["epochseconds"] != nil && map["epochmillis"] != nil {
            throw argumentError("Cannot specify both epochSeconds and epochMillis")
        }
        for key in map.keys
        where !["epochseconds", "epochmillis", "millisecond", "microsecond", "nanosecond"].contains(key) {
            throw argumentError("Cannot combine epoch fields with \(key)")
        }
        var seconds: Int64
        var nanos: Int64 = 0
        if let s = map["epochseconds"] {
            if case .float(let f) = s {
                guard f.isFinite, abs(f) < 9e15 else { throw argumentError("epochSeconds out of range") }
                seconds = Int64(f.rounded(.down))
                nanos = Int64(((f - f.rounded(.down)) * 1e9).rounded())
            } else {
                seconds = try integer(s, "epochSeconds")
            }
        } else {
            let millis = try integer(map["epochmillis"]!, "epochMillis")
            seconds = TemporalCalendar.floorDiv(millis, 1000)
            nanos = TemporalCalendar.floorMod(millis, 1000) * 1_000_000
        }
        nanos += try subsecondNanos(map) ?? 0
        seconds += TemporalCalendar.floorDiv(nanos, 1_000_000_000)
        nanos = TemporalCalendar.floorMod(nanos, 1_000_000_000)
        try checkInstant(seconds)
        return .dateTime(zone.dateTime(epochSecond: seconds, nanosecond: Int32(nanos)))
    }

    static func checkInstant(_ seconds: Int64) throws {
        // ±999999999 years, as java.time's Instant range.
        guard seconds >= -31_557_014_135_596_800 && seconds <= 31_556_889_832_780_799 else {
            throw argumentError("Instant exceeds minimum or maximum instant")
        }
    }

    /// Date fields over an optional base date.
    static func resolveDate(_ map: [String: Value], base: Int64?) throws -> Int64 {
        func field(_ name: String) throws -> Int64? {
            guard let v = map[name] else { return nil }
            return try integer(v, name)
        }
        let year = try field("year")
        let month = try field("month")
        let day = try field("day")
        let week = try field("week")
        let dayOfWeek = try field("dayofweek")
        let ordinalDay = try field("ordinalday")
        let quarter = try field("quarter")
        let dayOfQuarter = try field("dayofquarter")

        let calendarGroup = month != nil || day != nil
        let weekGroup = week != nil || dayOfWeek != nil
        let ordinalGroup = ordinalDay != nil
        let quarterGroup = quarter != nil || dayOfQuarter != nil
        let groups = [calendarGroup, weekGroup, ordinalGroup, quarterGroup].filter { $0 }.count
        guard groups <= 1 else {
            throw argumentError("Cannot mix calendar, week, ordinal and quarter date fields")
        }

        guard let base else {
            guard let year else { throw argumentError("year must be specified") }
            if weekGroup {
                if dayOfWeek != nil && week == nil { throw argumentError("dayOfWeek cannot be specified without week") }
                return try TemporalCalendar.validWeekDate(weekYear: year, week: week ?? 1, dayOfWeek: dayOfWeek ?? 1)
            }
            if ordinalGroup { return try TemporalCalendar.validOrdinalDate(year: year, dayOfYear: ordinalDay!) }
            if quarterGroup {
                if dayOfQuarter != nil && quarter == nil {
                    throw argumentError("dayOfQuarter cannot be specified without quarter")
                }
                return try TemporalCalendar.validQuarterDate(
                    year: year, quarter: quarter ?? 1, dayOfQuarter: dayOfQuarter ?? 1)
            }
            if day != nil && month == nil { throw argumentError("day cannot be specified without month") }
            return try TemporalCalendar.validDate(year: year, month: month ?? 1, day: day ?? 1)
        }

        // Overrides over a selected date.
        let civil = TemporalCalendar.civil(base)
        if weekGroup {
            let iso = TemporalCalendar.isoWeek(base)
            return try TemporalCalendar.validWeekDate(
                weekYear: year ?? iso.weekYear, week: week ?? iso.week,
                dayOfWeek: dayOfWeek ?? TemporalCalendar.dayOfWeek(base))
        }
        if ordinalGroup {
            return try TemporalCalendar.validOrdinalDate(year: year ?? civil.year, dayOfYear: ordinalDay!)
        }
        if quarterGroup {
            let q = TemporalCalendar.quarter(month: civil.month)
            let dayOfQ = base - TemporalCalendar.firstDayOfQuarter(year: civil.year, quarter: q) + 1
            return try TemporalCalendar.validQuarterDate(
                year: year ?? civil.year, quarter: quarter ?? q, dayOfQuarter: dayOfQuarter ?? dayOfQ)
        }
        return try TemporalCalendar.validDate(
            year: year ?? civil.year, month: month ?? civil.month, day: day ?? civil.day)
    }

    /// Sub-second fields as nanoseconds (nil when none given), with Neo4j's ranges: millisecond 0-999,
    /// microsecond 0-999999 (0-999 after a millisecond), nanosecond 0-999999999 (0-999999 after a millisecond,
    /// 0-999 after a microsecond).
    static func subsecondNanos(_ map: [String: Value]) throws -> Int64? {
        let ms = try map["millisecond"].map { try integer($0, "millisecond") }
        let us = try map["microsecond"].map { try integer($0, "microsecond") }
        let ns = try map["nanosecond"].map { try integer($0, "nanosecond") }
        if ms == nil && us == nil && ns == nil { return nil }
        if let ms, !(0...999).contains(ms) {
            throw argumentError("Invalid value for MilliOfSecond (valid values 0 - 999): \(ms)")
        }
        if let us, !(0...(ms != nil ? 999 : 999_999)).contains(us) {
            throw argumentError(
                "Invalid value for MicroOfSecond (valid values 0 - \(ms != nil ? 999 : 999_999)): \(us)")
        }
        if let ns {
            let limit: Int64 = us != nil ? 999 : (ms != nil ? 999_999 : 999_999_999)
            guard (0...limit).contains(ns) else {
                throw argumentError("Invalid value for NanoOfSecond (valid values 0 - \(limit)): \(ns)")
            }
        }
        return (ms ?? 0) * 1_000_000 + (us ?? 0) * 1000 + (ns ?? 0)
    }

    /// Time fields over an optional base time.
    static func resolveTime(_ map: [String: Value], base: Int64?) throws -> Int64 {
        func field(_ name: String) throws -> Int64? {
            guard let v = map[name] else { return nil }
            return try integer(v, name)
        }
        let hour = try field("hour")
        let minute = try field("minute")
        let second = try field("second")
        let sub = try subsecondNanos(map)
        if let base {
            let totalSeconds = base / 1_000_000_000
            return try TemporalCalendar.validTime(
                hour: hour ?? totalSeconds / 3600, minute: minute ?? (totalSeconds / 60) % 60,
                second: second ?? totalSeconds % 60, nanosecond: sub ?? base % 1_000_000_000)
        }
        // Without a base, units must be given from the hour down without gaps.
        if minute != nil && hour == nil { throw argumentError("minute cannot be specified without hour") }
        if second != nil && minute == nil { throw argumentError("second cannot be specified without minute") }
        if sub != nil && second == nil {
            throw argumentError("Sub-second fields cannot be specified without second")
        }
        return try TemporalCalendar.validTime(
            hour: hour ?? 0, minute: minute ?? 0, second: second ?? 0, nanosecond: sub ?? 0)
    }
}

extension Value {
    /// A short rendering of a value for error messages.
    var temporalErrorText: String {
        switch self {
        case .null: return "NO_VALUE"
        case .boolean(let b): return "Boolean(\(b))"
        case .integer(let i): return "Long(\(i))"
        case .float(let f): return "Double(\(JavaDouble.format(f)))"
        case .string(let s): return "String(\"\(s)\")"
        case .date(let d): return "Date<\(d.cypherString)>"
        case .localTime(let t): return "LocalTime<\(t.cypherString)>"
        case .time(let t): return "Time<\(t.cypherString)>"
        case .localDateTime(let l): return "LocalDateTime<\(l.cypherString)>"
        case .dateTime(let d): return "DateTime<\(d.cypherString)>"
        case .duration(let d): return "Duration<\(d.cypherString)>"
        case .point(let p): return p.cypherString
        case .list: return "List"
        case .map: return "Map"
        case .bytes: return "ByteArray"
        case .node: return "Node"
        case .relationship: return "Relationship"
        case .path: return "Path"
        }
    }
}
