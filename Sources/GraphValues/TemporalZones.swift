import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Named time zones (`Europe/Stockholm`) read from the system's IANA tz database.
///
/// We parse the compiled TZif files under `/usr/share/zoneinfo` (RFC 8536, version 2+ 64-bit section and the
/// POSIX TZ footer for instants after the last listed transition) instead of going through Foundation's `TimeZone`:
/// this keeps GraphValues free of Foundation, gives second-precision historical offsets (LMT such as +00:53:28),
/// and lets us resolve local times in DST gaps and overlaps exactly as java.time's `ZonedDateTime.ofLocal` does,
/// which is what Neo4j's values follow. The directory can be overridden with the `TZDIR` environment variable.
///
/// Zones merged in the tz database's main data: since tzdata 2022b, a zone that agrees with another zone of the same
/// country since 1970 is a link to it in the main data (Europe/Stockholm → Europe/Berlin), and its older history
/// lives only in the optional `backzone` file. java.time's tzdb (and so Neo4j, and the openCypher TCK:
/// `1818-07-21T21:40:32.142[Europe/Stockholm]` is `+00:53:28`, Berlin's local mean time) is built from the main
/// data, but distributions such as Debian compile their zoneinfo with `backzone`, which gives Stockholm its own
/// local mean time (+01:12:12). `TimeZoneDatabase.rules(for:)` therefore applies the main data's rule itself: a
/// zone not listed in `zone1970.tab` takes the rules of the `zone1970.tab` zone of its country (`zone.tab`) that
/// agrees with it since 1970. On systems built without `backzone` the two files already agree and nothing changes.
public struct TimeZoneRules: Sendable, Equatable {
    /// UTC instants (epoch seconds) at which the offset changes, ascending.
    let transitions: [Int64]
    /// Offset (seconds east of UTC) in force from `transitions[i]` on.
    let offsetsAfter: [Int32]
    /// Offset in force before the first transition.
    let initialOffset: Int32
    /// Rule for instants after the last transition.
    let footer: PosixZoneRule?

    /// The offset from UTC in force at a UTC instant.
    public func offset(atEpochSecond t: Int64) -> Int32 {
        if let last = transitions.last, t >= last, let footer {
            return footer.offset(atEpochSecond: t)
        }
        // Binary search: last transition <= t.
        var low = 0
        var high = transitions.count
        while low < high {
            let mid = (low + high) / 2
            if transitions[mid] <= t { low = mid + 1 } else { high = mid }
        }
        return low == 0 ? initialOffset : offsetsAfter[low - 1]
    }

    /// Whether both zones give the same offset at every instant from 1970-01-01T00:00Z on — the tz database's
    /// criterion for merging zones in its main data. Transitions that change only the abbreviation or the DST flag
    /// are not offset changes and are ignored.
    func agreesSince1970(with other: TimeZoneRules) -> Bool {
        func changes(_ rules: TimeZoneRules) -> [Int64: Int32] {
            var result: [Int64: Int32] = [:]
            var previous = rules.offset(atEpochSecond: 0)
            for (index, t) in rules.transitions.enumerated() where t > 0 {
                let offset = rules.offsetsAfter[index]
                if offset != previous { result[t] = offset }
                previous = offset
            }
            return result
        }
        return offset(atEpochSecond: 0) == other.offset(atEpochSecond: 0) && footer == other.footer
            && lastTransitionOffset == other.lastTransitionOffset && changes(self) == changes(other)
    }

    /// The offset in force after the last listed transition (before the footer takes over).
    private var lastTransitionOffset: Int32 { offsetsAfter.last ?? initialOffset }

