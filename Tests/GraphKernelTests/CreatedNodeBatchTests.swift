import GraphValues
import Testing

@testable import GraphKernel

/// Nodes created whole (`createNode(labels:properties:)`) are kept column-wise in the transaction (CreatedNodeBatch)
/// and written from there at commit; everything else must see them exactly as nodes created one by one.
@Suite("Column-wise batch of created nodes")
struct CreatedNodeBatchTests {
    func openDatabase(_ fs: SimulatedFileSystem = SimulatedFileSystem()) throws -> GraphDatabase {
        try GraphDatabase(directory: "/db", configuration: KernelConfiguration(fileSystem: fs))
    }

    struct Tokens {
        let person: LabelToken, extra: LabelToken, id: PropertyKeyToken, name: PropertyKeyToken, age: PropertyKeyToken
        init(_ tx: KernelTransaction) throws {
            person = try tx.getOrCreateLabelToken("Person")
            extra = try tx.getOrCreateLabelToken("Extra")
            id = try tx.getOrCreatePropertyKeyToken("id")
            name = try tx.getOrCreatePropertyKeyToken("name")
            age = try tx.getOrCreatePropertyKeyToken("age")
        }
    }

    /// `count` persons with ids `first…`, created through the batch path (keys given out of key order on purpose).
    @discardableResult
    func createPersons(_ tx: KernelTransaction, _ t: Tokens, from first: Int64, count: Int) throws -> [NodeID] {
        try (0..<Int64(count)).map { i in
            try tx.createNode(
                labels: [t.person],
                properties: [(t.name, .string("p\(first + i)")), (t.id, .integer(first + i)), (t.age, .null)])
        }
    }

    func withConstraint() throws -> GraphDatabase {
        let db = try openDatabase()
        try db.write { (tx) throws in try tx.createUniqueConstraint(on: "Person", "id") }
        return db
    }

    @Test("a repeated id inside one batch fails the whole transaction with ConstraintValidationFailed, leaving nothing")
    func duplicateInsideBatch() throws {
        let db = try withConstraint()
        defer { try? db.close() }
        let tx = try db.beginTransaction()
        let t = try Tokens(tx)
        try createPersons(tx, t, from: 0, count: 500)
        try createPersons(tx, t, from: 250, count: 1)
        expectError(.constraintValidationFailed) { try tx.commit() }
        try db.read { (tx) throws in
            #expect(try tx.countNodes(label: tx.labelToken("Person")) == 0)
            #expect(try tx.findNodes("Person", "id", equals: .integer(250)).isEmpty)
            #expect(try tx.allNodes().next() == nil)
        }
        // The ids went back and a clean batch commits.
        try db.write { (tx) throws in try createPersons(tx, try Tokens(tx), from: 0, count: 10) }
        #expect(try db.read { (tx) throws in try tx.countNodes(label: tx.labelToken("Person")) } == 10)
        #expect(try ConsistencyChecker(database: db).check().isConsistent)
    }

    @Test("an id already committed fails a later batch that repeats it, naming the committed node")
    func duplicateOfCommitted() throws {
        let db = try withConstraint()
        defer { try? db.close() }
        let committed = try db.write { (tx) throws in try createPersons(tx, try Tokens(tx), from: 0, count: 3) }
        do {
            try db.write { (tx) throws in try createPersons(tx, try Tokens(tx), from: 2, count: 100) }
            Issue.record("the repeated id was accepted")
        } catch let error as DatabaseError {
            #expect(error.code == .constraintValidationFailed)
            #expect(error.message.contains("Node(\(committed[2].rawValue))"), "\(error.message)")
        }
        try db.read { (tx) throws in
            #expect(try tx.countNodes(label: tx.labelToken("Person")) == 3)
            #expect(try tx.findNodes("Person", "id", equals: .integer(50)).isEmpty)
        }
        #expect(try ConsistencyChecker(database: db).check().isConsistent)
    }

    @Test("reads in the creating transaction see batch nodes: labels, properties, counts, label scan, index seeks")
    func readsSeeBatch() throws {
        let db = try withConstraint()
        defer { try? db.close() }
        let tx = try db.beginTransaction()
        let t = try Tokens(tx)
        let nodes = try createPersons(tx, t, from: 100, count: 20)
        #expect(try tx.labels(of: nodes[3]) == [t.person])
        #expect(try tx.nodeProperty(nodes[3], t.id) == .integer(103))
        #expect(try tx.nodeProperty(nodes[3], t.age) == .null)
        #expect(try tx.nodePropertyMap(nodes[4]) == ["id": .integer(104), "name": .string("p104")])
        #expect(try tx.countNodes(label: t.person) == 20)
        // More creates after the reads start a new batch; both halves stay visible.
        let more = try createPersons(tx, t, from: 200, count: 5)
        #expect(try tx.nodes(withLabel: "Person").count == 25)
        #expect(try tx.findNodes("Person", "id", equals: .integer(202)) == [more[2]])
        try tx.commit()
        try db.read { (tx) throws in
            #expect(try tx.countNodes(label: tx.labelToken("Person")) == 25)
            #expect(try tx.findNodes("Person", "id", equals: .integer(119)) == [nodes[19]])
            #expect(try tx.nodePropertyMap(more[4]) == ["id": .integer(204), "name": .string("p204")])
        }
        #expect(try ConsistencyChecker(database: db).check().isConsistent)
    }

