import BoltCore
import GraphValues
import NIOCore
import Testing

@Suite("PackStream v1 codec")
struct PackStreamTests {
    @Test("integers use the smallest encoding at every size boundary (bolt.md §3)")
    func integerBoundaries() throws {
        let cases: [(Int64, String)] = [
            (0, "00"), (127, "7f"), (-1, "ff"), (-16, "f0"), (-17, "c8ef"), (128, "c90080"), (-128, "c880"),
            (-129, "c9ff7f"), (-200, "c9ff38"), (32767, "c97fff"), (32768, "ca00008000"), (-32768, "c98000"),
            (-32769, "caffff7fff"), (2_147_483_647, "ca7fffffff"), (2_147_483_648, "cb0000000080000000"),
            (-2_147_483_648, "ca80000000"), (-2_147_483_649, "cbffffffff7fffffff"),
            (1 << 40, "cb0000010000000000"), (Int64.max, "cb7fffffffffffffff"), (Int64.min, "cb8000000000000000"),
        ]
        for (value, hex) in cases {
            #expect(hexString(encode(.integer(value))) == hex, "encoding \(value)")
            #expect(try decode(hexBytes(hex)) == .integer(value), "decoding \(value)")
        }
        // Any width is accepted on input.
        #expect(try decode(hexBytes("cb0000000000000001")) == .integer(1))
        #expect(try decode(hexBytes("c8ff")) == .integer(-1))
    }

    @Test("scalars: null, booleans, floats, bytes")
    func scalars() throws {
        #expect(encode(.null) == [0xC0])
        #expect(encode(.boolean(true)) == [0xC3])
        #expect(encode(.boolean(false)) == [0xC2])
        #expect(hexString(encode(.float(1.25))) == "c13ff4000000000000")
        for d in [0.0, -0.0, 1.5, -2.5e300, Double.infinity, -Double.infinity, Double.leastNonzeroMagnitude] {
            #expect(try roundTrip(.float(d)) == .float(d))
        }
        guard case .float(let nan) = try roundTrip(.float(.nan)) else { Issue.record("NaN lost"); return }
        #expect(nan.isNaN)
        #expect(hexString(encode(.bytes([1, 2]))) == "cc020102")
        for n in [0, 255, 256, 65_535, 65_536] {
            let bytes = [UInt8](repeating: 7, count: n)
            let encoded = encode(.bytes(bytes))
            let marker: UInt8 = n <= 255 ? 0xCC : n <= 65_535 ? 0xCD : 0xCE
            #expect(encoded[0] == marker)
            #expect(try decode(encoded) == .bytes(bytes))
        }
    }

    @Test("string length markers: tiny, 8, 16 and 32 bit; sizes count UTF-8 bytes")
    func strings() throws {
        let expectations: [(Int, [UInt8])] = [
            (0, [0x80]), (15, [0x8F]), (16, [0xD0, 16]), (255, [0xD0, 255]), (256, [0xD1, 1, 0]),
            (65_535, [0xD1, 0xFF, 0xFF]), (65_536, [0xD2, 0, 1, 0, 0]),
        ]
        for (n, header) in expectations {
            let s = String(repeating: "a", count: n)
            let encoded = encode(.string(s))
            #expect(Array(encoded.prefix(header.count)) == header, "header for \(n)")
            #expect(encoded.count == header.count + n)
            #expect(try decode(encoded) == .string(s))
        }
        // "é" is 2 bytes, "😀" is 4.
        #expect(encode(.string("é😀")) == [0x86, 0xC3, 0xA9, 0xF0, 0x9F, 0x98, 0x80])
        #expect(try roundTrip(.string("Grüße, 世界 😀")) == .string("Grüße, 世界 😀"))
    }

