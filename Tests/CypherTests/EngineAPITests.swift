import GraphKernel
import GraphValues
import Testing

@testable import Cypher

@Suite("Engine API")
struct EngineAPITests {
    @Test("the standard registry lists Neo4j's built-in procedures with their column names")
    func standardProcedures() throws {
        let registry = ProcedureRegistry.standard()
        #expect(registry.lookup("db.labels")?.outputs.map(\.name) == ["label"])
        #expect(registry.lookup("db.relationshipTypes")?.outputs.map(\.name) == ["relationshipType"])
        #expect(registry.lookup("dbms.components")?.outputs.map(\.name) == ["name", "versions", "edition"])
        #expect(registry.lookup("db.labels")?.signature == "db.labels() :: (label :: STRING?)")
    }

    @Test("db.labels reads tokens from the transaction")
    func labelsProcedure() throws {
        let g = InMemoryGraph()
        _ = try g.getOrCreateLabelToken("Person")
        _ = try g.getOrCreateLabelToken("City")
        let p = try #require(ProcedureRegistry.standard().lookup("db.labels"))
        let rows = try p.body(ProcedureContext(transaction: g, options: .init(), registry: .standard()), [])
        #expect(rows == [[.string("Person")], [.string("City")]])
    }

    @Test("statistics report only non-zero counters by Neo4j's names")
    func statisticsNames() {
        var s = CypherStatistics()
        #expect(!s.containsUpdates)
        s.nodesCreated = 2
        #expect(s.asDictionary == ["nodes-created": 2])
        #expect(s.nonZeroCounters.map(\.0) == ["nodes-created"] && s.nonZeroCounters.map(\.1) == [2])
        #expect(s.containsUpdates)
    }
}

@Suite("Table procedures (TCK fixtures)")
struct TableProcedureTests {
    @Test("a table procedure answers rows whose inputs equal the arguments")
    func tableProcedure() throws {
        let db = TestDatabase()
        db.engine.procedures.enableTableProcedureRegistration()
        try db.run("CALL trellis.test.registerTableProcedure($s, $h, $r)", [
            "s": .string("test.my.proc(name :: STRING?, id :: INTEGER?) :: (city :: STRING?, country_code :: INTEGER?)"),
            "h": .list(["name", "id", "city", "country_code"].map { .string($0) }),
            "r": .list([
                .list([.string("Stefan"), .integer(1), .string("Berlin"), .integer(49)]),
                .list([.string("Stefan"), .integer(2), .string("München"), .integer(49)]),
            ]),
        ])
        #expect(try db.run("CALL test.my.proc('Stefan', 1) YIELD city RETURN city") == [[.string("Berlin")]])
        #expect(try db.run("CALL test.my.proc('Stefan', 2)") == [[.string("München"), .integer(49)]])
    }

    @Test("the standard registry does not let queries register procedures")
    func notInProduction() {
        let db = TestDatabase()
        #expect(db.errorCode("CALL trellis.test.registerTableProcedure('a() :: VOID', [], [])")
            == "Neo.ClientError.Procedure.ProcedureNotFound")
    }
}
