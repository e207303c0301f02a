import Foundation
import GraphValues
import Testing

@testable import GraphKernel

@Suite("Consistency checker and concurrent uniqueness")
struct ConsistencyCheckerTests {
    @Test("damaged records are reported precisely: broken chain pointer, dangling label, unowned property record")
    func detectsDamage() throws {
        let fs = SimulatedFileSystem()
        let db = try GraphDatabase(directory: "/db", configuration: KernelConfiguration(fileSystem: fs))
        defer { try? db.close() }
        let (a, rels) = try db.write { (tx) throws in
            let a = try tx.createNode(labels: ["A"], properties: ["x": .integer(1)])
            let b = try tx.createNode(labels: [])
            let rels = try (0..<3).map { _ in try tx.createRelationship(from: a, to: b, type: "R") }
            return (a, rels)
        }
        #expect(try ConsistencyChecker(database: db).check().isConsistent)

        // A middle relationship whose prev pointer for the start node points at itself.
        var middle = try db.stores.relationship(rels[1].rawValue)
        middle.startPrev = rels[1].rawValue
        try db.stores.relationships.writeRecord(rels[1].rawValue) { middle.encode(to: $0) }
        // A node label that is not a token.
        var node = try db.stores.node(a.rawValue)
        node.setInlineLabels([0, 77])
        try db.stores.nodes.writeRecord(a.rawValue) { node.encode(to: $0) }
        // A property record in use that no chain owns.
        let orphan = db.stores.properties.allocate()
        var record = PropertyRecord()
        record.inUse = true
        record.blocks = [PropertyBlock(key: 0, type: .integer, inlineLength: 0, payload: 5)]
        try db.stores.properties.writeRecord(orphan) { record.encode(to: $0) }

        let report = try ConsistencyChecker(database: db).check()
        let text = report.inconsistencies.map(\.description)
        #expect(
            report.inconsistencies.contains { $0.recordType == "relationship" && $0.id == rels[1].rawValue
                && $0.message.contains("prev pointer") }, "\(text)")
        #expect(
            report.inconsistencies.contains { $0.recordType == "node" && $0.id == a.rawValue
                && $0.message.contains("label 77") }, "\(text)")
        #expect(
            report.inconsistencies.contains { $0.recordType == "property" && $0.id == orphan
                && $0.message.contains("no property chain") }, "\(text)")
        #expect(
            report.inconsistencies.contains { $0.recordType == "label scan" && $0.id == a.rawValue }, "\(text)")
    }

    @Test("two transactions claiming the same unique value concurrently: exactly one commits")
    func concurrentUniqueClaims() throws {
        let fs = SimulatedFileSystem()
        let db = try GraphDatabase(directory: "/db", configuration: KernelConfiguration(fileSystem: fs))
        defer { try? db.close() }
        try db.write { (tx) throws in try tx.createUniqueConstraint(on: "User", "name") }
        _ = try db.write { (tx) throws in try tx.getOrCreatePropertyKeyToken("name") }
        for round in 0..<10 {
            let outcomes = Counter()
            let failures = Counter()
            let group = DispatchGroup()
            for _ in 0..<3 {
                group.enter()
                Thread {
                    defer { group.leave() }
                    do {
                        try db.write { (tx) throws in
                            try tx.createNode(labels: ["User"], properties: ["name": .string("u\(round)")])
                        }
                        outcomes.add(1)
                    } catch let error as DatabaseError where error.code == .constraintValidationFailed {
                        failures.add(1)
                    } catch {
                        failures.add(100)
                    }
                }.start()
            }
            group.wait()
            #expect(outcomes.value == 1)
            #expect(failures.value == 2)
        }
        #expect(try db.read { try $0.nodes(withLabel: "User") }.count == 10)
        #expect(try ConsistencyChecker(database: db).check().isConsistent)
    }
}
