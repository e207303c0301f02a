import Foundation
import GraphKernel
import GraphValues
import Testing

@testable import Cypher

/// CartesianProduct: pattern parts that share no variable (and no predicate) with what is already matched are
/// planned on their own; the right side runs once and is replayed when no relationship uniqueness has to be
/// checked across the sides.
@Suite("CartesianProduct")
struct CartesianProductTests {
    private func operators(_ n: PlanNode) -> [String] { [n.operatorType] + n.children.flatMap(operators) }

    private func plan(_ db: TestDatabase, _ query: String) throws -> [String] {
        let r = try db.execute("EXPLAIN " + query).result
        let p = try #require(r.plan)
        return operators(p)
    }

    @Test("disconnected parts are combined by CartesianProduct with every pair", arguments: Backend.allCases)
    func disconnected(_ backend: Backend) throws {
        let db = TestDatabase(backend)
        try db.run("UNWIND range(1, 3) AS i CREATE (:A {i: i}) WITH i WHERE i < 3 CREATE (:B {j: i * 10})")
        let q = "MATCH (a:A), (b:B) RETURN a.i AS i, b.j AS j ORDER BY i, j"
        #expect(try plan(db, q).contains("CartesianProduct"))
        let rows = try db.run(q)
        #expect(rows.count == 6)
        #expect(rows.first == [.integer(1), .integer(10)])
        #expect(rows.last == [.integer(3), .integer(20)])
        // A later MATCH independent of the rows before it.
        #expect(try db.scalar("MATCH (a:A) WITH a MATCH (b:B) RETURN count(*)") == .integer(6))
        // A predicate on both sides is applied after the product.
        #expect(try db.scalar("MATCH (a:A), (b:B) WHERE b.j = a.i * 10 RETURN count(*)") == .integer(2))
        // A part reading an earlier variable is not independent: it runs per row (and is correct).
        #expect(try db.scalar("UNWIND [10, 20, 30] AS x MATCH (b:B {j: x}) RETURN count(*)") == .integer(2))
        #expect(!(try plan(db, "UNWIND [10, 20] AS x MATCH (b:B {j: x}) RETURN b")).contains("CartesianProduct"))
    }

    @Test("relationships stay unique across the two sides", arguments: Backend.allCases)
    func uniqueness(_ backend: Backend) throws {
        let db = TestDatabase(backend)
        try db.run("CREATE (:X)-[:R {n: 1}]->(:Y), (:X)-[:R {n: 2}]->(:Y)")
        let rows = try db.run("MATCH (a)-[r:R]->(b), (c)-[s:R]->(d) RETURN r.n AS r, s.n AS s ORDER BY r, s")
        #expect(rows == [[.integer(1), .integer(2)], [.integer(2), .integer(1)]])
        // A relationship-free right side is replayed for every left row.
        #expect(try db.scalar("MATCH (a)-[r:R]->(b), (y:Y) RETURN count(*)") == .integer(4))
    }

    @Test("an empty side gives no rows, and the right side sees writes made before the MATCH",
          arguments: Backend.allCases)
    func emptyAndWrites(_ backend: Backend) throws {
        let db = TestDatabase(backend)
        try db.run("CREATE (:A)")
        #expect(try db.run("MATCH (a:A), (n:Nope) RETURN a, n").isEmpty)
        #expect(try db.scalar("MATCH (a:A) CREATE (:C) WITH a MATCH (c:C) RETURN count(*)") == .integer(1))
    }
}
