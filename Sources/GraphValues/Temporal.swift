// Temporal values as Neo4j models them (java.time underneath): the stored fields are plain numbers plus a zone id
// string, so the Bolt codec and the kernel's property store can encode them directly. Calendar arithmetic lives in
// TemporalCalendar.swift, zones in TemporalZones.swift, text in TemporalFormat.swift/TemporalParsing.swift and
// durations in TemporalDuration.swift.

/// A calendar date (proleptic Gregorian), stored as days since 1970-01-01.
public struct CypherDate: Sendable, Hashable {
    public var epochDays: Int64
    public init(epochDays: Int64) { self.epochDays = epochDays }

    /// The date with these fields; throws ArgumentError for an invalid date.
    public init(year: Int64, month: Int64, day: Int64) throws {
        self.epochDays = try TemporalCalendar.validDate(year: year, month: month, day: day)
    }

    public var year: Int64 { TemporalCalendar.civil(epochDays).year }
    public var month: Int64 { TemporalCalendar.civil(epochDays).month }
    public var day: Int64 { TemporalCalendar.civil(epochDays).day }
}

/// A time of day without zone, nanoseconds since midnight (0 ..< 86,400,000,000,000).
public struct CypherLocalTime: Sendable, Hashable {
    public var nanosecondOfDay: Int64
    public init(nanosecondOfDay: Int64) { self.nanosecondOfDay = nanosecondOfDay }
}

/// A time of day with a UTC offset. `nanosecondOfDay` is the local (wall-clock) time of day at that offset;
/// `offsetSeconds` is seconds east of UTC (+01:00 is 3600).
public struct CypherTime: Sendable, Hashable {
    public var nanosecondOfDay: Int64
    public var offsetSeconds: Int32
    public init(nanosecondOfDay: Int64, offsetSeconds: Int32) {
        self.nanosecondOfDay = nanosecondOfDay
        self.offsetSeconds = offsetSeconds
    }

    /// Nanoseconds since midnight UTC (may be outside one day), the key Neo4j orders times by.
    public var utcNanosecondOfDay: Int64 { nanosecondOfDay &- Int64(offsetSeconds) * TemporalCalendar.nanosPerSecond }
}

/// A date and time without zone: `epochSeconds` counts seconds of the wall-clock reading since 1970-01-01T00:00
/// (as if it were UTC), `nanosecond` is 0 ..< 1,000,000,000.
public struct CypherLocalDateTime: Sendable, Hashable {
    public var epochSeconds: Int64
    public var nanosecond: Int32
    public init(epochSeconds: Int64, nanosecond: Int32) {
        self.epochSeconds = epochSeconds
        self.nanosecond = nanosecond
    }

    /// Combines a date and a time of day.
    public init(date: CypherDate, time: CypherLocalTime) {
        self.epochSeconds =
            date.epochDays &* TemporalCalendar.secondsPerDay
            &+ time.nanosecondOfDay / TemporalCalendar.nanosPerSecond
        self.nanosecond = Int32(time.nanosecondOfDay % TemporalCalendar.nanosPerSecond)
    }

    public var date: CypherDate { CypherDate(epochDays: TemporalCalendar.floorDiv(epochSeconds, 86_400)) }
    public var localTime: CypherLocalTime {
        CypherLocalTime(
            nanosecondOfDay: TemporalCalendar.floorMod(epochSeconds, 86_400) * TemporalCalendar.nanosPerSecond
                + Int64(nanosecond))
    }
}

/// A date and time with an offset and optionally a named zone. `epochSeconds` is the UTC instant, `nanosecond`
/// 0 ..< 1,000,000,000, `offsetSeconds` the offset in force at that instant (seconds east of UTC), and `zoneId`
/// the tz database name (`Europe/Stockholm`) or nil for a fixed offset.
public struct CypherDateTime: Sendable, Hashable {
    public var epochSeconds: Int64
    public var nanosecond: Int32
    public var offsetSeconds: Int32
    public var zoneId: String?
    public init(epochSeconds: Int64, nanosecond: Int32, offsetSeconds: Int32, zoneId: String?) {
        self.epochSeconds = epochSeconds
        self.nanosecond = nanosecond
        self.offsetSeconds = offsetSeconds
        self.zoneId = zoneId
    }

