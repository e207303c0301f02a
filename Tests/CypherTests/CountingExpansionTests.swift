import Foundation
import GraphKernel
import GraphValues
import Testing

@testable import Cypher

/// An aggregation that only counts the rows or the distinct end nodes of the expansion directly below it runs the
/// expansion itself (`CountableExpansion`): no rows, relationship or node values are built. Every answer must equal
/// the row pipeline's, which a `WHERE x.id >= 0` on the end node keeps (a Filter sits between the two).
@Suite("Counting expansions and DISTINCT by id")
struct CountingExpansionTests {
    private func find(_ n: PlanNode, _ name: String) -> PlanNode? {
        n.operatorType == name ? n : n.children.lazy.compactMap { find($0, name) }.first
    }

    /// 30 nodes, 100 relationships with self-loops (of two types) and parallel relationships.
    private func graph(_ backend: Backend) throws -> TestDatabase {
        let db = TestDatabase(backend)
        try db.run("UNWIND range(0, 29) AS i CREATE (:N {id: i})")
        try db.run("""
            UNWIND range(0, 89) AS i
            MATCH (a:N {id: i % 30}), (b:N {id: (i * 11 + i / 4) % 30})
            CREATE (a)-[:R]->(b)
            """)
        try db.run("MATCH (a:N) WHERE a.id IN [2, 9] CREATE (a)-[:R]->(a), (a)-[:S]->(a), (a)-[:R]->(a)")
        try db.run("MATCH (a:N {id: 4}), (b:N {id: 5}) CREATE (a)-[:R]->(b), (a)-[:R]->(b), (b)-[:S]->(a)")
        return db
    }

    private static let patterns = [
        "(a)-[:R]->(x)", "(a)<-[:R]-(x)", "(a)-[:R]-(x)", "(a)-[:R|S]->(x)", "(a)-[]-(x)", "(a)-[:Nope]->(x)",
        "(a)-[:R]->()-[:R]->(x)", "(a)-[:R|S]-()-[:R|S]-(x)", "(a)-[:R]->(m)<-[:R]-(x)", "(a)-[:S]->()-[:R]->(x)",
    ]
    private static let projections = [
        "count(DISTINCT x) AS n", "count(x) AS n", "count(*) AS n",
        "count(*) AS rows, count(DISTINCT x) AS n, count(x) AS m",
    ]

    private func expectSameCounts(_ db: TestDatabase, run: (String) throws -> [[Value]]) throws {
        for pattern in Self.patterns {
            var starts = pattern.replacingOccurrences(of: "(a)", with: "(a:N)")
            var queries = [starts]
            for id in [2, 4, 5] {
                starts = pattern.replacingOccurrences(of: "(a)", with: "(a:N {id: \(id)})")
                queries.append(starts)
            }
            for match in queries {
                for projection in Self.projections {
                    let expected = try run("MATCH \(match) WHERE x.id >= 0 RETURN \(projection)")
                    let actual = try run("MATCH \(match) RETURN \(projection)")
                    #expect(actual == expected, "MATCH \(match) RETURN \(projection)")
                }
            }
        }
    }