    @Test("deleting, relabelling and changing batch nodes in the same transaction commits what was last written")
    func changesToBatchNodes() throws {
        let db = try withConstraint()
        defer { try? db.close() }
        let nodes = try db.write { (tx) throws -> [NodeID] in
            let t = try Tokens(tx)
            let nodes = try createPersons(tx, t, from: 0, count: 10)
            try tx.deleteNode(nodes[0])
            try tx.addLabel(nodes[1], t.extra)
            try tx.removeLabel(nodes[2], t.person)
            try tx.setNodeProperty(nodes[3], t.id, .integer(1000))
            try tx.setNodeProperty(nodes[4], t.name, .null)
            // id 0 is free again now that its node is gone: a new batch node may claim it.
            try createPersons(tx, t, from: 0, count: 1)
            // Duplicate keys take the per-node path; the last value wins.
            _ = try tx.createNode(labels: [t.extra, t.extra], properties: [(t.age, .integer(1)), (t.age, .integer(2))])
            _ = try tx.createRelationship(from: nodes[5], to: nodes[6], type: tx.getOrCreateRelationshipTypeToken("R"))
            return nodes
        }
        try db.read { (tx) throws in
            let person = try #require(try tx.labelToken("Person"))
            let extra = try #require(try tx.labelToken("Extra"))
            #expect(try !tx.nodeExists(nodes[0]))
            #expect(try Set(tx.labels(of: nodes[1])) == [person, extra])
            #expect(try tx.labels(of: nodes[2]).isEmpty)
            #expect(try tx.findNodes("Person", "id", equals: .integer(1000)) == [nodes[3]])
            #expect(try tx.findNodes("Person", "id", equals: .integer(3)).isEmpty)
            #expect(try tx.nodePropertyMap(nodes[4]) == ["id": .integer(4)])
            #expect(try tx.findNodes("Person", "id", equals: .integer(0)).count == 1)
            #expect(try tx.countNodes(label: person) == 9)
            #expect(try tx.countNodes(label: extra) == 2)
            #expect(try tx.nodes(withLabel: "Extra").map { try tx.nodeProperty($0, "age") }.contains(.integer(2)))
            #expect(try tx.relationships(of: nodes[5], direction: .outgoing).count == 1)
        }
        #expect(try ConsistencyChecker(database: db).check().isConsistent)
    }

    @Test("batch nodes with many labels and long strings survive a crash: recovery replays the same records")
    func recovery() throws {
        let fs = SimulatedFileSystem()
        let config = KernelConfiguration(pageCacheSizeBytes: 16 * 8192, fileSystem: fs)
        var db = try GraphDatabase(directory: "/db", configuration: config)
        try db.write { (tx) throws in try tx.createUniqueConstraint(on: "Person", "id") }
        let long = String(repeating: "long value ", count: 40)
        let nodes = try db.write { (tx) throws -> [NodeID] in
            let t = try Tokens(tx)
            let labels = try ["Person", "A", "B", "C", "D", "E"].map { try tx.getOrCreateLabelToken($0) }
            var nodes = try createPersons(tx, t, from: 0, count: 300)
            for i in 0..<Int64(50) {
                nodes.append(
                    try tx.createNode(
                        labels: labels.reversed(),
                        properties: [(t.id, .integer(1000 + i)), (t.name, .string(long)), (t.age, .list([.integer(i)]))]))
            }
            return nodes
        }
        let committed = db.lastCommittedTxID
        db.abandonForCrashTest()
        fs.crash()
        db = try GraphDatabase(directory: "/db", configuration: config)
        defer { try? db.close() }
        #expect(db.lastCommittedTxID == committed)
        try db.read { (tx) throws in
            #expect(try tx.countNodes(label: tx.labelToken("Person")) == 350)
            #expect(try tx.countNodes(label: tx.labelToken("E")) == 50)
            #expect(try tx.findNodes("Person", "id", equals: .integer(1049)) == [nodes[349]])
            #expect(try tx.nodePropertyMap(nodes[320]) == [
                "id": .integer(1020), "name": .string(long), "age": .list([.integer(20)]),
            ])
            #expect(try tx.labelNames(of: nodes[300]).sorted() == ["A", "B", "C", "D", "E", "Person"])
        }
        let report = try ConsistencyChecker(database: db).check()
        #expect(report.isConsistent, "\(report)")
    }
}
