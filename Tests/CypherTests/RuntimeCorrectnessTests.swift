import Foundation
import GraphKernel
import GraphValues
import Testing

@testable import Cypher

/// Runtime rules found missing after the first TCK runs: MERGE with null properties, procedure signatures and
/// the plan cache, ordering of durations and points, time-outs in loops that make no kernel call.
@Suite("Runtime correctness")
struct RuntimeCorrectnessTests {
    private func errorCode(_ db: TestDatabase, _ query: String, _ parameters: [String: Value] = [:]) -> StatusCode? {
        do {
            try db.run(query, parameters)
            return nil
        } catch let e as DatabaseError {
            return e.code
        } catch {
            return nil
        }
    }

    @Test("MERGE with a null property value is a SemanticError and creates nothing", arguments: Backend.allCases)
    func mergeNull(_ backend: Backend) throws {
        let db = TestDatabase(backend)
        #expect(errorCode(db, "MERGE ({num: null})") == .semanticError)
        #expect(errorCode(db, "MERGE (n:L {a: 1, b: $v}) RETURN n", ["v": .null]) == .semanticError)
        #expect(errorCode(db, "CREATE (:A), (:B)") == nil)
        #expect(errorCode(db, "MATCH (a:A), (b:B) MERGE (a)-[:R {w: null}]->(b)") == .semanticError)
        #expect(try db.scalar("MATCH (n) RETURN count(n)") == .integer(2))
        #expect(try db.scalar("MATCH ()-[r]->() RETURN count(r)") == .integer(0))
        // A non-null value still merges (and matches the second time).
        try db.run("MERGE (:L {a: 1})")
        try db.run("MERGE (:L {a: 1})")
        #expect(try db.scalar("MATCH (n:L) RETURN count(n)") == .integer(1))
    }

    @Test("procedure signatures are checked at compile time and re-registering re-plans cached statements")
    func procedureSignatures() throws {
        let db = TestDatabase()
        func register(outputs: [String]) {
            db.engine.procedures.register(ProcedureDefinition(
                name: "test.values", parameters: [ProcedureParameter("n", "INTEGER?")],
                outputs: outputs.map { (name: $0, type: "INTEGER?") },
                body: { _, args in
                    guard case .integer(let n) = args[0] else { return [] }
                    return (0..<n).map { i in outputs.map { _ in .integer(i) } }
                }))
        }
        register(outputs: ["a"])
        let q = "CALL test.values(2) YIELD a RETURN sum(a) AS s"
        #expect(try db.scalar(q) == .integer(1))
        // Wrong argument type: a compile-time SyntaxError, not a runtime failure.
        #expect(errorCode(db, "CALL test.values('x') YIELD a RETURN a") == .syntaxError)
        // The output `a` is renamed `b`: the cached plan for `q` must not be reused.
        register(outputs: ["b"])
        #expect(errorCode(db, q) == .syntaxError)
        #expect(try db.scalar("CALL test.values(3) YIELD b RETURN sum(b) AS s") == .integer(3))
        db.engine.procedures.unregister("test.values")
        #expect(errorCode(db, "CALL test.values(3) YIELD b RETURN sum(b) AS s") == .procedureNotFound)
    }

    @Test("ORDER BY sorts durations by length and points by coordinates")
    func orderTemporal() throws {
        let db = TestDatabase()
        // P1M is on average 30.44 days: shorter than P31D although it has a month component.
        let durations = try db.run("""
            UNWIND [duration('P31D'), duration('PT1H'), duration('P1M'), duration('P29D')] AS d
            WITH d ORDER BY d RETURN toString(d) AS s
            """)
        #expect(durations.map { $0[0] } == [.string("PT1H"), .string("P29D"), .string("P1M"), .string("P31D")])
        let points = try db.run("""
            UNWIND [point({x: 2, y: 1}), point({x: 1, y: 5}), point({x: 1, y: 2})] AS p
            RETURN p.x AS x, p.y AS y ORDER BY p DESC
            """)
        #expect(points == [[.float(2), .float(1)], [.float(1), .float(5)], [.float(1), .float(2)]])
    }

    @Test("a compute-only UNWIND stops when the transaction times out")
    func unwindTimeout() throws {
        let dir = NSTemporaryDirectory() + "trellis-cypher-timeout-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let database = try GraphDatabase(directory: dir)
        defer { try? database.close() }
        let engine = CypherEngine()
        let tx = try database.beginTransaction(mode: .read, timeout: .milliseconds(200))
        defer { if tx.isOpen { tx.rollback() } }
        let result = try engine.execute("UNWIND range(1, 100000000) AS x RETURN count(*)", parameters: [:],
                                        transaction: tx)
        #expect(throws: DatabaseError.self) { try result.consume() }
        do {
            try result.consume()
        } catch {}
        let again = try? engine.execute("RETURN 1", parameters: [:], transaction: tx)
        #expect(again == nil, "the timed-out transaction stays unusable")
    }

    @Test("a label scan cut short by termination fails instead of ending early")
    func terminatedScanFails() throws {
        let dir = NSTemporaryDirectory() + "trellis-cypher-scan-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let database = try GraphDatabase(directory: dir)
        defer { try? database.close() }
        let engine = CypherEngine()
        try database.write { tx in
            for _ in 0..<50 { _ = try tx.createNode(labels: ["L"]) }
        }
        let tx = try database.beginTransaction(mode: .read)
        defer { tx.rollback() }
        // id(n) needs no further kernel read, so only the scan itself can notice the termination.
        let result = try engine.execute("MATCH (n:L) RETURN id(n) AS i", parameters: [:], transaction: tx)
        for _ in 0..<10 { _ = try result.next() }
        tx.terminate()
        do {
            try result.consume()
            Issue.record("the scan ended normally in a terminated transaction")
        } catch let e as DatabaseError {
            #expect(e.code == .transactionTerminated)
        }
    }

    @Test("terminating the transaction stops a running list comprehension and UNWIND")
    func terminateCompute() throws {
        let dir = NSTemporaryDirectory() + "trellis-cypher-terminate-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let database = try GraphDatabase(directory: dir)
        defer { try? database.close() }
        let engine = CypherEngine()
        for query in [
            "UNWIND range(1, 1000000000) AS x RETURN count(*)",
            "RETURN size([x IN range(1, 2000000) WHERE x % 2 = 0]) AS n",
        ] {
            let tx = try database.beginTransaction(mode: .read)
            let result = try engine.execute(query, parameters: [:], transaction: tx)
            tx.terminate()
            do {
                try result.consume()
                Issue.record("\(query) ran to completion in a terminated transaction")
            } catch let e as DatabaseError {
                #expect(e.code == .transactionTerminated)
            }
            tx.rollback()
        }
    }
}