    @Test("list and map size markers at every boundary")
    func collections() throws {
        for (n, marker) in [(0, 0x90), (15, 0x9F), (16, 0xD4), (255, 0xD4), (256, 0xD5), (65_535, 0xD5),
            (65_536, 0xD6)] as [(Int, UInt8)]
        {
            let list = Value.list((0..<n).map { .integer(Int64($0 % 100)) })
            let encoded = encode(list)
            #expect(encoded[0] == marker, "list of \(n)")
            #expect(try decode(encoded) == list)
        }
        for (n, marker) in [(0, 0xA0), (15, 0xAF), (16, 0xD8), (255, 0xD8), (256, 0xD9), (65_536, 0xDA)]
            as [(Int, UInt8)]
        {
            var map: [String: Value] = [:]
            for i in 0..<n { map["k\(i)"] = .integer(Int64(i)) }
            let encoded = encode(.map(map))
            #expect(encoded[0] == marker, "map of \(n)")
            #expect(try decode(encoded) == .map(map))
        }
        let nested = Value.map(["a": .list([.null, .boolean(true), .map(["b": .list([])])]), "": .string("")])
        #expect(try roundTrip(nested) == nested)
    }

    @Test("a repeated map key keeps the last value")
    func duplicateKeys() throws {
        // {"a": 1, "a": 2}
        #expect(try decode(hexBytes("a2 8161 01 8161 02")) == .map(["a": .integer(2)]))
    }

    @Test("nodes, relationships and paths carry element ids in 5.x and not in 4.4")
    func graphStructures() throws {
        let alice = NodeValue(id: 7, labels: ["Person"], properties: ["name": .string("Alice")])
        // The probe's node: N(7, ["Person"], {"name": "Alice"}, element id).
        #expect(hexString(encode(.node(alice))) == "b44e079186506572736f6ea1846e616d6585416c69636581" + "37")
        #expect(hexString(encode(.node(alice), v44)) == "b34e079186506572736f6ea1846e616d6585416c696365")
        #expect(try roundTrip(.node(alice)) == .node(alice))
        #expect(try roundTrip(.node(alice), v44) == .node(alice))

        let knows = RelationshipValue(id: 10, startNodeId: 7, endNodeId: 8, type: "KNOWS",
            properties: ["since": .integer(2020)])
        let rel5 = encode(.relationship(knows))
        #expect(Array(rel5.prefix(2)) == [0xB8, 0x52])
        #expect(Array(encode(.relationship(knows), v44).prefix(2)) == [0xB5, 0x52])
        #expect(try roundTrip(.relationship(knows)) == .relationship(knows))
        #expect(try roundTrip(.relationship(knows), v44) == .relationship(knows))
    }

    @Test("paths: distinct nodes and relationships, 1-based signed relationship indices")
    func paths() throws {
        let a = NodeValue(id: 1, labels: ["A"], properties: [:])
        let b = NodeValue(id: 2, labels: [], properties: [:])
        let c = NodeValue(id: 3, labels: [], properties: ["x": .float(1)])
        let ab = RelationshipValue(id: 10, startNodeId: 1, endNodeId: 2, type: "R", properties: [:])
        let cb = RelationshipValue(id: 11, startNodeId: 3, endNodeId: 2, type: "R", properties: [:])
        // (a)-[ab]->(b)<-[cb]-(c)-[cb]->(b): nodes a,b,c; rels ab,cb; indices 1,1, -2,2, 2,1
        let path = PathValue(nodes: [a, b, c, b], relationships: [ab, cb, cb])
        var buf = ByteBuffer()
        PackStreamEncoder(options: v44).write(.path(path), to: &buf)
        let bytes = Array(buf.readableBytesView)
        #expect(Array(bytes.prefix(3)) == [0xB3, 0x50, 0x93])  // 3 distinct nodes
        #expect(Array(bytes.suffix(7)) == [0x96, 0x01, 0x01, 0xFE, 0x02, 0x02, 0x01])
        #expect(try roundTrip(.path(path), v44) == .path(path))
        #expect(try roundTrip(.path(path)) == .path(path))
        // The probe path P([N1,N2],[r10],[1,1]) = (N1)-[r10]->(N2).
        let single = PathValue(nodes: [a, b], relationships: [ab])
        #expect(try roundTrip(.path(single)) == .path(single))
        let zeroLength = PathValue(nodes: [a], relationships: [])
        #expect(try roundTrip(.path(zeroLength)) == .path(zeroLength))
        // Self loop.
        let loop = RelationshipValue(id: 12, startNodeId: 1, endNodeId: 1, type: "SELF", properties: [:])
        let loopPath = PathValue(nodes: [a, a], relationships: [loop])
        #expect(try roundTrip(.path(loopPath)) == .path(loopPath))
    }