    /// Resolves a local date-time (epoch seconds of the wall-clock reading) to an offset like java.time's
    /// `ZonedDateTime.ofLocal`: in an overlap the preferred offset wins when valid, else the earlier offset;
    /// in a gap the local time moves forward by the gap's length and the later offset applies.
    /// Returns the (possibly adjusted) local seconds and the offset.
    public func resolve(localEpochSecond local: Int64, preferredOffset: Int32? = nil) -> (local: Int64, offset: Int32) {
        // Transitions are far more than two days apart in practice, so the offsets in force a day before and
        // after bracket every candidate.
        let before = offset(atEpochSecond: local - 86_400 * 2)
        let after = offset(atEpochSecond: local + 86_400 * 2)
        var valid: [Int32] = []
        for candidate in [before, after] where !valid.contains(candidate) {
            if offset(atEpochSecond: local - Int64(candidate)) == candidate { valid.append(candidate) }
        }
        if valid.isEmpty {
            // Gap: the wall clock skipped this reading; move forward by the gap's length (java.time does the same).
            return (local + Int64(after - before), after)
        }
        if valid.count == 2 {
            if let preferredOffset, valid.contains(preferredOffset) { return (local, preferredOffset) }
            // Overlap without a valid preference: the earlier instant, i.e. the offset before the transition.
            return (local, before)
        }
        return (local, valid[0])
    }
}

/// A POSIX TZ string such as `CET-1CEST,M3.5.0,M10.5.0/3` (the TZif footer).
struct PosixZoneRule: Sendable, Equatable {
    struct DateRule: Sendable, Equatable {
        enum Kind: Sendable, Equatable {
            case julianNoLeap(Int64)  // Jn, 1...365, Feb 29 never counted
            case zeroBased(Int64)  // n, 0...365
            case monthWeekDay(month: Int64, week: Int64, weekday: Int64)  // Mm.w.d, d: 0 = Sunday
        }
        var kind: Kind
        var timeSeconds: Int64  // local time of the change, default 02:00

        func epochDay(inYear year: Int64) -> Int64 {
            switch kind {
            case .julianNoLeap(let n):
                let jan1 = TemporalCalendar.epochDay(year: year, month: 1, day: 1)
                return jan1 + n - 1 + ((TemporalCalendar.isLeapYear(year) && n >= 60) ? 1 : 0)
            case .zeroBased(let n):
                return TemporalCalendar.epochDay(year: year, month: 1, day: 1) + n
            case .monthWeekDay(let month, let week, let weekday):
                let first = TemporalCalendar.epochDay(year: year, month: month, day: 1)
                let isoWeekday = weekday == 0 ? 7 : weekday
                var day =
                    first + TemporalCalendar.floorMod(isoWeekday - TemporalCalendar.dayOfWeek(first), 7)
                    + (week - 1) * 7
                let length = TemporalCalendar.daysInMonth(year: year, month: month)
                while day >= first + length { day -= 7 }
                return day
            }
        }
    }

    var standardOffset: Int32
    var daylightOffset: Int32?
    var start: DateRule?
    var end: DateRule?

    func offset(atEpochSecond t: Int64) -> Int32 {
        guard let daylightOffset, let start, let end else { return standardOffset }
        let year = TemporalCalendar.civil(TemporalCalendar.floorDiv(t + Int64(standardOffset), 86_400)).year
        // Start is given in standard local time, end in daylight local time.
        let startUTC = start.epochDay(inYear: year) * 86_400 + start.timeSeconds - Int64(standardOffset)
        let endUTC = end.epochDay(inYear: year) * 86_400 + end.timeSeconds - Int64(daylightOffset)
        if startUTC < endUTC {
            return (t >= startUTC && t < endUTC) ? daylightOffset : standardOffset
        } else {
            return (t >= endUTC && t < startUTC) ? standardOffset : daylightOffset
        }
    }

