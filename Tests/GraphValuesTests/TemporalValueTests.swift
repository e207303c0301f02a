import Foundation
import Testing

@testable import GraphValues

@Suite("Temporal calendar")
struct TemporalCalendarTests {
    @Test("epoch day and civil date round-trip over a wide range, including negative years")
    func civilRoundTrip() {
        for day in stride(from: Int64(-1_000_000), through: 1_000_000, by: 997) {
            let (y, m, d) = TemporalCalendar.civil(day)
            #expect(TemporalCalendar.epochDay(year: y, month: m, day: d) == day)
        }
        #expect(TemporalCalendar.epochDay(year: 1970, month: 1, day: 1) == 0)
        #expect(TemporalCalendar.epochDay(year: 2000, month: 3, day: 1) == 11_017)
        let extreme = TemporalCalendar.epochDay(year: -999_999_999, month: 1, day: 1)
        #expect(TemporalCalendar.civil(extreme) == (-999_999_999, 1, 1))
    }

    @Test("ISO weeks: 1984-01-01 is in week 52 of 1983, 1984-10-11 in week 41")
    func isoWeeks() throws {
        let jan1 = try TemporalCalendar.validDate(year: 1984, month: 1, day: 1)
        #expect(TemporalCalendar.isoWeek(jan1) == (1983, 52))
        #expect(TemporalCalendar.dayOfWeek(jan1) == 7)
        let oct11 = try TemporalCalendar.validDate(year: 1984, month: 10, day: 11)
        #expect(TemporalCalendar.isoWeek(oct11) == (1984, 41))
        #expect(TemporalCalendar.weeksInWeekYear(2015) == 53)
        #expect(TemporalCalendar.weeksInWeekYear(2016) == 52)
        #expect(
            try TemporalCalendar.validWeekDate(weekYear: 2015, week: 30, dayOfWeek: 2)
                == TemporalCalendar.epochDay(year: 2015, month: 7, day: 21))
    }

    @Test("adding months clamps to the end of the month; months between truncates towards zero")
    func months() throws {
        let jan31 = try TemporalCalendar.validDate(year: 2016, month: 1, day: 31)
        #expect(TemporalCalendar.civil(TemporalCalendar.addingMonths(1, to: jan31)) == (2016, 2, 29))
        #expect(TemporalCalendar.civil(TemporalCalendar.addingMonths(-13, to: jan31)) == (2014, 12, 31))
        let a = try TemporalCalendar.validDate(year: 2018, month: 3, day: 11)
        let b = try TemporalCalendar.validDate(year: 2016, month: 6, day: 24)
        #expect(TemporalCalendar.monthsBetween(a, b) == -20)
    }

    @Test("invalid dates are ArgumentErrors")
    func invalidDates() {
        #expect(throws: DatabaseError.self) { try TemporalCalendar.validDate(year: 2015, month: 2, day: 29) }
        #expect(throws: DatabaseError.self) { try TemporalCalendar.validDate(year: 2015, month: 13, day: 1) }
        #expect(throws: DatabaseError.self) {
            try TemporalCalendar.validWeekDate(weekYear: 2016, week: 53, dayOfWeek: 1)
        }
        do {
            _ = try TemporalCalendar.validOrdinalDate(year: 2015, dayOfYear: 366)
            Issue.record("expected an error")
        } catch let error as DatabaseError {
            #expect(error.code == .argumentError)
        } catch {
            Issue.record("unexpected \(error)")
        }
    }
}

@Suite("Temporal text")
struct TemporalTextTests {
    @Test("dates print as java.time does, with signs outside 0000-9999")
    func dates() throws {
        #expect(try CypherDate(year: 2015, month: 7, day: 21).cypherString == "2015-07-21")
        #expect(try CypherDate(year: -1, month: 1, day: 1).cypherString == "-0001-01-01")
        #expect(try CypherDate(year: 999_999_999, month: 12, day: 31).cypherString == "+999999999-12-31")
        #expect(try CypherDate(year: 12, month: 1, day: 1).cypherString == "0012-01-01")
    }

