/// ISO 8601 text → temporal values, in the forms Neo4j accepts.
///
/// Dates: `2015-07-21`, `20150721`, `2015-07`, `201507`, week dates `2015-W30-2`, `2015W302`, `2015-W30`,
/// ordinal dates `2015-202`, `2015202`, or just `2015`; years outside 0000…9999 carry a sign (`+999999999-12-31`).
/// Times: `21:40:32.142`, `214032.142`, `21:40`, `2140`, `21` (fraction with `.` or `,`, up to 9 digits).
/// Offsets: `Z`, `+01:00`, `+0100`, `+01`, optionally followed by a zone name in brackets (`[Europe/Stockholm]`).
/// Date-times join a date and a time with `T`. Durations: `P1Y2M3W4DT5H6M7.5S` (fractions in any component,
/// signs on the whole or on components) and the alternative form `P2012-02-02T14:37:21.545`.
public enum TemporalParser {
    static func invalid(_ text: String, _ kind: String) -> DatabaseError {
        DatabaseError(.argumentError, "Text cannot be parsed to a \(kind): \"\(text)\"")
    }

    /// A cursor over the ASCII bytes of the text.
    struct Scanner {
        let bytes: [UInt8]
        var pos = 0
        init(_ text: String) { bytes = Array(text.utf8) }
        var atEnd: Bool { pos >= bytes.count }
        var peek: UInt8? { pos < bytes.count ? bytes[pos] : nil }
        func peek(_ offset: Int) -> UInt8? { pos + offset < bytes.count ? bytes[pos + offset] : nil }
        /// Accepts `c`; letters match in either case (Neo4j's patterns are case-insensitive).
        mutating func accept(_ c: Character) -> Bool {
            guard let p = peek else { return false }
            let ascii = c.asciiValue!
            let matches = p == ascii || (c.isLetter && (p | 0x20) == (ascii | 0x20))
            guard matches else { return false }
            pos += 1
            return true
        }
        func isDigit(_ offset: Int = 0) -> Bool {
            guard let c = peek(offset) else { return false }
            return c >= 48 && c <= 57
        }
        /// Number of consecutive digits from the cursor.
        var digitRun: Int {
            var n = 0
            while isDigit(n) { n += 1 }
            return n
        }
        mutating func digits(_ count: Int) -> Int64? {
            guard digitRun >= count else { return nil }
            var value: Int64 = 0
            for _ in 0..<count {
                value = value * 10 + Int64(bytes[pos] - 48)
                pos += 1
            }
            return value
        }
        /// A fraction after `.`/`,` as nanoseconds (up to 9 digits).
        mutating func fractionNanos() -> Int64?? {
            guard let c = peek, c == UInt8(ascii: ".") || c == UInt8(ascii: ",") else { return .some(nil) }
            pos += 1
            let run = digitRun
            guard run >= 1 && run <= 9, let value = digits(run) else { return nil }
            var nanos = value
            for _ in run..<9 { nanos *= 10 }
            return .some(nanos)
        }
    }

    // MARK: Dates

