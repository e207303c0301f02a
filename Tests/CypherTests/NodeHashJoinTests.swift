import Foundation
import GraphKernel
import GraphValues
import Testing

@testable import Cypher

/// NodeHashJoin: a chain whose two ends are both point seeks is expanded from both ends and joined in the middle.
@Suite("NodeHashJoin")
struct NodeHashJoinTests {
    private func operators(_ n: PlanNode) -> [String] { [n.operatorType] + n.children.flatMap(operators) }

    private func seeded() throws -> TestDatabase {
        let db = TestDatabase(.kernel)
        try db.run("CREATE CONSTRAINT ON (p:P) ASSERT p.id IS UNIQUE")
        // Persons 0..9; i KNOWS i+1 and i+2; person 0 also KNOWS itself's neighbour twice via distinct rels.
        try db.run("UNWIND range(0, 9) AS i CREATE (:P {id: i})")
        try db.run("""
            MATCH (a:P), (b:P) WHERE b.id = a.id + 1 OR b.id = a.id + 2
            CREATE (a)-[:KNOWS {w: a.id * 10 + b.id}]->(b)
            """)
        return db
    }

    @Test("two point-seek ends are joined, with the same rows as expanding from one end")
    func joinsTwoEnds() throws {
        let db = try seeded()
        let q = "MATCH (a:P {id: $a})-[:KNOWS]->(x)-[:KNOWS]->(b:P {id: $b}) RETURN x.id AS x ORDER BY x"
        let explain = try db.execute("EXPLAIN " + q, ["a": .integer(0), "b": .integer(0)]).result
        let plan = try #require(explain.plan)
        #expect(operators(plan).contains("NodeHashJoin"))
        #expect(try db.run(q, ["a": .integer(2), "b": .integer(4)]) == [[.integer(3)]])
        #expect(try db.run(q, ["a": .integer(2), "b": .integer(5)]) == [[.integer(3)], [.integer(4)]])
        #expect(try db.run(q, ["a": .integer(2), "b": .integer(9)]).isEmpty)
        // Same answers as the one-ended plan (`WHERE` on b's id makes it a filter, not a seek).
        for (a, b) in [(0, 2), (1, 4), (3, 6), (5, 5)] {
            let joined = try db.run(q, ["a": .integer(Int64(a)), "b": .integer(Int64(b))])
            let filtered = try db.run(
                "MATCH (a:P {id: $a})-[:KNOWS]->(x)-[:KNOWS]->(b:P) WHERE b.id + 0 = $b RETURN x.id AS x ORDER BY x",
                ["a": .integer(Int64(a)), "b": .integer(Int64(b))])
            #expect(joined == filtered, "a \(a) b \(b)")
        }
    }

    @Test("longer chains, relationship uniqueness and predicates across both sides")
    func longerChains() throws {
        let db = try seeded()
        let three = try db.run("""
            MATCH (a:P {id: 0})-[r1:KNOWS]->(x)-[r2:KNOWS]->(y)-[r3:KNOWS]->(b:P {id: 4})
            RETURN x.id AS x, y.id AS y ORDER BY x, y
            """)
        #expect(three == [[.integer(1), .integer(2)], [.integer(1), .integer(3)], [.integer(2), .integer(3)]])
        // Undirected, both ends on node 1: a neighbour x is reached and left over the same relationship (there
        // are no parallel ones), which relationship uniqueness across the two joined sides excludes.
        let back = "MATCH (a:P {id: 1})-[r:KNOWS]-(x)-[s:KNOWS]-(b:P {id: 1}) RETURN x.id AS x, r.w AS r ORDER BY x, r"
        let backFiltered = back.replacingOccurrences(of: "(b:P {id: 1})", with: "(b:P) WHERE b.id + 0 = 1")
        let backPlan = try #require(try db.execute("EXPLAIN " + back).result.plan)
        #expect(operators(backPlan).contains("NodeHashJoin"))
        #expect(try db.run(back) == (try db.run(backFiltered)))
        #expect(try db.run(back).isEmpty, "a path may not use one relationship twice")
        let cross = try db.run("""
            MATCH (a:P {id: 0})-[r:KNOWS]->(x)-[s:KNOWS]->(b:P {id: 3}) WHERE s.w > r.w RETURN x.id AS x ORDER BY x
            """)
        #expect(cross == [[.integer(1)], [.integer(2)]])
    }
}
