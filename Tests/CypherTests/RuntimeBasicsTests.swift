import GraphKernel
import GraphValues
import Testing

@testable import Cypher

@Suite("Runtime basics")
struct RuntimeBasicsTests {
    @Test("RETURN of literals and arithmetic", arguments: Backend.allCases)
    func literals(_ backend: Backend) throws {
        let db = TestDatabase(backend)
        #expect(try db.run("RETURN 1 + 2 AS x, 'a' + 'b' AS s") == [[.integer(3), .string("ab")]])
        #expect(try db.scalar("RETURN 7 / 2") == .integer(3))
        #expect(try db.scalar("RETURN 7 / 2.0") == .float(3.5))
    }

    @Test("CREATE then MATCH with labels, properties and statistics", arguments: Backend.allCases)
    func createAndMatch(_ backend: Backend) throws {
        let db = TestDatabase(backend)
        let r = try db.execute("CREATE (a:Person {name: 'Ann', age: 30})-[:KNOWS {since: 2020}]->(b:Person {name: 'Bob'})")
        #expect(r.statistics.nodesCreated == 2)
        #expect(r.statistics.relationshipsCreated == 1)
        #expect(r.statistics.propertiesSet == 4)
        #expect(r.statistics.labelsAdded == 2)
        #expect(r.result.queryType == .write)
        let rows = try db.run("MATCH (a:Person)-[r:KNOWS]->(b) RETURN a.name, r.since, b.name")
        #expect(rows == [[.string("Ann"), .integer(2020), .string("Bob")]])
        #expect(try db.run("MATCH (a:Person)<-[:KNOWS]-(b) RETURN a.name") == [[.string("Bob")]])
        #expect(try db.run("MATCH (a:Person)-[:KNOWS]-(b) RETURN a.name ORDER BY a.name") ==
            [[.string("Ann")], [.string("Bob")]])
    }

    @Test("aggregation with grouping, DISTINCT, ORDER BY and LIMIT", arguments: Backend.allCases)
    func aggregation(_ backend: Backend) throws {
        let db = TestDatabase(backend)
        try db.run("UNWIND range(1, 10) AS i CREATE (:N {v: i, g: i % 3})")
        let rows = try db.run("MATCH (n:N) RETURN n.g AS g, count(*) AS c, sum(n.v) AS s ORDER BY g")
        #expect(rows == [[.integer(0), .integer(3), .integer(18)], [.integer(1), .integer(4), .integer(22)],
                         [.integer(2), .integer(3), .integer(15)]])
        #expect(try db.scalar("MATCH (n:N) RETURN count(DISTINCT n.g)") == .integer(3))
        #expect(try db.run("MATCH (n:N) RETURN n.v ORDER BY n.v DESC LIMIT 2") == [[.integer(10)], [.integer(9)]])
        #expect(try db.scalar("MATCH (n:Missing) RETURN count(n)") == .integer(0))
        #expect(try db.scalar("MATCH (n:N) RETURN collect(n.v)[0..3]") == .list([.integer(1), .integer(2), .integer(3)]))
    }

    @Test("integer overflow raises ArithmeticError", arguments: Backend.allCases)
    func overflow(_ backend: Backend) throws {
        let db = TestDatabase(backend)
        #expect(db.errorCode("RETURN 9223372036854775807 + 1") == "Neo.ClientError.Statement.ArithmeticError")
        #expect(db.errorCode("RETURN 1 / 0") == "Neo.ClientError.Statement.ArithmeticError")
    }

    @Test("OPTIONAL MATCH yields nulls when nothing matches", arguments: Backend.allCases)
    func optionalMatch(_ backend: Backend) throws {
        let db = TestDatabase(backend)
        try db.run("CREATE (:A {x: 1})")
        #expect(try db.run("MATCH (a:A) OPTIONAL MATCH (a)-->(b) RETURN a.x, b") == [[.integer(1), .null]])
    }

    @Test("variable-length expansion honours bounds and relationship uniqueness", arguments: Backend.allCases)
    func varLength(_ backend: Backend) throws {
        let db = TestDatabase(backend)
        try db.run("CREATE (a:S {n: 0})-[:T]->(b {n: 1})-[:T]->(c {n: 2})-[:T]->(d {n: 3})")
        #expect(try db.run("MATCH (:S)-[:T*1..2]->(x) RETURN x.n ORDER BY x.n") == [[.integer(1)], [.integer(2)]])
        #expect(try db.run("MATCH (:S)-[:T*]->(x) RETURN count(x)") == [[.integer(3)]])
        #expect(try db.run("MATCH (:S)-[:T*0..1]->(x) RETURN x.n ORDER BY x.n") == [[.integer(0)], [.integer(1)]])
        #expect(try db.run("MATCH p = (:S)-[:T*3]->() RETURN length(p)") == [[.integer(3)]])
    }

    @Test("MERGE matches or creates, with ON CREATE / ON MATCH", arguments: Backend.allCases)
    func merge(_ backend: Backend) throws {
        let db = TestDatabase(backend)
        let r1 = try db.execute("MERGE (n:P {k: 1}) ON CREATE SET n.c = true RETURN n.c")
        #expect(r1.rows == [[.boolean(true)]])
        #expect(r1.statistics.nodesCreated == 1)
        let r2 = try db.execute("MERGE (n:P {k: 1}) ON MATCH SET n.m = true RETURN n.m, n.c")
        #expect(r2.rows == [[.boolean(true), .boolean(true)]])
        #expect(r2.statistics.nodesCreated == 0)
        #expect(try db.scalar("MATCH (n:P) RETURN count(n)") == .integer(1))
    }

    @Test("SET, REMOVE and DETACH DELETE with statistics", arguments: Backend.allCases)
    func updates(_ backend: Backend) throws {
        let db = TestDatabase(backend)
        try db.run("CREATE (a:X {p: 1})-[:R]->(b:X {p: 2})")
        let s = try db.execute("MATCH (n:X) SET n.q = n.p * 10, n:Y REMOVE n.p")
        #expect(s.statistics.propertiesSet == 4)
        #expect(s.statistics.labelsAdded == 2)
        #expect(try db.run("MATCH (n:Y) RETURN n.q, n.p ORDER BY n.q") ==
            [[.integer(10), .null], [.integer(20), .null]])
        let d = try db.execute("MATCH (n:X) DETACH DELETE n")
        #expect(d.statistics.nodesDeleted == 2)
        #expect(d.statistics.relationshipsDeleted == 1)
        #expect(try db.scalar("MATCH (n) RETURN count(*)") == .integer(0))
    }

    @Test("a consumer pulling 10 rows of a huge UNWIND does not materialise the rest")
    func laziness() throws {
        let db = TestDatabase()
        let r = try db.result("UNWIND range(1, 100000000) AS i RETURN i")
        for i in 1...10 { #expect(try r.next() == [.integer(Int64(i))]) }
        try db.run("UNWIND range(1, 1000) AS i CREATE (:L {i: i})")
        let before = db.graph.reads
        let scan = try db.result("MATCH (n:L) RETURN n.i")
        for _ in 1...10 { _ = try scan.next() }
        #expect(db.graph.reads - before < 100)
    }

    @Test("EXPLAIN shows an index seek for an indexed equality lookup")
    func explainIndexSeek() throws {
        let db = TestDatabase()
        try db.run("CREATE CONSTRAINT ON (p:Person) ASSERT p.id IS UNIQUE")
        try db.run("UNWIND range(1, 100) AS i CREATE (:Person {id: i, name: 'p' + i})")
        let r = try db.result("EXPLAIN MATCH (p:Person {id: $id}) RETURN p.name")
        let plan = try #require(r.plan)
        func names(_ n: PlanNode) -> [String] { [n.operatorType] + n.children.flatMap(names) }
        #expect(names(plan).contains("NodeUniqueIndexSeek"))
        #expect(!names(plan).contains("NodeByLabelScan"))
        #expect(try db.run("MATCH (p:Person {id: $id}) RETURN p.name", ["id": .integer(42)]) == [[.string("p42")]])
    }

    @Test("missing parameters and unknown procedures have Neo4j status codes", arguments: Backend.allCases)
    func errors(_ backend: Backend) throws {
        let db = TestDatabase(backend)
        #expect(db.errorCode("RETURN $nope") == "Neo.ClientError.Statement.ParameterMissing")
        #expect(db.errorCode("CALL no.such.proc()") == "Neo.ClientError.Procedure.ProcedureNotFound")
        #expect(db.errorCode("RETURN substring('abc', -1)") == "Neo.ClientError.Statement.ArgumentError")
        #expect(db.errorCode("RETURN toInteger([1])") == "Neo.ClientError.Statement.TypeError")
    }

    @Test("CALL db.labels() lists labels, standalone and with YIELD", arguments: Backend.allCases)
    func procedures(_ backend: Backend) throws {
        let db = TestDatabase(backend)
        try db.run("CREATE (:A), (:B)")
        #expect(try db.run("CALL db.labels()") == [[.string("A")], [.string("B")]])
        #expect(try db.run("CALL db.labels() YIELD label WHERE label = 'B' RETURN label") == [[.string("B")]])
    }

    @Test("nodes are returned fully materialised", arguments: Backend.allCases)
    func materialised(_ backend: Backend) throws {
        let db = TestDatabase(backend)
        try db.run("CREATE (:A:B {x: 1})")
        let v = try db.scalar("MATCH (n) RETURN n")
        guard case .node(let n) = v else { Issue.record("not a node: \(v)"); return }
        #expect(n.labels == ["A", "B"])
        #expect(n.properties == ["x": .integer(1)])
    }

    @Test("UNION removes duplicates, UNION ALL keeps them", arguments: Backend.allCases)
    func union(_ backend: Backend) throws {
        let db = TestDatabase(backend)
        #expect(try db.run("RETURN 1 AS x UNION RETURN 1 AS x") == [[.integer(1)]])
        #expect(try db.run("RETURN 1 AS x UNION ALL RETURN 1 AS x") == [[.integer(1)], [.integer(1)]])
    }
}
