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
        #expect(s.containsUpdates)
    }
}