    /// Parses a POSIX TZ string; nil when it is not understood.
    static func parse(_ text: String) -> PosixZoneRule? {
        var chars = Array(text.utf8)[...]
        func skipName() -> Bool {
            if chars.first == UInt8(ascii: "<") {
                guard let close = chars.firstIndex(of: UInt8(ascii: ">")) else { return false }
                chars = chars[(close + 1)...]
                return true
            }
            var count = 0
            while let c = chars.first, (c >= 65 && c <= 90) || (c >= 97 && c <= 122) {
                chars = chars.dropFirst()
                count += 1
            }
            return count >= 3
        }
        func number() -> Int64? {
            var value: Int64 = 0
            var digits = 0
            while let c = chars.first, c >= 48 && c <= 57, digits < 9 {
                value = value * 10 + Int64(c - 48)
                chars = chars.dropFirst()
                digits += 1
            }
            return digits > 0 ? value : nil
        }
        // [+-]hh[:mm[:ss]] in seconds.
        func clock() -> Int64? {
            var sign: Int64 = 1
            if chars.first == UInt8(ascii: "+") {
                chars = chars.dropFirst()
            } else if chars.first == UInt8(ascii: "-") {
                sign = -1
                chars = chars.dropFirst()
            }
            guard let h = number() else { return nil }
            var total = h * 3600
            if chars.first == UInt8(ascii: ":") {
                chars = chars.dropFirst()
                guard let m = number() else { return nil }
                total += m * 60
                if chars.first == UInt8(ascii: ":") {
                    chars = chars.dropFirst()
                    guard let s = number() else { return nil }
                    total += s
                }
            }
            return sign * total
        }
        func dateRule() -> DateRule? {
            var kind: DateRule.Kind
            if chars.first == UInt8(ascii: "M") {
                chars = chars.dropFirst()
                guard let m = number(), chars.first == UInt8(ascii: ".") else { return nil }
                chars = chars.dropFirst()
                guard let w = number(), chars.first == UInt8(ascii: ".") else { return nil }
                chars = chars.dropFirst()
                guard let d = number(), (1...12).contains(m), (1...5).contains(w), (0...6).contains(d) else {
                    return nil
                }
                kind = .monthWeekDay(month: m, week: w, weekday: d)
            } else if chars.first == UInt8(ascii: "J") {
                chars = chars.dropFirst()
                guard let n = number(), (1...365).contains(n) else { return nil }
                kind = .julianNoLeap(n)
            } else {
                guard let n = number(), (0...365).contains(n) else { return nil }
                kind = .zeroBased(n)
            }
            var time: Int64 = 7200
            if chars.first == UInt8(ascii: "/") {
                chars = chars.dropFirst()
                guard let t = clock() else { return nil }
                time = t
            }
            return DateRule(kind: kind, timeSeconds: time)
        }

        guard skipName(), let std = clock() else { return nil }
        var rule = PosixZoneRule(standardOffset: Int32(-std), daylightOffset: nil, start: nil, end: nil)
        if chars.isEmpty { return rule }
        guard skipName() else { return nil }
        var dst = -std + 3600
        if let c = chars.first, c != UInt8(ascii: ",") {
            guard let parsed = clock() else { return nil }
            dst = -parsed
        }
        rule.daylightOffset = Int32(dst)
        guard chars.first == UInt8(ascii: ",") else {
            // No rule given: POSIX default (US rules) is rare in TZif footers; treat as standard only.
            rule.daylightOffset = nil
            return rule
        }
        chars = chars.dropFirst()
        guard let start = dateRule(), chars.first == UInt8(ascii: ",") else { return nil }
        chars = chars.dropFirst()
        guard let end = dateRule() else { return nil }
        rule.start = start
        rule.end = end
        return rule
    }
}

/// Lookup of named zones, cached per process.
public enum TimeZoneDatabase {
    private static let cache = Mutex<[String: TimeZoneRules]>([:])

    /// The directory holding compiled zone files.
    static var directory: String {
        if let env = getenv("TZDIR") { return String(cString: env) }
        return "/usr/share/zoneinfo"
    }

    /// Whether `name` looks like a zone id: letters, digits and `/_+-`, no empty or dot-dot segments (so it
    /// can never escape the zoneinfo directory).
    static func isPlausibleName(_ name: String) -> Bool {
        guard !name.isEmpty, name.utf8.count <= 64, !name.hasPrefix("/") else { return false }
        for c in name.utf8 {
            let ok =
                (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57)
                || c == UInt8(ascii: "/") || c == UInt8(ascii: "_") || c == UInt8(ascii: "+")
                || c == UInt8(ascii: "-")
            if !ok { return false }
        }
        return !name.split(separator: "/", omittingEmptySubsequences: false).contains { $0.isEmpty || $0 == ".." }
    }

    /// The rules of a named zone as the tz database's main data defines them (see `TimeZoneRules` on merged
    /// zones), or nil when the system has no such zone.
    public static func rules(for name: String) -> TimeZoneRules? {
        if let cached = cache.withLock({ $0[name] }) { return cached }
        guard let own = fileRules(for: name) else { return nil }
        let rules = mainDataTarget(for: name, own: own).flatMap(fileRules(for:)) ?? own
        cache.withLock { $0[name] = rules }
        return rules
    }

