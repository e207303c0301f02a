import GraphValues
import Testing

@testable import GraphKernel

/// Runs the program of docs/embedded-api.md (with prints replaced by collected lines) so the doc cannot rot.
@Suite("docs/embedded-api.md example")
struct EmbeddedAPIExampleTests {
    @Test("the documented embedded program runs and produces what the doc says")
    func example() throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        var lines: [String] = []

        let db = try GraphDatabase(
            directory: dir.path,
            configuration: KernelConfiguration(pageCacheSizeBytes: 64 << 20))

        try db.write { tx in
            try tx.createUniqueConstraint(on: "Person", "name")
            try tx.createIndex(on: "Person", "born")
        }

        let (alice, bob) = try db.write { tx in
            let alice = try tx.createNode(
                labels: ["Person"], properties: ["name": .string("Alice"), "born": .integer(1985)])
            let bob = try tx.createNode(labels: ["Person"], properties: ["name": .string("Bob"), "born": .integer(1990)])
            try tx.createRelationship(from: alice, to: bob, type: "KNOWS", properties: ["since": .integer(2010)])
            return (alice, bob)
        }

        try db.read { tx in
            for person in try tx.findNodes("Person", "name", equals: .string("Alice")) {
                for rel in try tx.relationships(of: person, direction: .outgoing, types: ["KNOWS"]) {
                    let friend = rel.otherNode(person)
                    lines.append("\(try tx.nodeProperty(friend, "name")) \(try tx.relationshipProperty(rel.id, "since"))")
                }
            }
            let label = try tx.labelToken("Person")!
            let born = try tx.propertyKeyToken("born")!
            let index = try tx.index(label: label, propertyKey: born)!
            let eighties = Array(
                try tx.indexSeek(
                    index, lower: RangeBound(.integer(1980), inclusive: true),
                    upper: RangeBound(.integer(1989), inclusive: true)))
            lines.append("\(eighties == [alice]) \(try tx.countNodes(label: label))")
        }

        let tx = try db.beginTransaction(mode: .write, timeout: .seconds(5))
        try tx.setNodeProperty(bob, "born", .integer(1991))
        try tx.commit()

        try db.close()

        #expect(lines == ["string(\"Bob\") integer(2010)", "true 2"])
        let reopened = try GraphDatabase(directory: dir.path)
        defer { try? reopened.close() }
        #expect(reopened.recoveredTransactionCount == 0)
        #expect(try reopened.read { try $0.nodeProperty(bob, "born") } == .integer(1991))
    }
}