    @Test("counts over Expand(All) equal the row pipeline's: self-loops, parallel and both directions",
          arguments: Backend.allCases)
    func sameCounts(_ backend: Backend) throws {
        let db = try graph(backend)
        try expectSameCounts(db, run: { try db.run($0) })
        // Node 2: R to itself twice, S to itself once, and R relationships out of the generator.
        let loops = try db.run("MATCH (a:N {id: 2})-[:R|S]->(x) WHERE x = a RETURN count(*)")
        #expect(loops == [[.integer(3)]])
        #expect(try db.run("MATCH (a:N {id: 2})-[:S]->(x) RETURN count(*) AS n, count(DISTINCT x) AS d")
                == [[.integer(1), .integer(1)]])
    }

    @Test("counts see the nodes and relationships the same transaction deleted and created",
          arguments: Backend.allCases)
    func sameTransaction(_ backend: Backend) throws {
        let db = try graph(backend)
        try db.inOneTransaction { run in
            _ = try run("MATCH (d:N {id: 13}) DETACH DELETE d")
            _ = try run("""
                MATCH (a:N {id: 4}), (b:N {id: 9})
                CREATE (a)-[:R]->(n:N {id: 100})-[:R]->(b), (n)-[:R]->(n), (n)-[:S]->(a), (a)-[:R]->(b)
                """)
            _ = try run("MATCH (:N {id: 4})-[r:R]->(:N {id: 5}) WITH r LIMIT 1 DELETE r")
            try expectSameCounts(db, run: run)
        }
    }

    @Test("Expand(Into) counts only the relationships to the bound end node", arguments: Backend.allCases)
    func into(_ backend: Backend) throws {
        let db = try graph(backend)
        let q = "MATCH (a:N {id: 4}), (x:N {id: 5}) MATCH (a)-[:R]->(x) RETURN count(*) AS r, count(DISTINCT x) AS n"
        let plan = try #require(try db.execute("EXPLAIN " + q).result.plan)
        #expect(find(plan, "Expand(Into)") != nil)
        #expect(try db.run(q) == [[.integer(2), .integer(1)]])
        #expect(try db.run("MATCH (a:N {id: 4}), (x:N {id: 6}) MATCH (a)-[:R]->(x) RETURN count(*), count(DISTINCT x)")
                == (try db.run("MATCH (a:N {id: 4}), (x:N {id: 6}) MATCH (a)-[:R]->(x) WHERE x.id >= 0 "
                               + "RETURN count(*), count(DISTINCT x)")))
    }

    @Test("PROFILE counts the expansion's rows when the aggregation counts them", arguments: Backend.allCases)
    func profileRows(_ backend: Backend) throws {
        let db = try graph(backend)
        let rows = try db.scalar("MATCH (a:N)-[:R]->()-[:R]->(x) WHERE x.id >= 0 RETURN count(*)")
        let (answer, _, r) = try db.execute("PROFILE MATCH (a:N)-[:R]->()-[:R]->(x) RETURN count(DISTINCT x) AS n")
        #expect(answer == [[try db.scalar("MATCH (a:N)-[:R]->()-[:R]->(x) WHERE x.id >= 0 RETURN count(DISTINCT x)")]])
        let plan = try #require(r.plan)
        let expand = try #require(find(plan, "Expand(All)"))
        guard case .integer(let n) = rows else {
            Issue.record("count is not an integer: \(rows)")
            return
        }
        #expect(expand.rows == Int(n))
        #expect((expand.dbHits ?? 0) > 0)
    }

    @Test("DISTINCT aggregates keep nodes and relationships by id, apart from other values",
          arguments: Backend.allCases)
    func distinctEntities(_ backend: Backend) throws {
        let db = try graph(backend)
        let byEntity = try db.run("""
            MATCH (a:N)-[r]->(b) RETURN count(DISTINCT a) AS a, count(DISTINCT r) AS r, count(DISTINCT b) AS b
            """)
        let byID = try db.run("""
            MATCH (a:N)-[r]->(b) RETURN count(DISTINCT id(a)) AS a, count(DISTINCT id(r)) AS r,
                                        count(DISTINCT id(b)) AS b
            """)
        #expect(byEntity == byID)
        // A node, a relationship and the integer equal to both ids are three values; 1 and 1.0 are one.
        let mixed = try db.run("""
            MATCH (n:N {id: 2})-[r:S]->() WITH n, r, id(n) AS i, id(r) AS j
            UNWIND [n, r, i, j, n, r, null, 1, 1.0, n] AS v
            RETURN count(DISTINCT v) AS c, size(collect(DISTINCT v)) AS s
            """)
        let ids = try db.run("MATCH (n:N {id: 2})-[r:S]->() RETURN id(n), id(r)")
        guard ids.count == 1, case .integer(let i) = ids[0][0], case .integer(let j) = ids[0][1] else {
            Issue.record("no ids: \(ids)")
            return
        }
        let expected = Int64(2 + Set([i, j, 1]).count)
        #expect(mixed == [[.integer(expected), .integer(expected)]])
        // collect(DISTINCT) keeps first occurrences in order.
        let ordered = try db.run("""
            MATCH (a:N {id: 4}), (b:N {id: 5}) UNWIND [b, a, b, a] AS v RETURN [x IN collect(DISTINCT v) | x.id] AS ids
            """)
        #expect(ordered == [[.list([.integer(5), .integer(4)])]])
    }
}
