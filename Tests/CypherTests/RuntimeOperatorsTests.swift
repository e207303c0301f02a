import Foundation
import GraphKernel
import GraphValues
import Testing

@testable import Cypher

@Suite("Runtime operators")
struct RuntimeOperatorsTests {
    @Test("a time-out raised by the kernel mid-query propagates out of next()")
    func timeoutPropagates() throws {
        let db = TestDatabase()
        try db.run("UNWIND range(1, 100) AS i CREATE (:N {i: i})")
        let r = try db.result("MATCH (n:N) RETURN n.i")
        _ = try r.next()
        db.graph.readHook = { throw DatabaseError(.transactionTimedOut, "The transaction has timed out.") }
        #expect(throws: DatabaseError(.transactionTimedOut, "The transaction has timed out.")) { _ = try r.next() }
        db.graph.readHook = nil
    }

    @Test("PROFILE reports rows per operator once consumed")
    func profile() throws {
        let db = TestDatabase()
        try db.run("UNWIND range(1, 20) AS i CREATE (:P {i: i})")
        let r = try db.result("PROFILE MATCH (p:P) WHERE p.i > 10 RETURN p.i")
        #expect(try r.all().count == 10)
        let plan = try #require(r.plan)
        #expect(plan.operatorType == "ProduceResults")
        #expect(plan.rows == 10)
        func find(_ n: PlanNode, _ name: String) -> PlanNode? {
            n.operatorType == name ? n : n.children.lazy.compactMap { find($0, name) }.first
        }
        let scan = try #require(find(plan, "NodeByLabelScan"))
        #expect(scan.rows == 20)
        #expect(scan.dbHits ?? 0 >= 20)
    }

    @Test("shortestPath finds the shortest route, allShortestPaths every one of that length")
    func shortestPaths() throws {
        let db = TestDatabase()
        try db.run("""
            CREATE (a:S), (b), (c), (d:E), (a)-[:R]->(b)-[:R]->(d), (a)-[:R]->(c)-[:R]->(d), (a)-[:R]->(d2)-[:R]->(x)-[:R]->(d)
            """)
        #expect(try db.scalar("MATCH (a:S), (d:E) MATCH p = shortestPath((a)-[*]->(d)) RETURN length(p)") == .integer(2))
        #expect(try db.scalar("MATCH (a:S), (d:E) MATCH p = allShortestPaths((a)-[*]->(d)) RETURN count(p)") == .integer(2))
    }

    @Test("relationships are unique within one MATCH pattern")
    func relationshipUniqueness() throws {
        let db = TestDatabase()
        try db.run("CREATE (a:A)-[:R]->(b:B)")
        #expect(try db.scalar("MATCH (x)-[r1]-(y)-[r2]-(z) RETURN count(*)") == .integer(0))
        #expect(try db.scalar("MATCH (x)-[r1]-(y) MATCH (y)-[r2]-(z) RETURN count(*)") == .integer(2))
    }

    @Test("LOAD CSV reads files inside the import directory only")
    func loadCSV() throws {
        let dir = NSTemporaryDirectory() + "trellis-csv-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "name,age\n\"Smith, Ann\",30\nBob,40\n".write(toFile: dir + "/p.csv", atomically: true, encoding: .utf8)
        let db = TestDatabase()
        var options = ExecutionOptions()
        options.importDirectory = dir
        let rows = try db.run("LOAD CSV WITH HEADERS FROM 'file:///p.csv' AS r RETURN r.name, toInteger(r.age)",
                              options: options)
        #expect(rows == [[.string("Smith, Ann"), .integer(30)], [.string("Bob"), .integer(40)]])
        #expect(throws: DatabaseError.self) {
            try db.run("LOAD CSV FROM 'file:///../../etc/passwd' AS r RETURN r", options: options)
        }
        #expect(throws: DatabaseError.self) { try db.run("LOAD CSV FROM 'file:///p.csv' AS r RETURN r") }
    }

    @Test("read-only execution rejects writes with AccessMode")
    func readOnly() {
        let db = TestDatabase()
        #expect(throws: DatabaseError.self) {
            try db.run("CREATE ()", options: ExecutionOptions(readOnly: true))
        }
        #expect(db.errorCode("CREATE ()") == nil)
    }

    @Test("FOREACH applies its updates per element; writes before a read are isolated by Eager")
    func foreachAndEager() throws {
        let db = TestDatabase()
        let r = try db.execute("FOREACH (i IN range(1, 3) | CREATE (:F {i: i}))")
        #expect(r.statistics.nodesCreated == 3)
        // Without an Eager barrier this would keep matching the nodes it creates.
        let r2 = try db.execute("MATCH (f:F) CREATE (:F {i: f.i + 10})")
        #expect(r2.statistics.nodesCreated == 3)
        #expect(try db.scalar("MATCH (f:F) RETURN count(*)") == .integer(6))
    }

    @Test("schema commands count index and constraint changes, SHOW lists them")
    func schema() throws {
        let db = TestDatabase()
        let a = try db.execute("CREATE INDEX ON :Person(name)")
        #expect(a.statistics.indexesAdded == 1)
        #expect(a.result.queryType == .schema)
        let b = try db.execute("CREATE CONSTRAINT person_id IF NOT EXISTS FOR (p:Person) REQUIRE p.id IS UNIQUE")
        #expect(b.statistics.constraintsAdded == 1)
        #expect(try db.run("CREATE CONSTRAINT person_id IF NOT EXISTS FOR (p:Person) REQUIRE p.id IS UNIQUE") == [])
        #expect(try db.run("SHOW INDEXES YIELD name").count == 2)
        #expect(try db.run("CALL db.indexes() YIELD description RETURN description ORDER BY description") ==
            [[.string("INDEX ON :Person(id)")], [.string("INDEX ON :Person(name)")]])
        let c = try db.execute("DROP INDEX ON :Person(name)")
        #expect(c.statistics.indexesRemoved == 1)
    }
}