    @Test("times drop zero seconds and print fractions in groups of three digits")
    func times() {
        #expect(CypherLocalTime(nanosecondOfDay: 12 * 3_600_000_000_000).cypherString == "12:00")
        #expect(CypherLocalTime(nanosecondOfDay: 1_000_000).cypherString == "00:00:00.001")
        #expect(CypherLocalTime(nanosecondOfDay: 1_000).cypherString == "00:00:00.000001")
        #expect(CypherLocalTime(nanosecondOfDay: 1).cypherString == "00:00:00.000000001")
        #expect(CypherTime(nanosecondOfDay: 0, offsetSeconds: 3208).cypherString == "00:00+00:53:28")
        #expect(CypherTime(nanosecondOfDay: 0, offsetSeconds: -5400).cypherString == "00:00-01:30")
    }

    /// Expected texts as the TCK runner's `duration_string` (Neo4j's DurationValue.toString) renders them.
    @Test("durations print as Neo4j's DurationValue.toString")
    func durations() throws {
        func d(_ m: Int64, _ days: Int64, _ s: Int64, _ n: Int64) throws -> String {
            try CypherDuration.normalized(months: m, days: days, seconds: s, nanoseconds: n).cypherString
        }
        #expect(try d(0, 0, 0, 0) == "PT0S")
        #expect(try d(14, 0, 0, 0) == "P1Y2M")
        #expect(try d(-14, 0, 0, 0) == "P-1Y-2M")
        #expect(try d(0, 0, 2, -1_000_000) == "PT1.999S")
        #expect(try d(0, 0, -2, 1_000_000) == "PT-1.999S")
        #expect(try d(0, 0, -60, -1_000_000) == "PT-1M-0.001S")
        #expect(try d(0, 1, 0, -1_000_000) == "P1DT-0.001S")
        #expect(try d(0, 0, 0, -400_000_000) == "PT-0.4S")
        #expect(try d(0, 0, 63_113_904_000_000_000, 0) == "PT17531640000000H")
    }

    @Test("Java double text for point coordinates")
    func javaDoubles() {
        #expect(JavaDouble.format(1) == "1.0")
        #expect(JavaDouble.format(-2.5) == "-2.5")
        #expect(JavaDouble.format(0.001) == "0.001")
        #expect(JavaDouble.format(0.0001) == "1.0E-4")
        #expect(JavaDouble.format(1e7) == "1.0E7")
        #expect(JavaDouble.format(12_345_678.9) == "1.23456789E7")
        #expect(JavaDouble.format(9_999_999) == "9999999.0")
        #expect(JavaDouble.format(123.456) == "123.456")
    }
}

@Suite("Temporal parsing")
struct TemporalParsingTests {
    @Test("all ISO date forms")
    func dates() throws {
        for text in ["2015-07-21", "20150721", "2015-W30-2", "2015W302", "2015-202", "2015202"] {
            #expect(try TemporalParser.date(text).cypherString == "2015-07-21", "\(text)")
        }
        #expect(try TemporalParser.date("2015-W30").cypherString == "2015-07-20")
        #expect(try TemporalParser.date("2015").cypherString == "2015-01-01")
        #expect(try TemporalParser.date("-999999999-01-01").cypherString == "-999999999-01-01")
    }