    /// The wall-clock reading.
    public var local: CypherLocalDateTime {
        CypherLocalDateTime(epochSeconds: epochSeconds &+ Int64(offsetSeconds), nanosecond: nanosecond)
    }

    /// The zone: named when `zoneId` is set, else the fixed offset.
    public var zone: CypherTimeZone {
        if let zoneId { return .named(zoneId) }
        return .offset(offsetSeconds)
    }
}

/// A duration in months, days, seconds and nanoseconds, as Neo4j keeps it: the three parts are independent
/// (a month is not a fixed number of days, a day not a fixed number of seconds in a zone with DST), and
/// `nanoseconds` is normalised to 0 ..< 1,000,000,000 with the sign carried by `seconds`.
public struct CypherDuration: Sendable, Hashable {
    public var months: Int64
    public var days: Int64
    public var seconds: Int64
    public var nanoseconds: Int32
    /// Stores the fields as given (no normalisation); use `normalized(...)` to build from arbitrary parts.
    public init(months: Int64, days: Int64, seconds: Int64, nanoseconds: Int32) {
        self.months = months
        self.days = days
        self.seconds = seconds
        self.nanoseconds = nanoseconds
    }
}

/// A 2D or 3D point with a spatial reference id (7203 cartesian, 9157 cartesian-3d, 4326 WGS-84, 4979 WGS-84-3d).
/// For geographic points `x` is the longitude and `y` the latitude (degrees), `z` the height (metres).
public struct CypherPoint: Sendable, Hashable {
    public var srid: Int32
    public var x: Double
    public var y: Double
    public var z: Double?
    public init(srid: Int32, x: Double, y: Double, z: Double? = nil) {
        self.srid = srid
        self.x = x
        self.y = y
        self.z = z
    }
}

// MARK: - Ordering

extension CypherTime {
    /// Neo4j's order for times: by instant within the day, then by offset.
    public static func order(_ a: CypherTime, _ b: CypherTime) -> Int {
        if a.utcNanosecondOfDay != b.utcNanosecondOfDay { return a.utcNanosecondOfDay < b.utcNanosecondOfDay ? -1 : 1 }
        if a.offsetSeconds != b.offsetSeconds { return a.offsetSeconds < b.offsetSeconds ? -1 : 1 }
        return 0
    }
}

extension CypherDateTime {
    /// Neo4j's order for date-times: by instant, then by offset (ascending), then fixed offsets before named
    /// zones, named zones alphabetically (Neo4j's DateTimeValue.unsafeCompareTo).
    public static func order(_ a: CypherDateTime, _ b: CypherDateTime) -> Int {
        if a.epochSeconds != b.epochSeconds { return a.epochSeconds < b.epochSeconds ? -1 : 1 }
        if a.nanosecond != b.nanosecond { return a.nanosecond < b.nanosecond ? -1 : 1 }
        if a.offsetSeconds != b.offsetSeconds { return a.offsetSeconds < b.offsetSeconds ? -1 : 1 }
        switch (a.zoneId, b.zoneId) {
        case (nil, nil): return 0
        case (nil, _): return -1
        case (_, nil): return 1
        case (let za?, let zb?): return za == zb ? 0 : (za < zb ? -1 : 1)
        }
    }
}

extension CypherLocalDateTime {
    /// Order of local date-times: by wall-clock reading.
    public static func order(_ a: CypherLocalDateTime, _ b: CypherLocalDateTime) -> Int {
        if a.epochSeconds != b.epochSeconds { return a.epochSeconds < b.epochSeconds ? -1 : 1 }
        if a.nanosecond != b.nanosecond { return a.nanosecond < b.nanosecond ? -1 : 1 }
        return 0
    }
}