    /// The rules compiled in the zone's own file.
    static func fileRules(for name: String) -> TimeZoneRules? {
        guard isPlausibleName(name), let bytes = readFile(directory + "/" + name) else { return nil }
        return parseTZif(bytes)
    }

    /// Zone tables read once: `zone1970.tab` zone → its countries, and `zone.tab` zone → its countries.
    private struct ZoneTables: Sendable {
        var zone1970: [(zone: String, countries: [Substring])] = []
        var zone1970Names: Set<String> = []
        var countriesByZone: [String: [Substring]] = [:]
    }

    private static let zoneTables = Mutex<ZoneTables?>(nil)

    /// The zone whose rules the main data uses for `name`: nil when `name` is itself a main-data zone, when the
    /// tables are missing, or when no zone of its country agrees with it since 1970 (then its own rules stand).
    static func mainDataTarget(for name: String, own: TimeZoneRules) -> String? {
        let tables = zoneTables.withLock { tables -> ZoneTables in
            if let tables { return tables }
            let loaded = loadZoneTables()
            tables = loaded
            return loaded
        }
        guard !tables.zone1970Names.isEmpty, !tables.zone1970Names.contains(name),
            let countries = tables.countriesByZone[name]
        else { return nil }
        // zone1970.tab order is stable (sorted by country then zone), so the choice is deterministic.
        for entry in tables.zone1970 where entry.countries.contains(where: countries.contains) {
            if let candidate = fileRules(for: entry.zone), candidate.agreesSince1970(with: own) {
                return entry.zone
            }
        }
        return nil
    }

    /// Reads `zone1970.tab` and `zone.tab` (tab-separated: countries, coordinates, zone, comment; `#` comments).
    private static func loadZoneTables() -> ZoneTables {
        func rows(_ file: String) -> [(countries: [Substring], zone: String)] {
            guard let bytes = readFile(directory + "/" + file) else { return [] }
            return String(decoding: bytes, as: UTF8.self).split(separator: "\n").compactMap { line in
                guard !line.hasPrefix("#") else { return nil }
                let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
                guard fields.count >= 3 else { return nil }
                return (fields[0].split(separator: ","), String(fields[2]))
            }
        }
        var tables = ZoneTables()
        for row in rows("zone1970.tab") {
            tables.zone1970.append((row.zone, row.countries))
            tables.zone1970Names.insert(row.zone)
        }
        for row in rows("zone.tab") { tables.countriesByZone[row.zone, default: []] += row.countries }
        return tables
    }

    private static let canonicalNames = Mutex<[String: String]?>(nil)

    /// The zone id as the tz database spells it, for a name given in any letter case and with spaces for
    /// underscores (Neo4j parses zone names case-insensitively: `europe/stockholm` is `Europe/Stockholm`).
    /// Nil when there is no such zone.
    public static func canonicalName(_ name: String) -> String? {
        let spaced = String(name.map { $0 == " " ? "_" : $0 })
        if rules(for: spaced) != nil { return spaced }
        let index = canonicalNames.withLock { names -> [String: String] in
            if let names { return names }
            var built: [String: String] = [:]
            collectZoneNames(directory, prefix: "", depth: 0, into: &built)
            names = built
            return built
        }
        guard let found = index[spaced.lowercased()], rules(for: found) != nil else { return nil }
        return found
    }