    @Test("malformed and invalid texts are ArgumentErrors")
    func errors() {
        for text in ["2015-13-01", "2015-02-30", "15-07-21", "2015-07-21x", "", "2015-W54", "24:00", "hello"] {
            do {
                _ = try TemporalParser.date(text)
                if text != "24:00" { Issue.record("\(text) parsed") }
            } catch let error as DatabaseError {
                #expect(error.code == .argumentError)
            } catch {
                Issue.record("unexpected \(error)")
            }
        }
        #expect(throws: DatabaseError.self) { try TemporalParser.localTime("24:00") }
        #expect(throws: DatabaseError.self) { try TemporalParser.localTime("12:60") }
        #expect(throws: DatabaseError.self) { try TemporalParser.duration("P1H") }
        #expect(throws: DatabaseError.self) { try TemporalParser.duration("PT1D") }
        #expect(throws: DatabaseError.self) { try TemporalParser.duration("P") }
        #expect(throws: DatabaseError.self) {
            try TemporalParser.dateTime("2015-07-21T21:40+05:00[Europe/Stockholm]", defaultZone: .offset(0))
        }
        #expect(throws: DatabaseError.self) {
            try TemporalParser.dateTime("2015-07-21T21:40[Mars/Olympus]", defaultZone: .offset(0))
        }
        #expect(throws: DatabaseError.self) {
            try TemporalParser.dateTime("2015-07-21T21:40[../../etc/passwd]", defaultZone: .offset(0))
        }
    }

    @Test("durations parse with fractions cascading like Neo4j")
    func durations() throws {
        let cases = [
            ("P14DT16H12M", "P14DT16H12M"), ("P5M1.5D", "P5M1DT12H"), ("P0.75M", "P22DT19H51M49.5S"),
            ("PT0.75M", "PT45S"), ("P2.5W", "P17DT12H"), ("P12Y5M14DT16H12M70S", "P12Y5M14DT16H13M10S"),
            ("P2012-02-02T14:37:21.545", "P2012Y2M2DT14H37M21.545S"), ("PT-1M-0.001S", "PT-1M-0.001S"),
            ("-P1Y", "P-1Y"), ("PT0.3S", "PT0.3S"),
        ]
        for (text, expected) in cases {
            #expect(try TemporalParser.duration(text).cypherString == expected, "\(text)")
        }
    }
}

@Suite("Time zones")
struct TimeZoneTests {
    @Test("Europe/Stockholm offsets around the 2017 DST changes")
    func stockholm() throws {
        let rules = try #require(TimeZoneDatabase.rules(for: "Europe/Stockholm"))
        // 2017-03-26T01:00Z: clocks go from +01:00 to +02:00.
        #expect(rules.offset(atEpochSecond: 1_490_489_999) == 3600)
        #expect(rules.offset(atEpochSecond: 1_490_490_000) == 7200)
        // 2017-10-29T01:00Z: back to +01:00.
        #expect(rules.offset(atEpochSecond: 1_509_238_799) == 7200)
        #expect(rules.offset(atEpochSecond: 1_509_238_800) == 3600)
        // Far future uses the POSIX footer rule: 2100-07-01 is summer time.
        #expect(rules.offset(atEpochSecond: 4_118_083_200) == 7200)
        #expect(rules.offset(atEpochSecond: 4_102_444_800) == 3600)
    }

