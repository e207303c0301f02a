import Foundation
import GraphKernel
import GraphValues
import Testing

@testable import Cypher

/// VarLengthExpand(Pruning): where only the distinct end nodes of a variable-length expansion matter, a
/// breadth-first search replaces path enumeration. Every answer must equal the enumerating plan's, which a
/// `WHERE x.id >= 0` on the end node keeps (a Filter sits between the expansion and the projection).
@Suite("VarLengthExpand(Pruning)")
struct PruningVarExpandTests {
    private func operators(_ n: PlanNode) -> [String] { [n.operatorType] + n.children.flatMap(operators) }

    private func find(_ n: PlanNode, _ name: String) -> PlanNode? {
        n.operatorType == name ? n : n.children.lazy.compactMap { find($0, name) }.first
    }

    /// 40 nodes and 130 relationships with cycles of every short length, self-loops and parallel relationships.
    private func graph(_ backend: Backend) throws -> TestDatabase {
        let db = TestDatabase(backend)
        try db.run("UNWIND range(0, 39) AS i CREATE (:N {id: i})")
        try db.run("""
            UNWIND range(0, 119) AS i
            MATCH (a:N {id: i % 40}), (b:N {id: (i * 7 + i / 3) % 40})
            CREATE (a)-[:R {w: i % 2}]->(b)
            """)
        // Self-loops and a parallel pair, of another type too.
        try db.run("MATCH (a:N) WHERE a.id IN [3, 17] CREATE (a)-[:R {w: 0}]->(a), (a)-[:S]->(a)")
        try db.run("MATCH (a:N {id: 5}), (b:N {id: 6}) CREATE (a)-[:R {w: 1}]->(b), (a)-[:R {w: 1}]->(b)")
        return db
    }

    /// Shapes planned with pruning: the original eleven, then zero-length paths with self-loops, self-loops only
    /// (the start is its own only end), incoming with a type alternative and minimum 0.
    private static let prunedPatterns = [
        "(a)-[:R*1..3]->(x)", "(a)<-[:R*1..3]-(x)", "(a)-[:R*0..2]->(x)", "(a)-[:R*..2]->(x)",
        "(a)-[:R*1..1]->(x)", "(a)-[*1..3]->(x)", "(a)-[:R|S*1..2]->(x)", "(a)-[:R*1..3 {w: 1}]->(x)",
        "(a)-[:R*1..4]->(x)", "(a)-[:Nope*1..3]->(x)", "(a)-[:Nope*0..3]->(x)",
        "(a)-[:R*0..1]->(x)", "(a)-[:S*1..3]->(x)", "(a)<-[:R|S*0..3]-(x)", "(a)-[:R|S*1..3]->(x)",
    ]
    /// Shapes pruning does not apply to (minimum 2, undirected): both plans enumerate, and must still agree.
    private static let enumeratedPatterns = [
        "(a)-[:R*2..3]->(x)", "(a)-[:R*2..2]->(x)", "(a)-[:R*1..2]-(x)", "(a)-[:R|S*0..2]-(x)", "(a)<-[*2..3]-(x)",
    ]
    /// Grouped by start, DISTINCT-only aggregates, DISTINCT rows, and one global count (which the aggregation
    /// counts in an id set straight from the search).
    private static let tails = [
        "RETURN a.id AS id, count(DISTINCT x) AS n ORDER BY id",
        "RETURN a.id AS id, min(x.id) AS lo, max(x.id) AS hi, collect(DISTINCT x.id) AS xs ORDER BY id",
        "RETURN DISTINCT a.id AS id, x.id AS x ORDER BY id, x",
        "RETURN count(DISTINCT x) AS n",
    ]

