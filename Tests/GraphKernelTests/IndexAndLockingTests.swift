import Foundation
import GraphValues
import Testing

@testable import GraphKernel

@Suite("Indexes, constraints, counts and locking")
struct IndexAndLockingTests {
    func openDatabase() throws -> (GraphDatabase, SimulatedFileSystem) {
        let fs = SimulatedFileSystem()
        return (try GraphDatabase(directory: "/db", configuration: KernelConfiguration(fileSystem: fs)), fs)
    }

    @Test("index seeks: equality with 1 = 1.0, numeric and string ranges, prefixes, and the transaction's own changes")
    func indexSeeks() throws {
        let (db, _) = try openDatabase()
        defer { try? db.close() }
        let people = try db.write { (tx) throws in
            try (0..<20).map { i in
                try tx.createNode(
                    labels: ["Person"], properties: ["age": .integer(Int64(i)), "name": .string("name\(i % 5)-\(i)")])
            }
        }
        let descriptor = try db.write { (tx) throws in try tx.createIndex(on: "Person", "age") }
        try db.write { (tx) throws in try tx.createIndex(on: "Person", "name") }
        try db.read { (tx) throws in
            let label = try #require(try tx.labelToken("Person"))
            let age = try #require(try tx.propertyKeyToken("age"))
            let name = try #require(try tx.propertyKeyToken("name"))
            let ageIndex = try #require(try tx.index(label: label, propertyKey: age))
            let nameIndex = try #require(try tx.index(label: label, propertyKey: name))
            #expect(ageIndex.name == descriptor.name)
            #expect(ageIndex.state == .online)
            #expect(Array(try tx.indexSeek(ageIndex, equals: .float(7.0))) == [people[7]])
            #expect(Array(try tx.indexSeek(ageIndex, equals: .integer(7))) == [people[7]])
            let range = Array(
                try tx.indexSeek(
                    ageIndex, lower: RangeBound(.integer(5), inclusive: false), upper: RangeBound(.float(8.5), inclusive: true)))
            #expect(range == [people[6], people[7], people[8]])
            #expect(Array(try tx.indexSeek(ageIndex, lower: RangeBound(.string("a"), inclusive: true), upper: nil)).isEmpty)
            #expect(Array(try tx.indexSeek(nameIndex, prefix: "name3-")) == [people[3], people[8], people[13], people[18]])
            #expect(
                Array(try tx.indexSeek(nameIndex, lower: RangeBound(.string("name4"), inclusive: true), upper: nil)).count
                    == 4)
        }
        // The transaction's own changes are visible in its seeks.
        try db.write { (tx) throws in
            let label = try #require(try tx.labelToken("Person"))
            let age = try #require(try tx.propertyKeyToken("age"))
            let index = try #require(try tx.index(label: label, propertyKey: age))
            try tx.setNodeProperty(people[7], age, .integer(100))
            let newcomer = try tx.createNode(labels: ["Person"], properties: ["age": .integer(7)])
            #expect(Array(try tx.indexSeek(index, equals: .integer(7))) == [newcomer])
            #expect(Array(try tx.indexSeek(index, equals: .integer(100))) == [people[7]])
            try tx.removeLabel(people[8], label)
            #expect(Array(try tx.indexSeek(index, equals: .integer(8))).isEmpty)
        }
        try db.read { (tx) throws in
            #expect(try tx.findNodes("Person", "age", equals: .integer(8)).isEmpty)
            #expect(try tx.findNodes("Person", "age", equals: .integer(100)) == [people[7]])
            #expect(try tx.findNodes("Person", "age", equals: .integer(7)).count == 1)
        }
        #expect(try ConsistencyChecker(database: db).check().isConsistent)
    }

    @Test("a uniqueness violation fails the commit with ConstraintValidationFailed and commits nothing")
    func uniqueness() throws {
        let (db, _) = try openDatabase()
        defer { try? db.close() }
        try db.write { (tx) throws in try tx.createUniqueConstraint(on: "User", "email") }
        let alice = try db.write { (tx) throws in
            try tx.createNode(labels: ["User"], properties: ["email": .string("a@x")])
        }
        try db.write { (tx) throws in
            _ = try tx.getOrCreateLabelToken("Other")
            _ = try tx.getOrCreatePropertyKeyToken("n")
        }
        let txBefore = db.lastCommittedTxID
        expectError(.constraintValidationFailed) {
            try db.write { (tx) throws in
                try tx.createNode(labels: ["Other"], properties: ["n": .integer(1)])
                try tx.createNode(labels: ["User"], properties: ["email": .string("a@x")])
            }
        }
        #expect(db.lastCommittedTxID == txBefore)
        #expect(try db.read { try $0.nodes(withLabel: "Other") }.isEmpty)
        // Two new nodes with the same value in one transaction also violate it.
        expectError(.constraintValidationFailed) {
            try db.write { (tx) throws in
                try tx.createNode(labels: ["User"], properties: ["email": .string("b@x")])
                try tx.createNode(labels: ["User"], properties: ["email": .string("b@x")])
            }
        }
        // Moving the value from one node to another in one transaction is fine.
        try db.write { (tx) throws in
            try tx.setNodeProperty(alice, "email", .string("alice@x"))
            try tx.createNode(labels: ["User"], properties: ["email": .string("a@x")])
        }
        #expect(try db.read { try $0.nodes(withLabel: "User") }.count == 2)
        // Creating a constraint over existing duplicates fails.
        try db.write { (tx) throws in
            try tx.createNode(labels: ["Dup"], properties: ["k": .integer(1)])
            try tx.createNode(labels: ["Dup"], properties: ["k": .float(1.0)])
        }
        expectError(.constraintValidationFailed) {
            _ = try db.write { (tx) throws in try tx.createUniqueConstraint(on: "Dup", "k") }
        }
        #expect(try db.read { try $0.constraints() }.count == 1)
        // Schema and data changes do not mix in one transaction.
        expectError(.invalidRequest) {
            try db.write { (tx) throws in
                try tx.createNode(labels: ["X"])
                try tx.createIndex(on: "X", "y")
            }
        }
    }

    @Test("counts follow label changes of nodes with relationships, inside and after the transaction")
    func counts() throws {
        let (db, _) = try openDatabase()
        defer { try? db.close() }
        let (a, b) = try db.write { (tx) throws in
            let a = try tx.createNode(labels: ["A"])
            let b = try tx.createNode(labels: ["B"])
            try tx.createRelationship(from: a, to: b, type: "R")
            try tx.createRelationship(from: a, to: a, type: "R")
            return (a, b)
        }
        func check(_ tx: KernelTransaction, aLabel: String) throws {
            let r = try tx.relationshipTypeToken("R")
            let labelA = try tx.labelToken(aLabel)
            let labelB = try tx.labelToken("B")
            #expect(try tx.countRelationships(startLabel: nil, type: r, endLabel: nil) == 2)
            #expect(try tx.countRelationships(startLabel: labelA, type: r, endLabel: nil) == 2)
            #expect(try tx.countRelationships(startLabel: nil, type: r, endLabel: labelA) == 1)
            #expect(try tx.countRelationships(startLabel: nil, type: nil, endLabel: labelB) == 1)
            #expect(try tx.countNodes(label: labelA) == 1)
        }
        try db.read { (tx) throws in try check(tx, aLabel: "A") }
        try db.write { (tx) throws in
            let c = try tx.getOrCreateLabelToken("C")
            try tx.removeLabel(a, try #require(try tx.labelToken("A")))
            try tx.addLabel(a, c)
            try check(tx, aLabel: "C")
            #expect(try tx.countNodes(label: tx.labelToken("A")) == 0)
        }
        try db.read { (tx) throws in
            try check(tx, aLabel: "C")
            #expect(try tx.countNodes(label: tx.labelToken("A")) == 0)
            #expect(try tx.countRelationships(startLabel: tx.labelToken("A"), type: nil, endLabel: nil) == 0)
        }
        _ = b
        #expect(try ConsistencyChecker(database: db).check().isConsistent)
    }

    @Test("two transactions locking two nodes in opposite order: one fails with DeadlockDetected")
    func deadlock() throws {
        let (db, _) = try openDatabase()
        defer { try? db.close() }
        let (a, b) = try db.write { (tx) throws in (try tx.createNode(labels: []), try tx.createNode(labels: [])) }
        let tx1 = try db.beginTransaction()
        let tx2 = try db.beginTransaction()
        try tx1.setNodeProperty(a, "v", .integer(1))
        try tx2.setNodeProperty(b, "v", .integer(2))
        let outcome = OutcomeBox()
        let thread = Thread {
            do {
                try tx1.setNodeProperty(b, "v", .integer(1))
                outcome.set("tx1 ok")
            } catch let error as DatabaseError {
                outcome.set(error.code.rawValue)
            } catch {
                outcome.set("\(error)")
            }
        }
        thread.start()
        // Give tx1 time to start waiting for b, then close the cycle from tx2.
        var tries = 0
        while db.locks.holders(of: .node(b)).exclusive == tx2.lockOwner && tries < 20 {
            usleepMillis(10)
            tries += 1
        }
        var tx2Error: StatusCode?
        do {
            try tx2.setNodeProperty(a, "v", .integer(2))
        } catch let error as DatabaseError {
            tx2Error = error.code
            tx2.rollback()
        }
        var waited = 0
        while outcome.get() == nil && waited < 500 {
            usleepMillis(10)
            waited += 1
        }
        let results = [tx2Error?.rawValue, outcome.get()]
        #expect(results.contains(StatusCode.deadlockDetected.rawValue), "\(results)")
        if outcome.get() == "tx1 ok" { try tx1.commit() } else { tx1.rollback() }
        if tx2.isOpen { tx2.rollback() }
    }

    @Test("an exclusive lock is held to the end of the transaction and blocks other writers of that node")
    func lockHeldToCommit() throws {
        var config = KernelConfiguration(fileSystem: SimulatedFileSystem())
        config.lockAcquisitionTimeout = .milliseconds(50)
        let db = try GraphDatabase(directory: "/db", configuration: config)
        defer { try? db.close() }
        let node = try db.write { (tx) throws in try tx.createNode(labels: []) }
        let tx1 = try db.beginTransaction()
        try tx1.setNodeProperty(node, "v", .integer(1))
        expectError(.lockAcquisitionTimeout) { try db.write { (tx) throws in try tx.setNodeProperty(node, "v", .integer(2)) } }
        try tx1.commit()
        try db.write { (tx) throws in try tx.setNodeProperty(node, "v", .integer(3)) }
        #expect(try db.read { try $0.nodeProperty(node, "v") } == .integer(3))
    }
}

final class OutcomeBox: @unchecked Sendable {
    private let lock = NSLock()
    private var value: String?
    func set(_ v: String) { lock.withLock { value = v } }
    func get() -> String? { lock.withLock { value } }
}