    @Test("zones merged in the tz main data take the merged zone's history (Stockholm before 1879 is Berlin's LMT)")
    func mergedZoneHistory() throws {
        // 1818-07-21T21:40Z. The TCK (Temporal2.feature [6]) expects +00:53:28 in Europe/Stockholm: since tzdata
        // 2022b Stockholm is a link to Berlin in the main data, whatever a backzone build of zoneinfo says.
        let instant = TemporalCalendar.epochDay(year: 1818, month: 7, day: 21) * 86_400 + 21 * 3600 + 40 * 60
        for name in ["Europe/Stockholm", "Europe/Oslo", "Europe/Copenhagen", "Europe/Berlin"] {
            let rules = try #require(TimeZoneDatabase.rules(for: name))
            #expect(rules.offset(atEpochSecond: instant) == 3208, "\(name)")
        }
        // Zones listed in zone1970.tab keep their own history: Paris's LMT is +00:09:21.
        #expect(TimeZoneDatabase.rules(for: "Europe/Paris")?.offset(atEpochSecond: instant) == 561)
        #expect(TimeZoneDatabase.mainDataTarget(for: "Europe/Berlin", own: try #require(
            TimeZoneDatabase.fileRules(for: "Europe/Berlin"))) == nil)
        let parsed = try TemporalParser.dateTime("1818-07-21T21:40:32.142[Europe/Stockholm]", defaultZone: .offset(0))
        #expect(parsed.cypherString == "1818-07-21T21:40:32.142+00:53:28[Europe/Stockholm]")
    }

    @Test("historic offsets of every zone.tab zone agree with Foundation's (ICU) copy of the tz main data")
    func historicOffsetsMatchFoundation() throws {
        let table = try String(contentsOfFile: TimeZoneDatabase.directory + "/zone.tab", encoding: .utf8)
        let zones = table.split(separator: "\n").filter { !$0.hasPrefix("#") }.compactMap { line in
            line.split(separator: "\t").dropFirst(2).first.map(String.init)
        }
        #expect(zones.count > 300)
        // Noon UTC on 1 July of years before 1970, where backzone builds and the main data differ. Both sides
        // answer "the offset at this UTC instant", so no local-time ambiguity enters the comparison.
        let instants: [Int64] = [1850, 1900, 1925, 1950].map { year in
            TemporalCalendar.epochDay(year: year, month: 7, day: 1) * 86_400 + 12 * 3600
        }
        var mismatches: [String] = []
        for zone in zones {
            guard let ours = TimeZoneDatabase.rules(for: zone), let icu = TimeZone(identifier: zone) else { continue }
            for instant in instants {
                let expected = icu.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(instant)))
                let got = Int(ours.offset(atEpochSecond: instant))
                if got != expected { mismatches.append("\(zone)@\(instant): \(got) vs \(expected)") }
            }
        }
        #expect(mismatches.isEmpty, "\(mismatches.prefix(20))")
    }

    @Test("local times in a gap move forward, in an overlap take the earlier offset unless preferred")
    func gapAndOverlap() throws {
        let zone = CypherTimeZone.named("Europe/Stockholm")
        // 2017-03-26T02:30 does not exist locally: becomes 03:30+02:00.
        let gapLocal = TemporalCalendar.epochDay(year: 2017, month: 3, day: 26) * 86_400 + 2 * 3600 + 1800
        let gap = zone.dateTime(localEpochSecond: gapLocal, nanosecond: 0)
        #expect(gap.cypherString == "2017-03-26T03:30+02:00[Europe/Stockholm]")
        // 2017-10-29T02:30 happens twice.
        let overlapLocal = TemporalCalendar.epochDay(year: 2017, month: 10, day: 29) * 86_400 + 2 * 3600 + 1800
        #expect(zone.dateTime(localEpochSecond: overlapLocal, nanosecond: 0).offsetSeconds == 7200)
        #expect(
            zone.dateTime(localEpochSecond: overlapLocal, nanosecond: 0, preferredOffset: 3600).offsetSeconds == 3600)
    }

    @Test("POSIX TZ footers for both hemispheres")
    func posixRules() throws {
        let north = try #require(PosixZoneRule.parse("CET-1CEST,M3.5.0,M10.5.0/3"))
        #expect(north.standardOffset == 3600 && north.daylightOffset == 7200)
        #expect(north.offset(atEpochSecond: 4_118_083_200) == 7200)
        let south = try #require(PosixZoneRule.parse("AEST-10AEDT,M10.1.0,M4.1.0/3"))
        #expect(south.offset(atEpochSecond: 4_118_083_200) == 36000)  // July: winter
        #expect(south.offset(atEpochSecond: 4_102_444_800) == 39600)  // January: summer
        let fixed = try #require(PosixZoneRule.parse("<+0845>-8:45"))
        #expect(fixed.offset(atEpochSecond: 0) == 31_500)
    }

    @Test("offset texts")
    func offsets() throws {
        #expect(CypherTimeZone.parseOffset("+0100") == 3600)
        #expect(CypherTimeZone.parseOffset("-02") == -7200)
        #expect(CypherTimeZone.parseOffset("+08:45") == 31_500)
        #expect(CypherTimeZone.parseOffset("+00:53:28") == 3208)
        #expect(CypherTimeZone.parseOffset("+19:00") == nil)
        #expect(CypherTimeZone.parseOffset("+1:00") == nil)
        #expect(throws: DatabaseError.self) { try CypherTimeZone.parse("Nowhere/Special") }
        #expect(try CypherTimeZone.parse("asia/tokyo") == .named("Asia/Tokyo"))
        #expect(throws: DatabaseError.self) { try CypherTimeZone.parse("posix/Asia/Tokyo/..") }
    }
}