    /// Compares every pattern × tail with the enumerating plan (kept by `WHERE x.id >= 0` on the end node), and
    /// the global count from single start nodes (a self-loop on 3, parallel relationships from 5).
    /// `checkPlans`: also check which expansion is planned (a separate transaction, so not inside another one).
    private func expectSameAnswers(_ db: TestDatabase, _ patterns: [String], pruned: Bool, checkPlans: Bool = true,
                                   run: (String) throws -> [[Value]]) throws {
        for pattern in patterns {
            var queries = Self.tails.map { ("MATCH \(pattern) WHERE x.id >= 0 " + $0, "MATCH \(pattern) " + $0) }
            for start in [3, 5] {
                let from = pattern.replacingOccurrences(of: "(a)", with: "(a:N {id: \(start)})")
                queries.append(("MATCH \(from) WHERE x.id >= 0 RETURN count(DISTINCT x) AS n",
                                "MATCH \(from) RETURN count(DISTINCT x) AS n"))
            }
            for (enumerating, candidate) in queries {
                if checkPlans {
                    let plan = try #require(try db.execute("EXPLAIN " + candidate).result.plan)
                    #expect(operators(plan).contains("VarLengthExpand(Pruning)") == pruned, "\(candidate)")
                }
                var expected = try run(enumerating)
                var actual = try run(candidate)
                if candidate.contains("collect") {
                    // Collected in a different order: compare as sets.
                    func sorted(_ rows: [[Value]]) -> [[Value]] {
                        rows.map { r in
                            guard case .list(let l) = r[3] else { return r }
                            return Array(r[0..<3]) + [.list(l.sorted { Semantics.orderCompare($0, $1) < 0 })]
                        }
                    }
                    expected = sorted(expected)
                    actual = sorted(actual)
                }
                #expect(actual == expected, "\(candidate)")
            }
        }
    }

    @Test("DISTINCT end nodes and DISTINCT-only aggregates are planned with pruning and answer as enumeration",
          arguments: Backend.allCases)
    func sameAnswers(_ backend: Backend) throws {
        let db = try graph(backend)
        try expectSameAnswers(db, Self.prunedPatterns, pruned: true, run: { try db.run($0) })
        try expectSameAnswers(db, Self.enumeratedPatterns, pruned: false, run: { try db.run($0) })
        // The start node ends a path only through a cycle within the length bound: node 3 has a self-loop.
        let viaLoop = try db.scalar("MATCH (a:N {id: 3})-[:R*1..1]->(x) RETURN count(DISTINCT x) AS n")
        #expect(viaLoop == (try db.scalar("MATCH (a:N {id: 3})-[:R*1..1]->(x) WHERE x.id >= 0 RETURN count(DISTINCT x)")))
        // Its relationships of type R lead to 22, 35, 8 and itself.
        #expect(viaLoop == .integer(4))
        // No start node: no rows to count.
        #expect(try db.run("MATCH (a:N {id: 999})-[:R*1..3]->(x) RETURN count(DISTINCT x) AS n") == [[.integer(0)]])
    }

    @Test("pruning sees the nodes and relationships the same transaction deleted and created",
          arguments: Backend.allCases)
    func sameTransaction(_ backend: Backend) throws {
        let db = try graph(backend)
        try db.inOneTransaction { run in
            // A hub reached from everywhere goes, a new node bridges 1 to 3 and to itself, a relationship goes.
            _ = try run("MATCH (d:N {id: 7}) DETACH DELETE d")
            _ = try run("""
                MATCH (a:N {id: 1}), (b:N {id: 3})
                CREATE (a)-[:R {w: 1}]->(n:N {id: 100})-[:R {w: 0}]->(b), (n)-[:R {w: 1}]->(n), (n)-[:S]->(a)
                """)
            _ = try run("MATCH (:N {id: 5})-[r:R]->(:N {id: 6}) WITH r LIMIT 1 DELETE r")
            let patterns = ["(a)-[:R*1..3]->(x)", "(a)<-[:R*1..3]-(x)", "(a)-[:R*0..2]->(x)", "(a)-[:R|S*1..2]->(x)",
                            "(a)-[:R*1..3 {w: 1}]->(x)", "(a)-[:S*1..3]->(x)", "(a)<-[:R|S*0..3]-(x)"]
            try expectSameAnswers(db, patterns, pruned: true, checkPlans: false, run: run)
            try expectSameAnswers(db, ["(a)-[:R*2..3]->(x)", "(a)-[:R|S*1..2]-(x)"], pruned: false, checkPlans: false,
                                  run: run)
        }
    }