    /// Walks the zoneinfo tree (skipping the `posix`/`right` copies) collecting lowercased → real names.
    private static func collectZoneNames(_ path: String, prefix: String, depth: Int, into names: inout [String: String])
    {
        guard depth < 4, let dir = opendir(path) else { return }
        defer { closedir(dir) }
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name.hasPrefix(".") || (depth == 0 && (name == "posix" || name == "right")) { continue }
            let relative = prefix.isEmpty ? name : prefix + "/" + name
            guard isPlausibleName(relative) else { continue }
            if entry.pointee.d_type == UInt8(DT_DIR) {
                collectZoneNames(path + "/" + name, prefix: relative, depth: depth + 1, into: &names)
            } else {
                names[relative.lowercased()] = relative
            }
        }
    }

    private static func readFile(_ path: String) -> [UInt8]? {
        guard let file = fopen(path, "rb") else { return nil }
        defer { fclose(file) }
        var result: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 8192)
        while true {
            let n = buffer.withUnsafeMutableBytes { fread($0.baseAddress, 1, 8192, file) }
            if n <= 0 { break }
            result.append(contentsOf: buffer[0..<n])
            if result.count > 1 << 20 { return nil }  // no zone file is this large
        }
        return result
    }

    /// Parses a TZif file (RFC 8536). Returns nil for anything malformed.
    static func parseTZif(_ bytes: [UInt8]) -> TimeZoneRules? {
        func be32(_ at: Int) -> Int64? {
            guard at + 4 <= bytes.count else { return nil }
            let v =
                UInt32(bytes[at]) << 24 | UInt32(bytes[at + 1]) << 16 | UInt32(bytes[at + 2]) << 8
                | UInt32(bytes[at + 3])
            return Int64(Int32(bitPattern: v))
        }
        func be64(_ at: Int) -> Int64? {
            guard let hi = be32(at), let lo = be32(at + 4) else { return nil }
            return hi << 32 | (lo & 0xFFFF_FFFF)
        }
        struct Header {
            var isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt: Int
        }
        func header(_ at: Int) -> Header? {
            guard at + 44 <= bytes.count, bytes[at] == 0x54, bytes[at + 1] == 0x5A, bytes[at + 2] == 0x69,
                bytes[at + 3] == 0x66
            else { return nil }
            let counts = (0..<6).compactMap { be32(at + 20 + $0 * 4) }.map { Int($0) }
            guard counts.count == 6, counts.allSatisfy({ $0 >= 0 && $0 < 100_000 }) else { return nil }
            return Header(
                isutcnt: counts[0], isstdcnt: counts[1], leapcnt: counts[2], timecnt: counts[3], typecnt: counts[4],
                charcnt: counts[5])
        }
        guard let v1 = header(0) else { return nil }
        let version = bytes[4]
        var pos = 44
        var timeSize = 4
        var h = v1
        if version >= 0x32 {
            // Skip the 32-bit block; the 64-bit block follows with its own header.
            pos += v1.timecnt * 5 + v1.typecnt * 6 + v1.charcnt + v1.leapcnt * 8 + v1.isstdcnt + v1.isutcnt
            guard let v2 = header(pos) else { return nil }
            h = v2
            pos += 44
            timeSize = 8
        }
        guard h.typecnt > 0 else { return nil }
        var transitions: [Int64] = []
        transitions.reserveCapacity(h.timecnt)
        for i in 0..<h.timecnt {
            guard let t = timeSize == 8 ? be64(pos + i * 8) : be32(pos + i * 4) else { return nil }
            transitions.append(t)
        }
        pos += h.timecnt * timeSize
        guard pos + h.timecnt <= bytes.count else { return nil }
        let typeIndices = Array(bytes[pos..<(pos + h.timecnt)])
        pos += h.timecnt
        var typeOffsets: [Int32] = []
        for i in 0..<h.typecnt {
            guard let off = be32(pos + i * 6) else { return nil }
            typeOffsets.append(Int32(off))
        }
        pos += h.typecnt * 6 + h.charcnt + h.leapcnt * (timeSize + 4) + h.isstdcnt + h.isutcnt
        var offsetsAfter: [Int32] = []
        for index in typeIndices {
            guard Int(index) < typeOffsets.count else { return nil }
            offsetsAfter.append(typeOffsets[Int(index)])
        }
        var footer: PosixZoneRule?
        if version >= 0x32, pos < bytes.count, bytes[pos] == 0x0A {
            let rest = bytes[(pos + 1)...]
            if let end = rest.firstIndex(of: 0x0A) {
                footer = PosixZoneRule.parse(String(decoding: bytes[(pos + 1)..<end], as: UTF8.self))
            }
        }
        return TimeZoneRules(
            transitions: transitions, offsetsAfter: offsetsAfter, initialOffset: typeOffsets[0], footer: footer)
    }
}

/// A time zone as Cypher values carry it: a fixed offset or a named region.
public enum CypherTimeZone: Sendable, Hashable {
    case offset(Int32)
    case named(String)

