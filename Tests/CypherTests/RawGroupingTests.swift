import Foundation
import GraphKernel
import GraphValues
import Testing

@testable import Cypher

/// The fused label-scan aggregation groups on raw property bits (`RawProperty`, `RawGroupCache`) before the exact
/// Cypher equivalence: the groups must be exactly those of the ordinary row pipeline, whatever the bits.
@Suite("Raw grouping keys")
struct RawGroupingTests {
    /// Fused (scan straight into the aggregation) and pipelined (`WHERE true` keeps a Filter between them).
    private func bothWays(_ db: TestDatabase, _ tail: String) throws -> (fused: [[Value]], pipelined: [[Value]]) {
        (try db.run("MATCH (p:P) " + tail), try db.run("MATCH (p:P) WHERE true " + tail))
    }

    @Test("an integer and the float equal to it hash alike, up to the edge of the 64-bit range")
    func integerFloatHashContract() {
        let integers: [Int64] = [
            0, 1, -1, 1 << 53, (1 << 53) + 1, -(1 << 53) - 1, 9_210_000_000_000_000_000, -9_210_000_000_000_000_000,
            Int64.min, Int64.max - 1023,
        ]
        for i in integers {
            let f = Double(i)
            let equal = GroupingKey(.integer(i)) == GroupingKey(.float(f))
            #expect(equal == Semantics.intEqualsDouble(i, f))
            if equal {
                #expect(GroupingKey(.integer(i)).hashValue == GroupingKey(.float(f)).hashValue, "\(i) vs \(f)")
                #expect(Set([GroupingKey(.integer(i)), GroupingKey(.float(f))]).count == 1)
            }
        }
        // 2^53 + 1 has no float of its own: it is not equal to 2^53 as a float, so the two keep two groups.
        #expect(GroupingKey(.integer((1 << 53) + 1)) != GroupingKey(.float(9_007_199_254_740_992.0)))
    }

    @Test("equivalent keys with different bits share one group: 1 and 1.0, canonically equal strings",
          arguments: Backend.allCases)
    func equivalentKeys(_ backend: Backend) throws {
        let db = TestDatabase(backend)
        // "\u{212A}" (KELVIN SIGN) is canonically equivalent to "K"; "e\u{301}" to "\u{E9}".
        try db.run("""
            UNWIND [1, 1.0, 2, 2.5, 'K', '\\u212A', 'e\\u0301', '\\u00E9', true, false, true, null, 0.0, -0.0,
                    'a longer string than eight', 'a longer string than eight', [1, 2], [1.0, 2.0]] AS k
            CREATE (:P {k: k, v: 1})
            """)
        let tail = "RETURN p.k AS k, count(*) AS n, sum(p.v) AS s"
        let (fused, pipelined) = try bothWays(db, tail)
        func counts(_ rows: [[Value]]) -> [Int64] {
            rows.compactMap { if case .integer(let n) = $0[1] { return n } else { return nil } }.sorted()
        }
        #expect(counts(fused) == counts(pipelined))
        // 1/1.0, 2, 2.5, K, é, true, false, null, 0.0/-0.0, long string, list: eleven groups.
        #expect(fused.count == 11, "\(fused)")
        #expect(counts(fused) == [1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2])
        let one = try db.run("MATCH (p:P) WHERE p.k = 1 RETURN count(*)")
        #expect(one == [[.integer(2)]])
        let nanRows = try db.run("MATCH (p:P) WITH p LIMIT 1 CREATE (:P {k: 0.0 / 0.0}), (:P {k: 0.0 / 0.0})")
        #expect(nanRows.isEmpty)
        // NaN groups with NaN (openCypher grouping), whatever the path.
        let withNaN = try bothWays(db, tail)
        #expect(counts(withNaN.fused) == counts(withNaN.pipelined))
        let nanGroups = withNaN.fused.filter { if case .float(let d) = $0[0] { return d.isNaN } else { return false } }
        #expect(nanGroups.count == 1)
        #expect(nanGroups.first?[1] == .integer(2))
    }

    @Test("values decoded beside the raw bits never share a group by position across batches",
          arguments: Backend.allCases)
    func decodedValuesAcrossBatches(_ backend: Backend) throws {
        let db = TestDatabase(backend)
        // 1 000 nodes (four batches of 256): long strings whose side-array positions repeat from batch to batch.
        try db.run("""
            UNWIND range(0, 999) AS i
            CREATE (:P {k: 'long grouping key number ' + toString(i % 7), age: i % 10, small: 'c' + toString(i % 3)})
            """)
        let tail = "RETURN p.k AS k, count(*) AS n, avg(p.age) AS a, collect(DISTINCT p.small) AS s ORDER BY k"
        let (fused, pipelined) = try bothWays(db, tail)
        #expect(fused == pipelined)
        #expect(fused.count == 7)
        #expect(fused.first?[1] == .integer(143))
        let twoKeys = try bothWays(db, "RETURN p.small AS s, p.k AS k, count(*) AS n ORDER BY s, k")
        #expect(twoKeys.fused == twoKeys.pipelined)
        #expect(twoKeys.fused.count == 21)
    }