    @Test("an unbounded length is searched to exhaustion: every node on a cycle reaches itself",
          arguments: Backend.allCases)
    func unbounded(_ backend: Backend) throws {
        let db = TestDatabase(backend)
        // A ring 0 → 1 → … → 5 → 0 with a chord 2 → 4, and a tail 6 → 0 that nothing leads back to.
        try db.run("""
            UNWIND range(0, 6) AS i CREATE (:N {id: i})
            WITH count(*) AS c
            MATCH (a:N), (b:N)
            WHERE (b.id = (a.id + 1) % 6 AND a.id < 6) OR (a.id = 2 AND b.id = 4) OR (a.id = 6 AND b.id = 0)
            CREATE (a)-[:R]->(b)
            """)
        let q = "MATCH (a:N)-[:R*]->(x) RETURN a.id AS id, count(DISTINCT x) AS n ORDER BY id"
        let plan = try #require(try db.execute("EXPLAIN " + q).result.plan)
        #expect(operators(plan).contains("VarLengthExpand(Pruning)"))
        let expected: [[Value]] = (0..<6).map { [.integer(Int64($0)), .integer(6)] } + [[.integer(6), .integer(6)]]
        #expect(try db.run(q) == expected)
        #expect(try db.run("MATCH (a:N)-[:R*]->(x) WHERE x.id >= 0 RETURN a.id AS id, count(DISTINCT x) AS n ORDER BY id")
                == expected)
    }

    @Test("multiplicity, the relationships, undirected or longer minimum lengths keep path enumeration",
          arguments: Backend.allCases)
    func notPruned(_ backend: Backend) throws {
        let db = try graph(backend)
        let queries = [
            "MATCH (a:N {id: 1})-[:R*1..3]->(x) RETURN count(x)",
            "MATCH (a:N {id: 1})-[:R*1..3]->(x) RETURN count(*), count(DISTINCT x)",
            "MATCH (a:N {id: 1})-[r:R*1..3]->(x) RETURN count(DISTINCT r)",
            "MATCH (a:N {id: 1})-[r:R*1..3]->(x) RETURN DISTINCT x, size(r) AS len",
            "MATCH (a:N {id: 1})-[:R*1..3]-(x) RETURN count(DISTINCT x)",
            "MATCH (a:N {id: 1})-[:R*2..3]->(x) RETURN count(DISTINCT x)",
            "MATCH p = (a:N {id: 1})-[:R*1..3]->(x) RETURN count(DISTINCT x)",
            "MATCH (a:N {id: 1})-[:R]->(b)-[:R*1..3]->(x) RETURN count(DISTINCT x)",
            "MATCH (a:N {id: 1})-[:R*1..3]->(x) RETURN rand() < 2 AS r, count(DISTINCT x)",
            "MATCH (a:N {id: 1})-[:R*1..3]->(x) RETURN x",
        ]
        for q in queries {
            let plan = try #require(try db.execute("EXPLAIN " + q).result.plan)
            #expect(!operators(plan).contains("VarLengthExpand(Pruning)"), "\(q)")
            #expect(operators(plan).contains("VarLengthExpand(All)"), "\(q)")
        }
        // The pruned and the enumerating plan still agree where both apply: the longer minimum is exact.
        let twoToThree = try db.run("MATCH (a:N)-[:R*2..3]->(x) RETURN a.id AS id, count(DISTINCT x) AS n ORDER BY id")
        #expect(twoToThree.count == 40)
    }

    @Test("the visited set keeps every id through growth and forgets them all on removeAll")
    func visitedSet() {
        var set = NodeIDSet(capacity: 2)
        var allNew = true
        for i in stride(from: 0, to: 30_000, by: 3) where !set.insert(NodeID(Int64(i))) { allNew = false }
        #expect(allNew)
        #expect(set.count == 10_000)
        let again = set.insert(NodeID(2_997))
        #expect(!again)
        #expect(set.contains(NodeID(0)) && set.contains(NodeID(29_997)))
        #expect(!set.contains(NodeID(1)) && !set.contains(NodeID(30_000)))
        set.removeAll()
        #expect(set.count == 0 && !set.contains(NodeID(0)))
        let afterReset = set.insert(NodeID(0))
        #expect(afterReset)
    }

    @Test("PROFILE counts one row per distinct end node", arguments: Backend.allCases)
    func profileRows(_ backend: Backend) throws {
        let db = try graph(backend)
        let distinct = try db.scalar("MATCH (a:N {id: 1})-[:R*1..3]->(x) WHERE x.id >= 0 RETURN count(DISTINCT x)")
        let paths = try db.scalar("MATCH (a:N {id: 1})-[:R*1..3]->(x) RETURN count(*)")
        let (rows, _, r) = try db.execute("PROFILE MATCH (a:N {id: 1})-[:R*1..3]->(x) RETURN count(DISTINCT x) AS n")
        #expect(rows == [[distinct]])
        let plan = try #require(r.plan)
        let expand = try #require(find(plan, "VarLengthExpand(Pruning)"))
        guard case .integer(let n) = distinct, case .integer(let p) = paths else {
            Issue.record("counts are not integers: \(distinct) \(paths)")
            return
        }
        #expect(expand.rows == Int(n))
        // The fixture has more paths than end nodes, so the pruning is observable.
        #expect(p > n)
    }
}