    /// Parses a zone as Cypher accepts it: `Z`, `+01:00`, `+0100`, `+01`, `-08:30:15`, `UTC`, or a tz database
    /// name such as `Europe/Stockholm`. Throws ArgumentError for unknown zones.
    public static func parse(_ text: String) throws -> CypherTimeZone {
        if let seconds = parseOffset(Substring(text)) { return .offset(seconds) }
        if let name = TimeZoneDatabase.canonicalName(text) { return .named(name) }
        throw DatabaseError(.argumentError, "Invalid value for TimeZone: Text '\(text)' could not be parsed")
    }

    /// `Z`, `±HH`, `±HHMM`, `±HH:MM`, `±HH:MM:SS`, `±HHMMSS`; nil otherwise (or when out of ±18:00).
    public static func parseOffset(_ text: Substring) -> Int32? {
        if text == "Z" || text == "z" { return 0 }
        let u = Array(text.utf8)
        guard u.count >= 3, u[0] == UInt8(ascii: "+") || u[0] == UInt8(ascii: "-") else { return nil }
        let sign: Int32 = u[0] == UInt8(ascii: "-") ? -1 : 1
        var digits: [Int32] = []
        var i = 1
        var groups: [Int32] = []
        let extended = u.contains(UInt8(ascii: ":"))
        while i < u.count {
            let c = u[i]
            if c == UInt8(ascii: ":") {
                guard digits.count == 2 else { return nil }
                groups.append(digits[0] * 10 + digits[1])
                digits = []
            } else if c >= 48 && c <= 57 {
                digits.append(Int32(c - 48))
                if !extended && digits.count == 2 {
                    groups.append(digits[0] * 10 + digits[1])
                    digits = []
                }
            } else {
                return nil
            }
            i += 1
        }
        if extended {
            guard digits.count == 2 else { return nil }
            groups.append(digits[0] * 10 + digits[1])
        } else if !digits.isEmpty {
            return nil
        }
        guard !groups.isEmpty, groups.count <= 3 else { return nil }
        let h = groups[0]
        let m = groups.count > 1 ? groups[1] : 0
        let s = groups.count > 2 ? groups[2] : 0
        guard m < 60, s < 60 else { return nil }
        let total = h * 3600 + m * 60 + s
        guard total <= 18 * 3600 else { return nil }
        return sign * total
    }

    /// The zone id as Neo4j prints it (`timezone` property): `+01:00`, `Z`, `Europe/Stockholm`.
    public var name: String {
        switch self {
        case .offset(let seconds): return TemporalFormat.offset(seconds)
        case .named(let name): return name
        }
    }

    /// The offset in force at a UTC instant.
    public func offset(atEpochSecond t: Int64) -> Int32 {
        switch self {
        case .offset(let seconds): return seconds
        case .named(let name): return TimeZoneDatabase.rules(for: name)?.offset(atEpochSecond: t) ?? 0
        }
    }

    /// Builds a date-time from a local reading in this zone (see `TimeZoneRules.resolve`).
    public func dateTime(localEpochSecond local: Int64, nanosecond: Int32, preferredOffset: Int32? = nil)
        -> CypherDateTime
    {
        switch self {
        case .offset(let seconds):
            return CypherDateTime(
                epochSeconds: local - Int64(seconds), nanosecond: nanosecond, offsetSeconds: seconds, zoneId: nil)
        case .named(let name):
            guard let rules = TimeZoneDatabase.rules(for: name) else {
                return CypherDateTime(epochSeconds: local, nanosecond: nanosecond, offsetSeconds: 0, zoneId: name)
            }
            let (adjusted, offset) = rules.resolve(localEpochSecond: local, preferredOffset: preferredOffset)
            return CypherDateTime(
                epochSeconds: adjusted - Int64(offset), nanosecond: nanosecond, offsetSeconds: offset, zoneId: name)
        }
    }

    /// Builds a date-time at a UTC instant in this zone.
    public func dateTime(epochSecond: Int64, nanosecond: Int32) -> CypherDateTime {
        switch self {
        case .offset(let seconds):
            return CypherDateTime(
                epochSeconds: epochSecond, nanosecond: nanosecond, offsetSeconds: seconds, zoneId: nil)
        case .named(let name):
            return CypherDateTime(
                epochSeconds: epochSecond, nanosecond: nanosecond, offsetSeconds: offset(atEpochSecond: epochSecond),
                zoneId: name)
        }
    }
}