// MARK: - Text

extension CypherDate: CustomStringConvertible {
    /// Neo4j `toString()`: `2015-07-21`, `-0001-01-01`, `+10000-01-01`.
    public var cypherString: String { TemporalFormat.date(epochDays) }
    public var description: String { cypherString }
}

extension CypherLocalTime: CustomStringConvertible {
    /// Neo4j `toString()`: `12:00`, `21:40:32.142`, `12:31:14.645876123`.
    public var cypherString: String { TemporalFormat.time(nanosecondOfDay) }
    public var description: String { cypherString }
}

extension CypherTime: CustomStringConvertible {
    /// Neo4j `toString()`: `12:00Z`, `21:40:32.142+01:00`.
    public var cypherString: String { TemporalFormat.time(nanosecondOfDay) + TemporalFormat.offset(offsetSeconds) }
    public var description: String { cypherString }
}

extension CypherLocalDateTime: CustomStringConvertible {
    /// Neo4j `toString()`: `2015-07-21T21:40:32.142`, `1912-01-01T00:00`.
    public var cypherString: String {
        TemporalFormat.date(date.epochDays) + "T" + TemporalFormat.time(localTime.nanosecondOfDay)
    }
    public var description: String { cypherString }
}

extension CypherDateTime: CustomStringConvertible {
    /// Neo4j `toString()`: `2015-07-21T21:40:32.142+01:00`, `2015-07-21T21:40:32.142+02:00[Europe/Stockholm]`.
    public var cypherString: String {
        var text = local.cypherString + TemporalFormat.offset(offsetSeconds)
        if let zoneId { text += "[\(zoneId)]" }
        return text
    }
    public var description: String { cypherString }
}

extension CypherDuration: CustomStringConvertible {
    /// Neo4j `toString()`: `P1Y2M`, `P14DT16H12M`, `PT-1.999S`, `PT0S`.
    public var cypherString: String { TemporalFormat.duration(self) }
    public var description: String { cypherString }
}

/// Neo4j's (java.time's) text forms of temporal values.
public enum TemporalFormat {
    /// `yyyy-MM-dd`; years outside 0…9999 get a sign (`+10000`, `-0001`), as `LocalDate.toString()`.
    public static func date(_ epochDay: Int64) -> String {
        let (y, m, d) = TemporalCalendar.civil(epochDay)
        var text: String
        if y < 0 {
            text = "-" + pad(-y, 4)
        } else if y > 9999 {
            text = "+" + String(y)
        } else {
            text = pad(y, 4)
        }
        text += "-" + pad(m, 2) + "-" + pad(d, 2)
        return text
    }

    /// `HH:mm`, `HH:mm:ss`, then `.SSS`, `.SSSSSS` or `.SSSSSSSSS` as needed (`LocalTime.toString()`).
    public static func time(_ nanosecondOfDay: Int64) -> String {
        let totalSeconds = nanosecondOfDay / TemporalCalendar.nanosPerSecond
        let nanos = nanosecondOfDay % TemporalCalendar.nanosPerSecond
        let h = totalSeconds / 3600
        let m = (totalSeconds / 60) % 60
        let s = totalSeconds % 60
        var text = pad(h, 2) + ":" + pad(m, 2)
        if s > 0 || nanos > 0 {
            text += ":" + pad(s, 2)
            text += fraction(nanos)
        }
        return text
    }

    /// `.SSS`, `.SSSSSS` or `.SSSSSSSSS` (empty for zero), as java.time prints nano-of-second.
    static func fraction(_ nanos: Int64) -> String {
        if nanos == 0 { return "" }
        if nanos % 1_000_000 == 0 { return "." + pad(nanos / 1_000_000, 3) }
        if nanos % 1_000 == 0 { return "." + pad(nanos / 1_000, 6) }
        return "." + pad(nanos, 9)
    }