    @Test("temporal and spatial structures, with the probe's bytes")
    func temporal() throws {
        // [probe] 1970-01-01T02:15:00+01:00 = I(4500, 0, 3600).
        let dt = CypherDateTime(epochSeconds: 4500, nanosecond: 0, offsetSeconds: 3600, zoneId: nil)
        #expect(hexString(encode(.dateTime(dt))) == "b349c9119400c90e10")
        // Legacy 4.4 sends the local wall clock: 4500 + 3600 = 8100.
        #expect(hexString(encode(.dateTime(dt), v44)) == "b346c91fa400c90e10")
        #expect(try roundTrip(.dateTime(dt)) == .dateTime(dt))
        #expect(try roundTrip(.dateTime(dt), v44) == .dateTime(dt))
        let utcPatched = PackStreamOptions(elementIds: false, utcDateTime: true)
        #expect(hexString(encode(.dateTime(dt), utcPatched)) == "b349c9119400c90e10")

        let zoned = CypherDateTime(epochSeconds: 1_700_000_000, nanosecond: 5, offsetSeconds: 3600,
            zoneId: "Europe/Stockholm")
        #expect(encode(.dateTime(zoned))[1] == 0x69)
        #expect(encode(.dateTime(zoned), v44)[1] == 0x66)
        #expect(try roundTrip(.dateTime(zoned)) == .dateTime(zoned))
        #expect(try roundTrip(.dateTime(zoned), v44) == .dateTime(zoned))

        let values: [Value] = [
            .date(CypherDate(epochDays: 19000)), .date(CypherDate(epochDays: -719_162)),
            .localTime(CypherLocalTime(nanosecondOfDay: 86_399_999_999_999)),
            .time(CypherTime(nanosecondOfDay: 3_600_000_000_000, offsetSeconds: -18000)),
            .localDateTime(CypherLocalDateTime(epochSeconds: -1, nanosecond: 999_999_999)),
            .duration(CypherDuration(months: 14, days: 3, seconds: 61, nanoseconds: 5)),
            .duration(CypherDuration(months: -1, days: -2, seconds: -3, nanoseconds: -4)),
            .point(CypherPoint(srid: 4326, x: 1.5, y: 2.5)),
            .point(CypherPoint(srid: 9157, x: 1, y: 2, z: 3)),
        ]
        for v in values {
            #expect(try roundTrip(v) == v)
            #expect(try roundTrip(v, v44) == v)
        }
        #expect(hexString(encode(.date(CypherDate(epochDays: 19000)))) == "b144c94a38")
        #expect(hexString(encode(.point(CypherPoint(srid: 4326, x: 1.5, y: 2.5))))
            == "b358c910e6c13ff8000000000000c14004000000000000")
    }

    @Test("the probe's typed RUN parameters decode to the right values")
    func probeParameters() throws {
        // RUN "TYPES" {...} {"db": "neo4j"} from bolt-captures.txt §9 (chunk header and end marker removed).
        let body = hexBytes(
            "b310855459504553ab8164b144c94a4f826474b349c9119400c90e10836c6474b264c911940083647572b4450e033d05"
                + "827464b445000100c90bb88170b358c910e6c13ff8000000000000c140040000000000008162cc0201028166c13ff4"
                + "00000000000083626967cb0000010000000000836e6567c9ff38816c94018161c0c3a1826462856e656f346a")
        let request = try BoltRequestDecoder(version: .v5_8).decode(buffer(body))
        guard case .run(let query, let p, let options) = request else {
            Issue.record("not a RUN: \(request)")
            return
        }
        #expect(query == "TYPES")
        #expect(options.database == "neo4j")
        #expect(p["d"] == .date(CypherDate(epochDays: 19023)))
        #expect(p["dt"] == .dateTime(CypherDateTime(epochSeconds: 4500, nanosecond: 0, offsetSeconds: 3600,
            zoneId: nil)))
        #expect(p["ldt"] == .localDateTime(CypherLocalDateTime(epochSeconds: 4500, nanosecond: 0)))
        #expect(p["dur"] == .duration(CypherDuration(months: 14, days: 3, seconds: 61, nanoseconds: 5)))
        #expect(p["td"] == .duration(CypherDuration(months: 0, days: 1, seconds: 0, nanoseconds: 3000)))
        #expect(p["p"] == .point(CypherPoint(srid: 4326, x: 1.5, y: 2.5)))
        #expect(p["b"] == .bytes([1, 2]))
        #expect(p["f"] == .float(1.25))
        #expect(p["big"] == .integer(1 << 40))
        #expect(p["neg"] == .integer(-200))
        #expect(p["l"] == .list([.integer(1), .string("a"), .null, .boolean(true)]))
    }

    @Test("strings decode the same on the ASCII fast path and the validating path, at every size marker")
    func stringDecoding() throws {
        for text in ["", "a", "plain ascii", String(repeating: "x", count: 300), "é", "caf\u{e9} 😀", "\u{7f}\u{80}"] {
            #expect(try decode(encode(.string(text))) == .string(text), "decoding \(text.debugDescription)")
        }
        // A string followed by more data: the reader stops exactly at the string's end.
        #expect(try decode(hexBytes("92 81 41 82 c3 a9")) == .list([.string("A"), .string("é")]))
    }

    @Test("malformed input is refused with an error, never a crash")
    func malformed() throws {
        let bad: [(String, String)] = [
            ("", "empty"), ("c4", "reserved marker"), ("cf", "reserved marker"), ("e0", "reserved in v1"),
            ("c9 01", "truncated int16"), ("c1 00 00", "truncated float"), ("85 41 42", "truncated string"),
            ("d0 05 41", "truncated string8"), ("d2 ff ff ff ff", "string size above 2^31-1"),
            ("d6 7f ff ff ff", "list count larger than the input"), ("da 7f ff ff ff 80", "huge map"),
            ("82 c3 28", "invalid UTF-8"), ("81 ff", "invalid UTF-8 byte"), ("a1 01 01", "integer map key"),
            ("b1 44 81 41", "Date with a string field"), ("b2 44 01 02", "Date with two fields"),
            ("b0 5a", "unknown structure"), ("b1 74 cb 7f ff ff ff ff ff ff ff", "time of day out of range"),
            ("b3 49 01 ca 3b 9a ca 00 00", "DateTime nanoseconds out of range"),
            ("b3 69 01 00 87 4e 6f 2f 5a 6f 6e 65", "unknown zone"),
            ("cc 05 01", "truncated bytes"),
        ]
        for (hex, why) in bad {
            #expect(throws: PackStreamError.self, "\(why)") { try decode(hexBytes(hex)) }
        }
        // Client input may not carry graph structures.
        let node = encode(.node(NodeValue(id: 1, labels: [], properties: [:])))
        #expect(throws: PackStreamError.self) { try decode(node, graph: false) }
        // Legacy DateTime is refused on 5.x and the UTC form on plain 4.4.
        #expect(throws: PackStreamError.self) { try decode(hexBytes("b346c91fa400c90e10")) }
        #expect(throws: PackStreamError.self) { try decode(hexBytes("b349c9119400c90e10"), v44) }
    }

    @Test("extreme integers inside temporal and spatial structures give an error or a usable value, never a trap")
    func extremeTemporalFields() throws {
        let extremes: [Int64] = [
            .min, .min + 1, -40_000_000_000_000_000, -365_243_219_163, -86_400, -64_801, -1, 0, 1, 64_801,
            86_400_000_000_000, 365_241_780_472, 31_556_889_864_403_199, 40_000_000_000_000_000, .max - 1, .max,
        ]
        func intBytes(_ i: Int64) -> [UInt8] { encode(.integer(i)) }
        let zone = encode(.string("Europe/Stockholm"))
        let offsetZone = encode(.string("+01:00"))
        var bodies: [([UInt8], PackStreamOptions)] = []
        for a in extremes {
            bodies.append(([0xB1, 0x44] + intBytes(a), v5))  // Date
            bodies.append(([0xB1, 0x74] + intBytes(a), v5))  // LocalTime
            bodies.append(([0xB3, 0x58] + intBytes(a) + encode(.float(1)) + encode(.float(2)), v5))  // Point2D
            for b in extremes {
                bodies.append(([0xB2, 0x54] + intBytes(a) + intBytes(b), v5))  // Time
                bodies.append(([0xB2, 0x64] + intBytes(a) + intBytes(b), v5))  // LocalDateTime
                bodies.append(([0xB4, 0x45] + intBytes(a) + intBytes(b) + intBytes(a) + intBytes(b), v5))  // Duration
                for off in [Int64(0), 64_800, -64_800, b] {
                    bodies.append(([0xB3, 0x49] + intBytes(a) + intBytes(0) + intBytes(off), v5))
                    bodies.append(([0xB3, 0x46] + intBytes(a) + intBytes(0) + intBytes(off), v44))
                }
                bodies.append(([0xB3, 0x69] + intBytes(a) + intBytes(b) + zone, v5))
                bodies.append(([0xB3, 0x66] + intBytes(a) + intBytes(b) + zone, v44))
                bodies.append(([0xB3, 0x66] + intBytes(a) + intBytes(b) + offsetZone, v44))
            }
        }
        var accepted = 0
        for (body, options) in bodies {
            guard let value = try? decode(body, options) else { continue }
            accepted += 1
            // Whatever is accepted must survive what the server does next: echo it back and print it.
            for out in [v5, v44] { _ = encode(value, out) }
            _ = "\(value)"
            switch value {
            case .date(let d): #expect(d.isWithinSupportedRange)
            case .localDateTime(let d): #expect(d.isWithinSupportedRange)
            case .dateTime(let d): #expect(d.isWithinSupportedRange)
            case .time(let t): #expect(t.isWithinSupportedRange)
            default: break
            }
        }
        // The fuzz must also have exercised the accepting paths, not only refusals.
        #expect(accepted > 1000)
        // The largest and smallest supported dates are still accepted.
        #expect(try decode([0xB1, 0x44] + intBytes(365_241_780_471)) == .date(CypherDate(epochDays: 365_241_780_471)))
        #expect(throws: PackStreamError.self) { try decode([0xB1, 0x44] + intBytes(365_241_780_472)) }
        #expect(throws: PackStreamError.self) {
            try decode([0xB3, 0x46] + intBytes(.max) + intBytes(0) + intBytes(-3600), v44)
        }
        #expect(throws: PackStreamError.self) { try decode([0xB3, 0x69] + intBytes(.max) + intBytes(0) + zone) }
    }

    @Test("named zones use the tz database Cypher uses; offset zone ids are kept")
    func zoneIdsFromTzDatabase() throws {
        // 2023-07-01T12:00:00Z is summer time in Stockholm (+02:00).
        let v = try decode([0xB3, 0x69] + encode(.integer(1_688_212_800)) + encode(.integer(0))
            + encode(.string("Europe/Stockholm")))
        #expect(v == .dateTime(CypherDateTime(epochSeconds: 1_688_212_800, nanosecond: 0, offsetSeconds: 7200,
            zoneId: "Europe/Stockholm")))
        // Legacy 4.4 sends the local wall clock 14:00 in the zone.
        let legacy = try decode([0xB3, 0x66] + encode(.integer(1_688_212_800 + 7200)) + encode(.integer(0))
            + encode(.string("Europe/Stockholm")), v44)
        #expect(legacy == v)
    }

    @Test("nesting deeper than the limit is refused (no stack overflow)")
    func deepNesting() throws {
        let depth = 100_000
        let deep = [UInt8](repeating: 0x91, count: depth) + [0x01]
        #expect(throws: PackStreamError.self) { try decode(deep) }
        let deepMaps = [UInt8](repeating: 0, count: 0) + Array(repeating: [0xA1, 0x81, 0x61], count: depth)
            .flatMap { $0 } + [0xC0]
        #expect(throws: PackStreamError.self) { try decode(deepMaps) }
        // Exactly at the limit is fine.
        let ok = [UInt8](repeating: 0x91, count: 10) + [0x01]
        #expect(try decode(ok, maxDepth: 10) != .null)
        #expect(throws: PackStreamError.self) { try decode(ok, maxDepth: 9) }
    }
}
