import Foundation
import GraphValues
import Testing

@testable import Cypher

/// Bad input must give a DatabaseError, never a crash (overflow traps, out-of-range indexing): throw random and
/// extreme arguments at every temporal/spatial function, property and operator. Seeded, so failures replay.
@Suite("Temporal robustness")
struct TemporalRobustnessTests {
    static let integers: [Int64] = [
        0, 1, -1, 2, 7, 12, 24, 59, 60, 999, 1000, 1_000_000, 999_999_999, 1_000_000_000, -999_999_999,
        Int64.max, Int64.min, Int64.max / 1000, Int64.min / 1000, 31_556_889_832_780_799, 86_400_000_000_000,
    ]
    static let floats: [Double] = [0.5, -0.5, 1e300, -1e300, .nan, .infinity, -.infinity, 1e-300, 12.5, 9.2e18]
    static let strings: [String] = [
        "2015-07-21", "+999999999-12-31", "-999999999-01-01", "2015-W53-7", "P1Y", "PT-0.5S", "12:00", "25:00",
        "2015-07-21T21:40:32.142+01:00[Europe/Stockholm]", "P999999999999999999Y", "PT99999999999999999H",
        "2015-02-29", "Europe/Stockholm", "Z", "+18:00", "-18:01", "millennium", "microsecond", "weekYear", "",
        "P2012-02-02T14:37:21.545", "[", "2015-07-21T[", "9999999999", "P1.5Y1.5M1.5W1.5DT1.5H1.5M1.5S",
    ]
    static let keys: [String] = [
        "year", "month", "day", "week", "dayOfWeek", "ordinalDay", "quarter", "dayOfQuarter", "hour", "minute",
        "second", "millisecond", "microsecond", "nanosecond", "timezone", "epochSeconds", "epochMillis", "date",
        "time", "datetime", "years", "months", "weeks", "days", "hours", "minutes", "seconds", "milliseconds",
        "microseconds", "nanoseconds", "x", "y", "z", "latitude", "longitude", "height", "crs", "srid",
    ]

    static func randomValue(_ rng: inout SplitMix64, depth: Int = 0) -> Value {
        switch Int.random(in: 0..<14, using: &rng) {
        case 0: return .null
        case 1, 2: return .integer(integers.randomElement(using: &rng)!)
        case 3: return .float(floats.randomElement(using: &rng)!)
        case 4: return .string(strings.randomElement(using: &rng)!)
        case 5: return .date(CypherDate(epochDays: integers.randomElement(using: &rng)!))
        case 6: return .localTime(CypherLocalTime(nanosecondOfDay: integers.randomElement(using: &rng)!))
        case 7:
            return .dateTime(
                CypherDateTime(
                    epochSeconds: integers.randomElement(using: &rng)!,
                    nanosecond: Int32.random(in: -2...2, using: &rng),
                    offsetSeconds: Int32.random(in: -100_000...100_000, using: &rng),
                    zoneId: Bool.random(using: &rng) ? "Europe/Stockholm" : nil))
        case 8:
            return .duration(
                CypherDuration(
                    months: integers.randomElement(using: &rng)!, days: integers.randomElement(using: &rng)!,
                    seconds: integers.randomElement(using: &rng)!,
                    nanoseconds: Int32.random(in: 0..<1_000_000_000, using: &rng)))
        case 9:
            return .point(
                CypherPoint(srid: [7203, 9157, 4326, 4979, 1][Int.random(in: 0..<5, using: &rng)], x: 1, y: 2))
        case 10:
            return .time(
                CypherTime(
                    nanosecondOfDay: integers.randomElement(using: &rng)!,
                    offsetSeconds: Int32.random(in: -70_000...70_000, using: &rng)))
        case 11:
            return .localDateTime(
                CypherLocalDateTime(epochSeconds: integers.randomElement(using: &rng)!, nanosecond: 5))
        default:
            guard depth < 2 else { return .integer(1) }
            var map: [String: Value] = [:]
            for _ in 0..<Int.random(in: 0...4, using: &rng) {
                map[keys.randomElement(using: &rng)!] = randomValue(&rng, depth: depth + 1)
            }
            return .map(map)
        }
    }

    /// Good values from the real constructors too, so operations get deep rather than failing at the door.
    static func goodValue(_ rng: inout SplitMix64) -> Value {
        let texts = [
            "date('+999999999-12-31')", "date('-999999999-01-01')",
            "localdatetime('+999999999-12-31T23:59:59.999999999')",
            "datetime('-999999999-01-01T00:00-18:00')", "datetime('2017-10-29T02:30[Europe/Stockholm]')",
            "time('23:59:59.999999999+18:00')", "duration('P999999999Y')", "duration('PT-9223372036854775807S')",
            "localtime('00:00')", "point({longitude: 180, latitude: -90})",
        ]
        var evaluator = TemporalExpressionEvaluator()
        return (try? evaluator.evaluate(texts.randomElement(using: &rng)!)) ?? .null
    }

    @Test("random and extreme arguments never crash and only raise DatabaseErrors")
    func fuzz() {
        // TEMPORAL_FUZZ_SEED replays or varies the run; TRELLIS_TEST_LONG=1 runs ten times as many cases.
        let environment = ProcessInfo.processInfo.environment
        let seed = environment["TEMPORAL_FUZZ_SEED"].flatMap(UInt64.init) ?? 20_261_125
        let iterations = environment["TRELLIS_TEST_LONG"] == "1" ? 200_000 : 20_000
        var rng = SplitMix64(state: seed)
        let context = TemporalContext(statementTimeEpochNanos: 1_500_000_000_000_000_000)
        let names = TemporalFunctions.functionNames
        var nonDatabaseErrors: [String] = []
        func run(_ label: String, _ body: () throws -> Void) {
            do { try body() } catch is DatabaseError {} catch { nonDatabaseErrors.append("\(label): \(error)") }
        }
        for i in 0..<iterations {
            let args = (0..<Int.random(in: 0...3, using: &rng)).map { _ in
                Bool.random(using: &rng) ? Self.randomValue(&rng) : Self.goodValue(&rng)
            }
            let name = names.randomElement(using: &rng)!
            run("\(i) \(name)\(args)") { _ = try TemporalFunctions.call(name, args, context: context) }
            let a = Bool.random(using: &rng) ? Self.randomValue(&rng) : Self.goodValue(&rng)
            let b = Bool.random(using: &rng) ? Self.randomValue(&rng) : Self.goodValue(&rng)
            run("\(i) ops \(a) \(b)") {
                _ = try? TemporalFunctions.add(a, b)
                _ = try? TemporalFunctions.subtract(a, b)
                _ = try? TemporalFunctions.multiply(a, b)
                _ = try? TemporalFunctions.divide(a, b)
                _ = TemporalFunctions.compare(a, b)
                _ = TemporalFunctions.orderingCompare(a, b)
                _ = try TemporalFunctions.property(of: a, Self.keys.randomElement(using: &rng)!)
            }
            run("\(i) text \(a)") { _ = TemporalExpressionEvaluator.text(a) }
        }
        #expect(nonDatabaseErrors.isEmpty, "seed \(seed): \(nonDatabaseErrors.prefix(5))")
    }
}
