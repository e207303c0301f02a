import Foundation
import GraphKernel
import GraphValues
import Testing

@testable import Cypher

/// CREATE with a map literal is compiled to one expression per key (`CreatePropertySlots`); these check that it
/// behaves as the general path (a property map built per row) does, on both backends.
@Suite("CREATE with properties compiled to key slots")
struct CreateSlotsTests {
    @Test("batched CREATE stores every property, skips nulls, and counts labels and properties", arguments: Backend.allCases)
    func batchedCreate(_ backend: Backend) throws {
        let db = TestDatabase(backend)
        let rows: [Value] = (0..<5).map { i in
            .map(["id": .integer(Int64(i)), "name": i == 2 ? .null : .string("p\(i)"), "age": .integer(Int64(20 + i))])
        }
        let stats = try db.execute(
            "UNWIND $rows AS r CREATE (:Person:Person {id: r.id, name: r.name, age: r.age, missing: r.nope})",
            ["rows": .list(rows)]
        ).statistics
        #expect(stats.nodesCreated == 5)
        #expect(stats.labelsAdded == 5)
        #expect(stats.propertiesSet == 14)
        let read = try db.run("MATCH (p:Person) RETURN p.id, p.name, p.age, keys(p) ORDER BY p.id")
        #expect(read.count == 5)
        #expect(read[2][0...2] == [.integer(2), .null, .integer(22)])
        #expect(read[2][3].sortedList() == Value.list([.string("id"), .string("age")]).sortedList())
        #expect(read[4][0...2] == [.integer(4), .string("p4"), .integer(24)])
        // A key only ever given null was never created.
        #expect(try db.run("CALL db.propertyKeys() YIELD propertyKey RETURN propertyKey").contains([.string("missing")])
            == false)
    }

    @Test("relationships created per row get their type and properties; a missing end fails", arguments: Backend.allCases)
    func batchedRelationships(_ backend: Backend) throws {
        let db = TestDatabase(backend)
        try db.run("UNWIND range(0, 3) AS i CREATE (:P {id: i})")
        let pairs: [Value] = [(0, 1, 2001), (1, 2, 2002), (2, 3, 2003)].map { s, d, y in
            .map(["s": .integer(Int64(s)), "d": .integer(Int64(d)), "y": .integer(Int64(y))])
        }
        let stats = try db.execute(
            "UNWIND $rows AS r MATCH (a:P {id: r.s}), (b:P {id: r.d}) CREATE (a)-[k:KNOWS {since: r.y}]->(b) "
                + "RETURN type(k), k.since",
            ["rows": .list(pairs)])
        #expect(stats.statistics.relationshipsCreated == 3)
        #expect(stats.statistics.propertiesSet == 3)
        #expect(stats.rows.map { $0[1] } == [.integer(2001), .integer(2002), .integer(2003)])
        #expect(try db.run("MATCH (:P {id: 1})-[k:KNOWS]->(b) RETURN b.id, k.since") == [[.integer(2), .integer(2002)]])
        #expect(db.errorCode("OPTIONAL MATCH (x:Nope) CREATE (x)-[:R {a: 1}]->(:P)")
            == "Neo.ClientError.Statement.SemanticError")
    }

    @Test("an unstorable value fails the statement with a TypeError, as through a property map", arguments: Backend.allCases)
    func unstorableValue(_ backend: Backend) throws {
        let db = TestDatabase(backend)
        #expect(db.errorCode("CREATE (:A {m: {x: 1}})") == "Neo.ClientError.Statement.TypeError")
        #expect(db.errorCode("CREATE (:A {l: [1, null]})") == "Neo.ClientError.Statement.TypeError")
        #expect(db.errorCode("CREATE (:A)-[:R {m: {x: 1}}]->(:B)") == "Neo.ClientError.Statement.TypeError")
        // The in-memory test graph has no rollback: the nodes created before the relationship failed stay there.
        if backend == .kernel { #expect(try db.run("MATCH (n) RETURN count(n)") == [[.integer(0)]]) }
    }

    @Test("repeated keys and parameter maps keep the general path's meaning", arguments: Backend.allCases)
    func generalShapes(_ backend: Backend) throws {
        let db = TestDatabase(backend)
        try db.run("CREATE (:A {k: 1, k: 2})")
        #expect(try db.run("MATCH (a:A) RETURN a.k") == [[.integer(2)]])
        try db.run("UNWIND $rows AS r CREATE (:B $props)", ["rows": .list([.integer(1)]), "props": .map(["x": .integer(7)])])
        #expect(try db.run("MATCH (b:B) RETURN b.x") == [[.integer(7)]])
        // MERGE keeps refusing null property values.
        #expect(db.errorCode("MERGE (:C {k: null})") == "Neo.ClientError.Statement.SemanticError")
    }

    @Test("two rows claiming one unique value fail the whole batch with ConstraintValidationFailed")
    func uniquenessInBatch() throws {
        let db = TestDatabase(.kernel)
        try db.run("CREATE CONSTRAINT ON (p:Person) ASSERT p.id IS UNIQUE")
        try db.run("CREATE (:Person {id: 1})")
        for ids in [[5, 6, 5], [7, 1]] {
            let rows = Value.list(ids.map { .map(["id": .integer(Int64($0))]) })
            #expect(db.errorCode("UNWIND $rows AS r CREATE (:Person {id: r.id})", ["rows": rows])
                == "Neo.ClientError.Schema.ConstraintValidationFailed")
        }
        #expect(try db.run("MATCH (p:Person) RETURN p.id") == [[.integer(1)]])
        try db.run("UNWIND [2, 3] AS i CREATE (:Person {id: i})")
        #expect(try db.run("MATCH (p:Person {id: 3}) RETURN p.id") == [[.integer(3)]])
    }
}

extension Value {
    /// A list value with its items sorted by their text (for order-free comparisons of `keys(...)`).
    fileprivate func sortedList() -> Value {
        guard case .list(let items) = self else { return self }
        return .list(items.sorted { "\($0)" < "\($1)" })
    }
}