    @Test("the fused scan sees the transaction's own uncommitted writes")
    func uncommittedWrites() throws {
        let directory = NSTemporaryDirectory() + "trellis-raw-grouping-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let database = try GraphDatabase(directory: directory)
        defer { try? database.close() }
        let engine = CypherEngine()
        try database.write { tx in
            _ = try engine.execute("UNWIND range(1, 300) AS i CREATE (:P {city: 'c' + toString(i % 2), age: i})",
                                   parameters: [:], transaction: tx).all()
        }
        let tx = try database.beginTransaction(mode: .write)
        defer { if tx.isOpen { tx.rollback() } }
        _ = try engine.execute("MATCH (p:P) WHERE p.age <= 10 SET p.city = 'changed', p.age = 1000",
                               parameters: [:], transaction: tx).all()
        _ = try engine.execute("CREATE (:P {city: 'new city name, long', age: 1})", parameters: [:],
                               transaction: tx).all()
        let rows = try engine.execute(
            "MATCH (p:P) RETURN p.city AS city, count(*) AS n, sum(p.age) AS s ORDER BY city", parameters: [:],
            transaction: tx
        ).all()
        // Ages 11...300: even ones in c0, odd ones in c1.
        let evens = stride(from: 12, through: 300, by: 2).reduce(0, +)
        let odds = stride(from: 11, through: 299, by: 2).reduce(0, +)
        #expect(rows == [
            [.string("c0"), .integer(145), .integer(Int64(evens))],
            [.string("c1"), .integer(145), .integer(Int64(odds))],
            [.string("changed"), .integer(10), .integer(10_000)],
            [.string("new city name, long"), .integer(1), .integer(1)],
        ])
    }

    @Test("raw properties stand for the values they were read from")
    func rawPropertyRoundTrip() {
        var decoded: [Value] = []
        let values: [Value] = [
            .null, .boolean(true), .boolean(false), .integer(-7), .integer(Int64.max), .float(-0.0), .float(2.5),
            .string(""), .string("City07"), .string("12345678"), .string("\u{E9}t\u{E9}"), .string("123456789"),
            .list([.integer(1)]),
        ]
        let raw = values.map { RawProperty.from($0, decoded: &decoded) }
        #expect(raw.map(\.kind) == [
            .absent, .boolean, .boolean, .integer, .integer, .float, .float, .shortString, .shortString,
            .shortString, .shortString, .decoded, .decoded,
        ])
        #expect(decoded == [.string("123456789"), .list([.integer(1)])])
        for (r, v) in zip(raw, values) {
            let back = r.value(decoded)
            #expect(back == v || (back.isNull && v.isNull), "\(v)")
        }
        // The float -0.0 keeps its sign bit: bits are exact, equality is the caller's business.
        #expect(raw[5].bits == (-0.0 as Double).bitPattern)
    }

    @Test("the raw group cache finds every inserted key, through growth, and never confuses kinds")
    func cache() {
        var cache = RawGroupCache(capacity: 4)
        for i in 0..<10_000 {
            cache.insert(RawProperty(kind: .integer, bits: UInt64(i)), group: i)
        }
        // The cache may drop a key whose probe sequence is too long (it is only a cache: the exact dictionary
        // answers then), but a key it answers for has the right group, and drops are rare.
        var found = 0
        for i in 0..<10_000 {
            if let g = cache.group(of: RawProperty(kind: .integer, bits: UInt64(i))) {
                #expect(g == i)
                found += 1
            }
        }
        #expect(found >= 9_990, "\(found) of 10 000 keys found")
        // Same bits, other kind or length: a different key.
        #expect(cache.group(of: RawProperty(kind: .float, bits: 3)) == nil)
        #expect(cache.group(of: RawProperty(kind: .shortString, length: 1, bits: 3)) == nil)
        cache.insert(RawProperty(kind: .shortString, length: 1, bits: 3), group: 77)
        #expect(cache.group(of: RawProperty(kind: .shortString, length: 1, bits: 3)) == 77)
        #expect(cache.group(of: RawProperty(kind: .shortString, length: 2, bits: 3)) == nil)
        #expect(cache.group(of: RawProperty(kind: .integer, bits: 3)).map { $0 == 3 } ?? true)
        // A second insert of the same bits keeps the first group.
        cache.insert(RawProperty(kind: .integer, bits: 5), group: 999)
        #expect(cache.group(of: RawProperty(kind: .integer, bits: 5)).map { $0 == 5 } ?? true)
        #expect(cache.group(of: .absent) == nil)
        cache.insert(.absent, group: 10_001)
        #expect(cache.group(of: .absent) == 10_001)
    }
}