    static func parseDatePart(_ s: inout Scanner) -> Int64?? {
        // Year: four digits, or a sign and up to nine digits.
        var year: Int64
        if let c = s.peek, c == UInt8(ascii: "+") || c == UInt8(ascii: "-") {
            let negative = c == UInt8(ascii: "-")
            s.pos += 1
            let run = s.digitRun
            guard run >= 1 && run <= 9, let y = s.digits(run) else { return nil }
            year = negative ? -y : y
        } else {
            guard let y = s.digits(4) else { return nil }
            year = y
        }
        do {
            if s.atEnd || s.peek == UInt8(ascii: "T") || s.peek == UInt8(ascii: "t") {
                return try .some(TemporalCalendar.validDate(year: year, month: 1, day: 1))
            }
            if s.accept("-") {
                if s.accept("W") {
                    guard let week = s.digits(2) else { return nil }
                    var dow: Int64 = 1
                    if s.accept("-") {
                        guard let d = s.digits(1) else { return nil }
                        dow = d
                    }
                    return try .some(TemporalCalendar.validWeekDate(weekYear: year, week: week, dayOfWeek: dow))
                }
                let run = s.digitRun
                if run == 3 {
                    guard let ordinal = s.digits(3) else { return nil }
                    return try .some(TemporalCalendar.validOrdinalDate(year: year, dayOfYear: ordinal))
                }
                guard run == 1 || run == 2, let month = s.digits(run) else { return nil }
                var day: Int64 = 1
                if s.accept("-") {
                    let dayRun = s.digitRun
                    guard dayRun == 1 || dayRun == 2, let d = s.digits(dayRun) else { return nil }
                    day = d
                }
                return try .some(TemporalCalendar.validDate(year: year, month: month, day: day))
            }
            if s.accept("W") {
                guard let week = s.digits(2) else { return nil }
                var dow: Int64 = 1
                if s.isDigit() { dow = s.digits(1)! }
                return try .some(TemporalCalendar.validWeekDate(weekYear: year, week: week, dayOfWeek: dow))
            }
            switch s.digitRun {
            case 3:
                return try .some(TemporalCalendar.validOrdinalDate(year: year, dayOfYear: s.digits(3)!))
            case 2:
                return try .some(TemporalCalendar.validDate(year: year, month: s.digits(2)!, day: 1))
            case 4:
                let month = s.digits(2)!
                let day = s.digits(2)!
                return try .some(TemporalCalendar.validDate(year: year, month: month, day: day))
            default:
                return nil
            }
        } catch {
            return .some(nil)
        }
    }

    /// Parses a date; throws ArgumentError for text that is not a date or names an invalid date.
    public static func date(_ text: String) throws -> CypherDate {
        var s = Scanner(text)
        guard let parsed = parseDatePart(&s), s.atEnd else { throw invalid(text, "date") }
        guard let day = parsed else { throw invalidValue(text) }
        return CypherDate(epochDays: day)
    }

    static func invalidValue(_ text: String) -> DatabaseError {
        DatabaseError(.argumentError, "Text '\(text)' contains invalid temporal values")
    }

    // MARK: Times

    /// Parses `HH[:MM[:SS[.f]]]` or `HH[MM[SS[.f]]]`; nil on syntax error, .some(nil) on an invalid value.
    static func parseTimePart(_ s: inout Scanner) -> Int64?? {
        guard let hour = s.digits(2) else { return nil }
        var minute: Int64 = 0
        var second: Int64 = 0
        var nanos: Int64 = 0
        if s.accept(":") {
            guard let m = s.digits(2) else { return nil }
            minute = m
            if s.accept(":") {
                guard let sec = s.digits(2) else { return nil }
                second = sec
                guard let f = s.fractionNanos() else { return nil }
                nanos = f ?? 0
            }
        } else if s.isDigit() {
            guard let m = s.digits(2) else { return nil }
            minute = m
            if s.isDigit() {
                guard let sec = s.digits(2) else { return nil }
                second = sec
                guard let f = s.fractionNanos() else { return nil }
                nanos = f ?? 0
            }
        }
        guard let value = try? TemporalCalendar.validTime(hour: hour, minute: minute, second: second, nanosecond: nanos)
        else { return .some(nil) }
        return .some(value)
    }