@Suite("Temporal ordering")
struct TemporalOrderingTests {
    /// Neo4j orders equal instants by offset (ascending), then fixed offsets before named zones, then by name.
    @Test("date-times at the same instant order by offset, then offset before named zone")
    func dateTimeTies() {
        let utc = CypherDateTime(epochSeconds: 0, nanosecond: 0, offsetSeconds: 0, zoneId: nil)
        let plusOne = CypherDateTime(epochSeconds: 0, nanosecond: 0, offsetSeconds: 3600, zoneId: nil)
        let stockholm = CypherDateTime(epochSeconds: 0, nanosecond: 0, offsetSeconds: 3600, zoneId: "Europe/Stockholm")
        let berlin = CypherDateTime(epochSeconds: 0, nanosecond: 0, offsetSeconds: 3600, zoneId: "Europe/Berlin")
        #expect(CypherDateTime.order(utc, plusOne) == -1)
        #expect(CypherDateTime.order(plusOne, stockholm) == -1)
        #expect(CypherDateTime.order(berlin, stockholm) == -1)
        #expect(CypherDateTime.order(stockholm, stockholm) == 0)
        let later = CypherDateTime(epochSeconds: 0, nanosecond: 1, offsetSeconds: -3600, zoneId: nil)
        #expect(CypherDateTime.order(stockholm, later) == -1)
    }

    @Test("times order by their UTC time of day, then by offset")
    func times() {
        let a = CypherTime(nanosecondOfDay: 10 * 3_600_000_000_000, offsetSeconds: 3600)  // 09:00Z
        let b = CypherTime(nanosecondOfDay: 9 * 3_600_000_000_000 + 1, offsetSeconds: 0)
        #expect(CypherTime.order(a, b) == -1)
        let c = CypherTime(nanosecondOfDay: 9 * 3_600_000_000_000, offsetSeconds: 0)
        #expect(CypherTime.order(c, a) == -1)
    }
}

@Suite("Points")
struct PointTests {
    @Test("text and distances")
    func points() throws {
        let p = CypherPoint(srid: 7203, x: 1, y: 2)
        #expect(p.cypherString == "point({x: 1.0, y: 2.0, crs: 'cartesian'})")
        let q = CypherPoint(srid: 9157, x: 1, y: 2, z: 3)
        #expect(q.cypherString == "point({x: 1.0, y: 2.0, z: 3.0, crs: 'cartesian-3d'})")
        #expect(CypherPoint.distance(p, CypherPoint(srid: 7203, x: 4, y: 6)) == 5)
        #expect(CypherPoint.distance(p, q) == nil)
        // Malmö to Copenhagen: 28,482.8 m by haversine with R = 6,378,140 m (computed independently).
        let malmo = CypherPoint(srid: 4326, x: 13.0038, y: 55.6050)
        let copenhagen = CypherPoint(srid: 4326, x: 12.5683, y: 55.6761)
        let d = try #require(CypherPoint.distance(malmo, copenhagen))
        #expect(abs(d - 28_482.81) < 0.1, "\(d)")
    }
}
