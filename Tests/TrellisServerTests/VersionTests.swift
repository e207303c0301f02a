import Cypher
import Testing

@testable import TrellisServer

@Suite("One reported Neo4j version")
struct VersionTests {
    @Test("the Bolt server agent and dbms.components() report the same Neo4j version")
    func agentMatchesComponents() {
        #expect(Trellis.serverAgent == "Neo4j/" + TrellisVersion.neo4jCompatible)
        #expect(Trellis.compatibleNeo4jVersion == TrellisVersion.neo4jCompatible)
    }

    @Test("the reported version is a 5.x release, consistent with the Bolt 5 protocol the server negotiates")
    func versionMatchesProtocol() {
        let parts = TrellisVersion.neo4jCompatible.split(separator: ".").map { Int($0) }
        #expect(parts.count == 3 && parts.allSatisfy { $0 != nil })
        #expect(parts.first == 5)
        // Drivers (Java; older Python) refuse an agent without this prefix.
        #expect(Trellis.serverAgent.hasPrefix("Neo4j/"))
    }
}