    /// Offset and zone suffix: `Z`, `±HH[[:]MM[[:]SS]]`, then optional `[Zone/Name]`.
    static func parseZonePart(_ s: inout Scanner) -> (offset: Int32?, zoneName: String?)? {
        var offset: Int32?
        if let c = s.peek, c == UInt8(ascii: "Z") || c == UInt8(ascii: "z") {
            s.pos += 1
            offset = 0
        } else if let c = s.peek, c == UInt8(ascii: "+") || c == UInt8(ascii: "-") {
            var end = s.pos + 1
            while end < s.bytes.count, (s.bytes[end] >= 48 && s.bytes[end] <= 57) || s.bytes[end] == UInt8(ascii: ":") {
                end += 1
            }
            let text = String(decoding: s.bytes[s.pos..<end], as: UTF8.self)
            guard let parsed = CypherTimeZone.parseOffset(Substring(text)) else { return nil }
            offset = parsed
            s.pos = end
        }
        var zoneName: String?
        if s.accept("[") {
            guard let close = s.bytes[s.pos...].firstIndex(of: UInt8(ascii: "]")), close > s.pos else { return nil }
            zoneName = String(decoding: s.bytes[s.pos..<close], as: UTF8.self)
            s.pos = close + 1
        }
        return (offset, zoneName)
    }

    /// Parses a local time; throws ArgumentError for malformed or invalid text.
    public static func localTime(_ text: String) throws -> CypherLocalTime {
        var s = Scanner(text)
        guard let parsed = parseTimePart(&s), s.atEnd else { throw invalid(text, "local time") }
        guard let nanos = parsed else { throw invalidValue(text) }
        return CypherLocalTime(nanosecondOfDay: nanos)
    }

    /// Parses a time with optional offset; a missing offset means `defaultZone` (its current offset for a named
    /// zone, taken at `now`, the statement's instant in epoch seconds).
    public static func time(_ text: String, defaultZone: CypherTimeZone, now: Int64) throws -> CypherTime {
        var s = Scanner(text)
        guard let parsed = parseTimePart(&s), let zone = parseZonePart(&s), s.atEnd else {
            throw invalid(text, "time")
        }
        guard let nanos = parsed else { throw invalidValue(text) }
        var offset: Int32
        if let given = zone.offset {
            offset = given
        } else if let name = zone.zoneName {
            offset = try CypherTimeZone.parse(name).offset(atEpochSecond: now)
        } else {
            offset = defaultZone.offset(atEpochSecond: now)
        }
        return CypherTime(nanosecondOfDay: nanos, offsetSeconds: offset)
    }

    // MARK: Date-times

    static func parseDateTimeParts(_ text: String, kind: String) throws -> (
        local: CypherLocalDateTime, offset: Int32?, zoneName: String?
    ) {
        var s = Scanner(text)
        guard let datePart = parseDatePart(&s) else { throw invalid(text, kind) }
        var nanos: Int64 = 0
        var zone: (offset: Int32?, zoneName: String?) = (nil, nil)
        if s.accept("T") {
            guard let timePart = parseTimePart(&s) else { throw invalid(text, kind) }
            guard let t = timePart else { throw invalidValue(text) }
            nanos = t
            guard let z = parseZonePart(&s) else { throw invalid(text, kind) }
            zone = z
        }
        guard s.atEnd else { throw invalid(text, kind) }
        guard let day = datePart else { throw invalidValue(text) }
        let local = CypherLocalDateTime(date: CypherDate(epochDays: day), time: CypherLocalTime(nanosecondOfDay: nanos))
        return (local, zone.offset, zone.zoneName)
    }

    /// Parses a local date-time (no offset or zone allowed).
    public static func localDateTime(_ text: String) throws -> CypherLocalDateTime {
        let parts = try parseDateTimeParts(text, kind: "local date time")
        guard parts.offset == nil, parts.zoneName == nil else { throw invalid(text, "local date time") }
        return parts.local
    }

    /// Parses a date-time; with both an offset and a zone name, the offset must be the zone's at that time.
    public static func dateTime(_ text: String, defaultZone: CypherTimeZone) throws -> CypherDateTime {
        let parts = try parseDateTimeParts(text, kind: "date time")
        if let name = parts.zoneName {
            let zone = try CypherTimeZone.parse(name)
            let value = zone.dateTime(
                localEpochSecond: parts.local.epochSeconds, nanosecond: parts.local.nanosecond,
                preferredOffset: parts.offset)
            if let offset = parts.offset, offset != value.offsetSeconds {
                throw DatabaseError(.argumentError, "Timezone and offset do not match: \(text)")
            }
            return value
        }
        let zone: CypherTimeZone = parts.offset.map { .offset($0) } ?? defaultZone
        return zone.dateTime(localEpochSecond: parts.local.epochSeconds, nanosecond: parts.local.nanosecond)
    }

