import GraphValues
import Testing

@testable import GraphKernel

@Suite("Batched entity creation, lock reuse and label scan updates")
struct WritePathTests {
    func openDatabase() throws -> GraphDatabase {
        try GraphDatabase(directory: "/db", configuration: KernelConfiguration(fileSystem: SimulatedFileSystem()))
    }

    @Test("createNode and createRelationship with properties store them, skip nulls, and refuse bad values up front")
    func createWithProperties() throws {
        let db = try openDatabase()
        defer { try? db.close() }
        let (node, rel) = try db.write { (tx) throws -> (NodeID, RelationshipID) in
            let person = try tx.getOrCreateLabelToken("Person")
            let name = try tx.getOrCreatePropertyKeyToken("name")
            let age = try tx.getOrCreatePropertyKeyToken("age")
            let gone = try tx.getOrCreatePropertyKeyToken("gone")
            let knows = try tx.getOrCreateRelationshipTypeToken("KNOWS")
            let node = try tx.createNode(
                labels: [person], properties: [(name, .string("Ann")), (age, .integer(41)), (gone, .null)])
            let other = try tx.createNode(labels: [person], properties: [])
            let rel = try tx.createRelationship(
                from: node, to: other, type: knows, properties: [(age, .integer(3)), (gone, .null)])
            // An unstorable value fails before anything is created.
            let nodesBefore = try tx.allNodes().reduce(0) { count, _ in count + 1 }
            expectError(.typeError) {
                _ = try tx.createNode(labels: [person], properties: [(name, .map(["a": .integer(1)]))])
            }
            expectError(.typeError) {
                _ = try tx.createRelationship(from: node, to: other, type: knows, properties: [(age, .list([.null]))])
            }
            #expect(try tx.allNodes().reduce(0) { count, _ in count + 1 } == nodesBefore)
            #expect(try tx.relationships(of: node, direction: .outgoing, types: [knows]).map(\.id).count == 1)
            return (node, rel)
        }
        try db.read { (tx) throws in
            #expect(try tx.nodePropertyMap(node) == ["name": .string("Ann"), "age": .integer(41)])
            let age = try #require(try tx.propertyKeyToken("age"))
            #expect(try tx.relationshipProperties(rel).map(\.0) == [age])
            #expect(try tx.relationshipProperty(rel, age) == .integer(3))
            #expect(try tx.nodes(withLabel: "Person").count == 2)
        }
        #expect(try ConsistencyChecker(database: db).check().isConsistent)
    }

    @Test("relationship ends are locked at commit, once per node; a lock asked for meanwhile is held at once")
    func nodeLockReuse() throws {
        let db = try openDatabase()
        defer { try? db.close() }
        let (a, b) = try db.write { (tx) throws in
            (try tx.createNode(labels: ["P"]), try tx.createNode(labels: ["P"]))
        }
        let first = try db.beginTransaction()
        defer { first.rollback() }
        let type = try first.getOrCreateRelationshipTypeToken("R")
        // The ends' shared locks wait for the commit (RelationshipBatchTests checks what they do there).
        _ = try first.createRelationship(from: a, to: b, type: type)
        _ = try first.createRelationship(from: a, to: b, type: type)
        #expect(db.locks.locks(heldBy: first.lockOwner)[.node(a)] == nil)
        try first.acquireSharedLock(b)
        #expect(db.locks.locks(heldBy: first.lockOwner)[.node(b)] == .shared)
        let second = try db.beginTransaction(timeout: .seconds(30))
        defer { second.rollback() }
        // An exclusive lock on an end goes to the lock manager at once.
        try first.setNodeProperty(a, try first.getOrCreatePropertyKeyToken("k"), .integer(1))
        #expect(db.locks.locks(heldBy: first.lockOwner)[.node(a)] == .exclusive)
        #expect(!db.locks.tryAcquire(.node(a), .shared, for: second.lockOwner))
        try first.commit()
        #expect(db.locks.tryAcquire(.node(a), .exclusive, for: second.lockOwner))
    }

