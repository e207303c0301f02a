import Foundation
import GraphKernel
import GraphValues
import Testing

@testable import Cypher

/// CacheProperties: a projection or aggregation reading several properties of one node reads them with one
/// kernel call per row (`GraphReadOperations.nodeProperties(_:keys:into:)`), with the same results and errors as
/// reading each property on its own.
@Suite("CacheProperties")
struct PropertyCacheTests {
    private func operators(_ n: PlanNode) -> [String] { [n.operatorType] + n.children.flatMap(operators) }

    @Test("an aggregation reading two properties of a node is planned over CacheProperties", arguments: Backend.allCases)
    func planned(_ backend: Backend) throws {
        let db = TestDatabase(backend)
        try db.run("UNWIND range(1, 30) AS i CREATE (:P {city: 'c' + toString(i % 3), age: i, name: 'n' + toString(i)})")
        let q = "MATCH (p:P) RETURN p.city AS city, count(*) AS n, avg(p.age) AS a ORDER BY city"
        let explain = try db.execute("EXPLAIN " + q).result
        let plan = try #require(explain.plan)
        #expect(operators(plan).contains("CacheProperties"))
        let rows = try db.run(q)
        #expect(rows == [
            [.string("c0"), .integer(10), .float(16.5)],
            [.string("c1"), .integer(10), .float(14.5)],
            [.string("c2"), .integer(10), .float(15.5)],
        ])
        // One property alone is read directly.
        let single = try db.execute("EXPLAIN MATCH (p:P) RETURN p.city, count(*)").result
        let singlePlan = try #require(single.plan)
        #expect(!operators(singlePlan).contains("CacheProperties"))
    }

    @Test("an aggregation reading the label scan directly gives the same groups as the row pipeline",
          arguments: Backend.allCases)
    func fusedScanAggregation(_ backend: Backend) throws {
        let db = TestDatabase(backend)
        try db.run("""
            UNWIND range(1, 40) AS i
            CREATE (:P {city: CASE WHEN i % 5 = 0 THEN null ELSE 'c' + toString(i % 4) END, age: i % 7,
                        kind: i % 2})
            """)
        try db.run("CREATE (:Other {city: 'c1', age: 100})")
        let queries = [
            "RETURN p.city AS city, count(*) AS n, avg(p.age) AS a, collect(DISTINCT p.age) AS ages, "
                + "max(p.nokey) AS z ORDER BY city",
            "RETURN p.city AS city, p.kind AS kind, count(p.age) AS n, sum(p.age) AS s ORDER BY city, kind",
            "RETURN count(*) AS n, min(p.age) AS lo, stDev(p.age) AS sd, count(DISTINCT p.city) AS cities",
        ]
        for q in queries {
            // `WHERE true` puts a Filter between scan and aggregation: the ordinary row-at-a-time pipeline.
            let fused = try db.run("MATCH (p:P) " + q)
            let pipelined = try db.run("MATCH (p:P) WHERE true " + q)
            #expect(fused == pipelined, "\(q)")
            #expect(!fused.isEmpty)
        }
        // A label that does not exist: no groups, and one row of a global aggregation.
        #expect(try db.run("MATCH (x:Nope) RETURN x.city AS c, count(*) AS n").isEmpty)
        #expect(try db.run("MATCH (x:Nope) RETURN count(*) AS n, avg(x.age) AS a") == [[.integer(0), .null]])
        // PROFILE still reports the scan's rows.
        let (_, _, r) = try db.execute("PROFILE MATCH (p:P) RETURN p.city AS c, count(*) AS n")
        func find(_ n: PlanNode) -> PlanNode? {
            n.operatorType == "NodeByLabelScan" ? n : n.children.lazy.compactMap(find).first
        }
        let plan = try #require(r.plan)
        #expect(find(plan)?.rows == 40)
    }

    @Test("PROFILE counts property reads as db hits of the operator whose expressions make them",
          arguments: Backend.allCases)
    func profilePropertyHits(_ backend: Backend) throws {
        let db = TestDatabase(backend)
        try db.run("UNWIND range(1, 20) AS i CREATE (:P {i: i})-[:R {w: i}]->(:Q)")
        let (rows, _, r) = try db.execute("PROFILE MATCH (p:P)-[r:R]->() WHERE p.i > 10 RETURN r.w AS w")
        #expect(rows.count == 10)
        let plan = try #require(r.plan)
        func find(_ n: PlanNode, _ name: String) -> PlanNode? {
            n.operatorType == name ? n : n.children.lazy.compactMap { find($0, name) }.first
        }
        // 20 reads of p.i in the Filter, 10 of r.w in the Projection.
        #expect(find(plan, "Filter")?.dbHits == 20)
        #expect(find(plan, "Projection")?.dbHits == 10)
    }

    @Test("PROFILE counts one db hit per cached property read", arguments: Backend.allCases)
    func profileHits(_ backend: Backend) throws {
        let db = TestDatabase(backend)
        try db.run("UNWIND range(1, 12) AS i CREATE (:P {a: i, b: -i})")
        let (rows, _, r) = try db.execute("PROFILE MATCH (p:P) RETURN p.a + p.b AS z, p.a AS a")
        #expect(rows.count == 12)
        func find(_ n: PlanNode) -> PlanNode? {
            n.operatorType == "CacheProperties" ? n : n.children.lazy.compactMap(find).first
        }
        let plan = try #require(r.plan)
        let cache = try #require(find(plan))
        #expect(cache.rows == 12)
        #expect(cache.dbHits == 24)
    }

    @Test("missing properties, missing keys and non-node values read as without the cache", arguments: Backend.allCases)
    func fallbacks(_ backend: Backend) throws {
        let db = TestDatabase(backend)
        try db.run("CREATE (:Q {a: 1}), (:Q {b: 'x'}), (:Q)")
        #expect(try db.run("MATCH (q:Q) RETURN q.a AS a, q.b AS b ORDER BY a, b") == [
            [.integer(1), .null], [.null, .string("x")], [.null, .null],
        ])
        // `nokey` has never been created: no token, so every read falls back (and is null).
        #expect(try db.run("MATCH (q:Q) RETURN count(q.a) AS a, count(q.nokey) AS z") == [[.integer(1), .integer(0)]])
        // The variable holds a map, then null: the planned cache cannot serve them.
        #expect(try db.run("UNWIND [{a: 1, b: 2}, null] AS m RETURN m.a AS a, m.b AS b") == [
            [.integer(1), .integer(2)], [.null, .null],
        ])
    }

    @Test("values written earlier in the same transaction are seen", arguments: Backend.allCases)
    func transactionState(_ backend: Backend) throws {
        let db = TestDatabase(backend)
        try db.run("CREATE (:R {a: 1, b: 2})")
        let rows = try db.run("MATCH (r:R) SET r.a = 10 WITH r RETURN r.a AS a, r.b AS b")
        #expect(rows == [[.integer(10), .integer(2)]])
    }

    @Test("the kernel reads several keys of a node at once, committed and in the transaction")
    func kernelBatchRead() throws {
        let dir = NSTemporaryDirectory() + "trellis-cache-props-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let db = try GraphDatabase(directory: dir)
        defer { try? db.close() }
        // Enough properties to span several property records, including a long (dynamic) string.
        var props: [String: Value] = [:]
        for i in 0..<9 { props["k\(i)"] = .integer(Int64(i * 7)) }
        props["long"] = .string(String(repeating: "abc", count: 40))
        let node = try db.write { tx in
            _ = try tx.getOrCreatePropertyKeyToken("absent")
            return try tx.createNode(labels: ["L"], properties: props)
        }
        try db.read { tx in
            let names = ["k8", "long", "k0", "absent", "k4"]
            var keys: [PropertyKeyToken] = []
            for n in names { keys.append(try tx.propertyKeyToken(n) ?? -1) }
            var values = [Value](repeating: .integer(-1), count: keys.count)
            try tx.nodeProperties(node, keys: keys, into: &values)
            #expect(values == [.integer(56), props["long"]!, .integer(0), .null, .integer(28)])
        }
        // Several nodes at once, one of them without the keys.
        let others = try db.write { tx in
            [try tx.createNode(labels: ["L"], properties: ["k0": .string("a"), "long": .integer(1)]),
             try tx.createNode(labels: ["L"], properties: [:])]
        }
        try db.read { tx in
            let keys = [try tx.propertyKeyToken("long") ?? -1, try tx.propertyKeyToken("k0") ?? -1]
            var values = [Value](repeating: .integer(-1), count: 6)
            try tx.nodeProperties([others[1], node, others[0]], keys: keys, into: &values)
            #expect(values == [.null, .null, props["long"]!, .integer(0), .integer(1), .string("a")])
        }
        try db.write { tx in
            let k0 = try tx.getOrCreatePropertyKeyToken("k0")
            let k1 = try tx.getOrCreatePropertyKeyToken("k1")
            try tx.setNodeProperty(node, k0, .string("changed"))
            var values = [Value](repeating: .null, count: 2)
            try tx.nodeProperties(node, keys: [k0, k1], into: &values)
            #expect(values == [.string("changed"), .integer(7)])
            var many = [Value](repeating: .null, count: 4)
            try tx.nodeProperties([node, others[0]], keys: [k0, k1], into: &many)
            #expect(many == [.string("changed"), .integer(7), .string("a"), .null])
            try tx.deleteNode(node)
            #expect(throws: DatabaseError.self) { try tx.nodeProperties(node, keys: [k0], into: &values) }
            #expect(throws: DatabaseError.self) { try tx.nodeProperties([others[0], node], keys: [k0], into: &values) }
        }
    }
}