    // MARK: Durations

    /// Parses an ISO 8601 duration as Neo4j does.
    public static func duration(_ text: String) throws -> CypherDuration {
        var s = Scanner(text)
        var sign: Int64 = 1
        if s.accept("-") {
            sign = -1
        } else {
            _ = s.accept("+")
        }
        guard s.accept("P") else { throw invalid(text, "duration") }
        // The unit form first (as Neo4j's pattern does), then the date-based form
        // P[YYYY-MM-DD|YYYYMMDD][T(HH:MM[:SS[.f]]|HH[MM[SS[.f]]])].
        let start = s.pos
        do {
            return try unitDuration(text, &s, sign: sign)
        } catch let unitError {
            s.pos = start
            guard let alternative = try alternativeDuration(text, &s, sign: sign) else { throw unitError }
            return alternative
        }
    }

    private static func unitDuration(_ text: String, _ s: inout Scanner, sign: Int64) throws -> CypherDuration {
        var builder = CypherDuration.Builder()
        var inTime = false
        var sawComponent = false
        var order = 0  // enforce Y M W D, then H M S
        var sawFraction = false  // Neo4j allows a fraction only in the last component given
        while !s.atEnd {
            if sawFraction { throw invalid(text, "duration") }
            if s.accept("T") {
                guard !inTime else { throw invalid(text, "duration") }
                inTime = true
                continue
            }
            guard let (amount, nanos) = number(&s), let unit = s.peek else { throw invalid(text, "duration") }
            s.pos += 1
            let u = Character(Unicode.Scalar(unit)).uppercased()
            let rank: Int
            switch (inTime, u) {
            case (false, "Y"): rank = 1
            case (false, "M"): rank = 2
            case (false, "W"): rank = 3
            case (false, "D"): rank = 4
            case (true, "H"): rank = 5
            case (true, "M"): rank = 6
            case (true, "S"): rank = 7
            default: throw invalid(text, "duration")
            }
            guard rank > order else { throw invalid(text, "duration") }
            order = rank
            sawComponent = true
            if case .float = amount { sawFraction = true }
            let signed: CypherDuration.Amount
            switch amount {
            case .integer(let v): signed = .integer(v * sign)
            case .float(let v): signed = .float(v * Double(sign))
            }
            switch rank {
            case 1: try builder.add(signed, times: 12, .months)
            case 2: try builder.add(signed, times: 1, .months)
            case 3: try builder.add(signed, times: 7, .days)
            case 4: try builder.add(signed, times: 1, .days)
            case 5: try builder.add(signed, times: 3600, .seconds)
            case 6: try builder.add(signed, times: 60, .seconds)
            default:
                // Seconds: keep the fraction exact as nanoseconds.
                if case .integer(let whole) = amount {
                    try builder.add(.integer(whole * sign), times: 1, .seconds)
                    try builder.add(.integer(nanos * sign), times: 1, .nanoseconds)
                } else {
                    try builder.add(signed, times: 1, .seconds)
                }
            }
        }
        guard sawComponent, !text.hasSuffix("T"), !text.hasSuffix("t") else { throw invalid(text, "duration") }
        return try builder.build()
    }