    @Test("a created node gets exactly its labels and properties, also with label overflow and on a reused id")
    func createdNodeRecords() throws {
        let db = try openDatabase()
        defer { try? db.close() }
        let many = ["A", "B", "C", "D", "E", "A"]
        // A node with overflowing labels and properties, deleted so a later node may reuse its id and records.
        let old = try db.write { (tx) throws in
            try tx.createNode(labels: many, properties: ["s": .string(String(repeating: "x", count: 200)), "i": .integer(1)])
        }
        try db.write { (tx) throws in try tx.deleteNode(old) }
        let nodes = try db.write { (tx) throws in
            try (0..<4).map { i in
                try tx.createNode(labels: i % 2 == 0 ? many : ["P"], properties: i == 3 ? [:] : ["k": .integer(Int64(i))])
            }
        }
        try db.read { (tx) throws in
            for (i, node) in nodes.enumerated() {
                #expect(Set(try tx.labelNames(of: node)) == Set(i % 2 == 0 ? many : ["P"]))
                #expect(try tx.labelNames(of: node).count == (i % 2 == 0 ? 5 : 1))
                #expect(try tx.nodePropertyMap(node) == (i == 3 ? [:] : ["k": .integer(Int64(i))]))
            }
            #expect(try tx.nodes(withLabel: "E").count == 2)
        }
        #expect(try ConsistencyChecker(database: db).check().isConsistent)
    }

    @Test("the label scan store grows, sets and clears bits per node, including past the current bitmap's end")
    func labelScanBits() {
        var store = LabelScanStore()
        store.add(3, 1000)
        store.add(3, 5)
        store.add(4, 64)
        #expect(store.contains(3, 1000) && store.contains(3, 5) && store.contains(4, 64))
        #expect(!store.contains(3, 6) && !store.contains(4, 1000) && !store.contains(9, 5))
        store.remove(3, 1000)
        store.remove(3, 5000)
        store.remove(7, 1)
        #expect(!store.contains(3, 1000) && store.contains(3, 5))
        #expect(store.bitmaps[3]?.count == 16)
    }

    @Test("an index value's holders: one kept inline, a set from the second, back to none after removals")
    func indexHolders() {
        var holders = IndexHolders()
        #expect(holders.isEmpty && Array(holders).isEmpty && !holders.contains(0))
        var firsts: [Bool] = []
        for node: Int64 in [7, 7, 0, 9] { firsts.append(holders.insertReportingFirst(node)) }
        #expect(firsts == [true, false, false, false])
        #expect(holders.count == 3 && holders.contains(0) && Set(holders) == [0, 7, 9])
        var emptied: [Bool] = []
        for node: Int64 in [7, 8, 0] { emptied.append(holders.remove(node)) }
        #expect(emptied == [false, false, false])
        #expect(Array(holders) == [9] && holders.count == 1)
        let lastOut = holders.remove(9)
        #expect(lastOut && holders.isEmpty && Array(holders).isEmpty)
        let againFirst = holders.insertReportingFirst(4)
        #expect(againFirst && Array(holders) == [4])
        var single = IndexHolders([3])
        #expect(Array(single) == [3] && single.contains(3) && !single.contains(5))
        let keeps = single.remove(5)
        let empties = single.remove(3)
        #expect(!keeps && empties && single.isEmpty)
    }

    @Test("a non-unique index keeps every holder of a value through adds and removes, and seeks see them")
    func sharedIndexValue() throws {
        let db = try openDatabase()
        defer { try? db.close() }
        try db.write { (tx) throws in try tx.createIndex(on: "P", "city") }
        let ids = try db.write { (tx) throws in
            try (0..<4).map { i in
                try tx.createNode(labels: ["P"], properties: ["city": .string(i < 3 ? "Oslo" : "Rome")])
            }
        }
        try db.read { (tx) throws in
            #expect(try tx.findNodes("P", "city", equals: .string("Oslo")).sorted() == Array(ids[0..<3]))
        }
        try db.write { (tx) throws in
            try tx.setNodeProperty(ids[1], try tx.getOrCreatePropertyKeyToken("city"), .string("Rome"))
            try tx.deleteNode(ids[0])
        }
        try db.read { (tx) throws in
            #expect(try tx.findNodes("P", "city", equals: .string("Oslo")) == [ids[2]])
            #expect(try tx.findNodes("P", "city", equals: .string("Rome")).sorted() == [ids[1], ids[3]])
        }
        #expect(try ConsistencyChecker(database: db).check().isConsistent)
    }
}
