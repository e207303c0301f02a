import Cypher
import Foundation
import GraphKernel
import GraphValues
import Logging
import Testing
import TrellisService

@testable import TrellisServer

/// `DatabaseSession.runBoundedRead` through the service, the Cypher engine and the kernel: what Bolt answers on its
/// event loop must be a cached read that cannot wait, and a refused attempt must leave nothing behind.
@Suite("Bounded reads: only cached, read-only, procedure-free statements within budget and rows")
struct BoundedReadTests {
    let fixture: CypherServiceFixture
    var database: GraphDatabase { fixture.database }
    var service: TrellisDatabaseService { fixture.service }

    init() throws {
        fixture = try CypherServiceFixture()
    }

    func session() -> DatabaseSession {
        service.openSession(user: AuthenticatedUser(username: "neo4j", roles: ["admin"], passwordChangeRequired: false))
    }

    @discardableResult
    func run(_ s: DatabaseSession, _ query: String, _ parameters: [String: Value] = [:]) throws -> [[Value]] {
        let cursor = try s.run(query, parameters: parameters, options: TransactionOptions())
        var rows: [[Value]] = []
        while let r = try cursor.next() { rows.append(r) }
        return rows
    }

    func bounded(_ s: DatabaseSession, _ query: String, _ parameters: [String: Value] = [:],
                 options: TransactionOptions = TransactionOptions(), maxRows: Int = 1000,
                 budget: Duration = .seconds(10)) -> BoundedReadOutcome {
        s.runBoundedRead(query, parameters: parameters, options: options, maxRows: maxRows, budget: budget)
    }

    @Test("a cached point read completes with its rows and a bookmark; not before it is cached")
    func cachedReadCompletes() throws {
        let s = session()
        try run(s, "UNWIND range(1, 5) AS i CREATE (:P {id: i, name: 'p' + toString(i)})")
        let query = "MATCH (p:P {id: $id}) RETURN p.name"
        guard case .unavailable = bounded(s, query, ["id": .integer(3)]) else {
            Issue.record("an uncached statement must not be planned on the caller's thread")
            return
        }
        #expect(try run(s, query, ["id": .integer(2)]) == [[.string("p2")]])
        guard case .completed(let done) = bounded(s, query, ["id": .integer(3)]) else {
            Issue.record("a cached point read was not completed")
            return
        }
        #expect(done.columns == ["p.name"])
        #expect(done.rows == [[.string("p3")]])
        #expect(done.summary.queryType == .readOnly)
        #expect(done.summary.bookmark == "FB:trellis:tx:\(database.lastCommittedTransaction)")
        #expect(service.openTransactionCount == 0)
    }

    @Test("writes, procedure calls, open transactions and bookmarks not yet applied are refused, changing nothing")
    func refusals() throws {
        let s = session()
        try run(s, "CREATE (:W)")
        try run(s, "CREATE (:W)")
        try run(s, "CALL db.labels()")
        guard case .unavailable = bounded(s, "CREATE (:W)") else {
            Issue.record("a write was run as a bounded read")
            return
        }
        guard case .unavailable = bounded(s, "CALL db.labels()") else {
            Issue.record("a procedure call was run as a bounded read")
            return
        }
        try run(s, "MATCH (w:W) RETURN count(w)")
        let ahead = TransactionOptions(bookmarks: ["FB:trellis:tx:\(database.lastCommittedTransaction + 5)"])
        guard case .unavailable = bounded(s, "MATCH (w:W) RETURN count(w)", options: ahead) else {
            Issue.record("a bounded read waited for (or ignored) a bookmark not applied yet")
            return
        }
        try s.beginTransaction(TransactionOptions())
        guard case .unavailable = bounded(s, "MATCH (w:W) RETURN count(w)") else {
            Issue.record("a bounded read ran beside an open explicit transaction")
            return
        }
        try s.rollback()
        #expect(try run(s, "MATCH (w:W) RETURN count(w)") == [[.integer(2)]])
        #expect(service.openTransactionCount == 0)
    }

    @Test("too many rows or a budget that runs out: unsuitable, rolled back, nothing left open")
    func overLimits() throws {
        let s = session()
        try run(s, "UNWIND range(1, 20) AS i CREATE (:R {i: i})")
        let query = "MATCH (r:R) RETURN r.i"
        #expect(try run(s, query).count == 20)
        guard case .unsuitable = bounded(s, query, maxRows: 19) else {
            Issue.record("20 rows fit in 19")
            return
        }
        guard case .completed(let all) = bounded(s, query, maxRows: 20) else {
            Issue.record("20 rows did not fit in 20")
            return
        }
        #expect(all.rows.count == 20)
        // A 1 ns kernel time-out has passed by the statement's first read, whatever the machine's speed.
        let before = database.counters.snapshot
        guard case .unsuitable = bounded(s, query, budget: .nanoseconds(1)) else {
            Issue.record("a statement past its budget was not refused")
            return
        }
        // It is run again on the worker: an abandoned attempt, rolled back but not a terminated transaction.
        let after = database.counters.snapshot
        #expect(after.terminatedRead == before.terminatedRead)
        #expect(after.terminatedWrite == before.terminatedWrite)
        #expect(after.rolledBackRead == before.rolledBackRead + 1)
        #expect(service.openTransactionCount == 0)
        #expect(try run(s, "MATCH (r:R) RETURN count(r)") == [[.integer(20)]])
    }
}