    /// A signed decimal number; for numbers with at most 9 fraction digits also returns the integral part as
    /// `.integer` and the fraction as exact nanoseconds (sign applied to both).
    private static func number(_ s: inout Scanner) -> (CypherDuration.Amount, Int64)? {
        var negative = false
        if s.accept("-") {
            negative = true
        } else {
            _ = s.accept("+")
        }
        let run = s.digitRun
        guard run >= 1, run <= 18, let whole = s.digits(run) else { return nil }
        guard let c = s.peek, c == UInt8(ascii: ".") || c == UInt8(ascii: ",") else {
            return (.integer(negative ? -whole : whole), 0)
        }
        s.pos += 1
        let fracRun = s.digitRun
        guard fracRun >= 1 else { return nil }
        let fracStart = s.pos
        s.pos += fracRun
        let fracText = String(decoding: s.bytes[fracStart..<(fracStart + fracRun)], as: UTF8.self)
        // Exact nanoseconds for the seconds component, when unit is S.
        if s.peek == UInt8(ascii: "S") || s.peek == UInt8(ascii: "s") {
            var nanos: Int64 = 0
            for (i, ch) in fracText.utf8.enumerated() where i < 9 { nanos = nanos * 10 + Int64(ch - 48) }
            for _ in min(fracRun, 9)..<9 { nanos *= 10 }
            return (.integer(negative ? -whole : whole), negative ? -nanos : nanos)
        }
        guard let value = Double("\(whole).\(fracText)") else { return nil }
        return (.float(negative ? -value : value), 0)
    }

    /// The date-based form; nil when the text is not in that form (the unit form is tried instead).
    private static func alternativeDuration(_ text: String, _ s: inout Scanner, sign: Int64) throws -> CypherDuration? {
        var months: Int64 = 0
        var days: Int64 = 0
        var sawDate = false
        if s.digitRun == 4, s.peek(4) == UInt8(ascii: "-") {
            guard let years = s.digits(4), s.accept("-"), let m = s.digits(2), s.accept("-"), let d = s.digits(2)
            else { throw invalid(text, "duration") }
            guard m <= 12, d <= 31 else { throw invalidValue(text) }
            (months, days, sawDate) = (years * 12 + m, d, true)
        } else if s.digitRun == 8 {
            let years = s.digits(4)!
            let m = s.digits(2)!
            let d = s.digits(2)!
            guard m <= 12, d <= 31 else { throw invalidValue(text) }
            (months, days, sawDate) = (years * 12 + m, d, true)
        }
        var seconds: Int64 = 0
        var nanos: Int64 = 0
        let beforeT = s.pos
        if s.accept("T") {
            // Only the clock forms here: digits followed by a unit letter belong to the unit form.
            let run = s.digitRun
            let after = s.peek(run)
            let isClock =
                (run == 2 || run == 4 || run == 6)
                && (after == nil || after == UInt8(ascii: ":") || after == UInt8(ascii: ".")
                    || after == UInt8(ascii: ","))
            guard isClock else {
                if sawDate { throw invalid(text, "duration") }
                s.pos = beforeT
                return nil
            }
            var h: Int64 = 0
            var m: Int64 = 0
            var sec: Int64 = 0
            var fraction: Int64?
            if run == 2 && after == UInt8(ascii: ":") {
                h = s.digits(2)!
                _ = s.accept(":")
                guard let mm = s.digits(2) else { throw invalid(text, "duration") }
                m = mm
                if s.accept(":") {
                    guard let ss = s.digits(2), let f = s.fractionNanos() else { throw invalid(text, "duration") }
                    sec = ss
                    fraction = f
                }
            } else {
                h = s.digits(2)!
                if run >= 4 { m = s.digits(2)! }
                if run == 6 {
                    sec = s.digits(2)!
                    guard let f = s.fractionNanos() else { throw invalid(text, "duration") }
                    fraction = f
                }
            }
            guard h <= 24, m <= 60, sec <= 60 else { throw invalidValue(text) }
            seconds = h * 3600 + m * 60 + sec
            nanos = fraction ?? 0
        } else if !sawDate {
            return nil
        }
        guard s.atEnd else { throw invalid(text, "duration") }
        return try CypherDuration.normalized(
            months: sign * months, days: sign * days, seconds: sign * seconds, nanoseconds: sign * nanos)
    }
}