    /// `Z`, `+01:00`, `-04:30`, `+00:53:28` (`ZoneOffset.toString()`).
    public static func offset(_ seconds: Int32) -> String {
        if seconds == 0 { return "Z" }
        let a = Int64(abs(Int(seconds)))
        var text = (seconds < 0 ? "-" : "+") + pad(a / 3600, 2) + ":" + pad((a / 60) % 60, 2)
        if a % 60 != 0 { text += ":" + pad(a % 60, 2) }
        return text
    }

    /// Neo4j's `DurationValue.toString()`.
    public static func duration(_ d: CypherDuration) -> String {
        if d.months == 0 && d.days == 0 && d.seconds == 0 && d.nanoseconds == 0 { return "PT0S" }
        var text = "P"
        if d.months / 12 != 0 { text += "\(d.months / 12)Y" }
        if d.months % 12 != 0 { text += "\(d.months % 12)M" }
        if d.days != 0 { text += "\(d.days)D" }
        if d.seconds != 0 || d.nanoseconds != 0 {
            var s = d.seconds
            var n = Int64(d.nanoseconds)
            if s < 0 && n > 0 {
                s += 1
                n -= TemporalCalendar.nanosPerSecond
            }
            text += "T"
            if s / 3600 != 0 { text += "\(s / 3600)H" }
            s %= 3600
            if s / 60 != 0 { text += "\(s / 60)M" }
            s %= 60
            if s != 0 {
                text += "\(s)"
                if n != 0 { text += nanoDigits(n) }
                text += "S"
            } else if n != 0 {
                text += (n < 0 ? "-0" : "0") + nanoDigits(n) + "S"
            }
        }
        return text == "P" ? "PT0S" : text
    }

    private static func nanoDigits(_ n: Int64) -> String {
        var digits = pad(abs(n), 9)
        while digits.hasSuffix("0") { digits.removeLast() }
        return "." + digits
    }

    static func pad(_ value: Int64, _ width: Int) -> String {
        let text = String(value)
        return text.count >= width ? text : String(repeating: "0", count: width - text.count) + text
    }
}

// MARK: - Supported range

/// Whether stored fields are within what Neo4j (java.time) can represent: years -999,999,999 … 999,999,999,
/// times of day within one day, offsets within ±18:00, nanoseconds 0 ..< 1,000,000,000. Values built by the
/// temporal functions always are; values decoded from outside (Bolt, disk) should be checked before use, since
/// calendar arithmetic on absurd fields would overflow.
extension CypherDate {
    /// Epoch days of -999999999-01-01 … +999999999-12-31.
    public static let supportedEpochDays: ClosedRange<Int64> = -365_243_219_162...365_241_780_471
    public var isWithinSupportedRange: Bool { Self.supportedEpochDays.contains(epochDays) }
}

extension CypherLocalTime {
    public var isWithinSupportedRange: Bool { nanosecondOfDay >= 0 && nanosecondOfDay < TemporalCalendar.nanosPerDay }
}

extension CypherTime {
    public var isWithinSupportedRange: Bool {
        nanosecondOfDay >= 0 && nanosecondOfDay < TemporalCalendar.nanosPerDay && abs(Int(offsetSeconds)) <= 64_800
    }
}

extension CypherLocalDateTime {
    public var isWithinSupportedRange: Bool {
        nanosecond >= 0 && nanosecond < 1_000_000_000
            && CypherDate.supportedEpochDays.contains(TemporalCalendar.floorDiv(epochSeconds, 86_400))
    }
}

extension CypherDateTime {
    public var isWithinSupportedRange: Bool {
        guard nanosecond >= 0, nanosecond < 1_000_000_000, abs(Int(offsetSeconds)) <= 64_800,
            epochSeconds > -40_000_000_000_000_000, epochSeconds < 40_000_000_000_000_000
        else { return false }
        return CypherDate.supportedEpochDays.contains(
            TemporalCalendar.floorDiv(epochSeconds + Int64(offsetSeconds), 86_400))
    }
}
