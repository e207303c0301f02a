import GraphValues
import Testing

@testable import GraphKernel

@Suite("Embedded database")
struct GraphDatabaseTests {
    @Test("nodes, labels, properties and relationships survive close and reopen")
    func persistence() throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        var db = try GraphDatabase(directory: dir.path)
        let (alice, bob, knows) = try db.write { (tx) throws in
            let alice = try tx.createNode(
                labels: ["Person", "Admin"], properties: ["name": .string("Alice"), "age": .integer(33)])
            let bob = try tx.createNode(
                labels: ["Person"], properties: ["name": .string("Bob with a long name, really long")])
            let knows = try tx.createRelationship(
                from: alice, to: bob, type: "KNOWS", properties: ["since": .integer(2001)])
            return (alice, bob, knows)
        }
        try db.close()
        db = try GraphDatabase(directory: dir.path)
        try db.read { (tx) throws in
            #expect(try Set(tx.labelNames(of: alice)) == ["Person", "Admin"])
            #expect(try tx.nodeProperty(alice, "name") == .string("Alice"))
            #expect(try tx.nodeProperty(bob, "name") == .string("Bob with a long name, really long"))
            #expect(try tx.nodeProperty(bob, "age") == .null)
            let rels = try tx.relationships(of: alice, direction: .outgoing)
            #expect(rels.map(\.id) == [knows])
            #expect(rels.first?.endNode == bob)
            #expect(try tx.relationships(of: alice, direction: .incoming).isEmpty)
            #expect(try tx.relationships(of: bob, direction: .incoming, types: ["KNOWS"]).count == 1)
            #expect(try tx.relationshipProperty(knows, "since") == .integer(2001))
            #expect(try tx.nodes(withLabel: "Person") == [alice, bob])
            #expect(try tx.countNodes(label: tx.labelToken("Person")) == 2)
            #expect(try tx.countNodes(label: nil) == 2)
            #expect(try tx.countRelationships(startLabel: tx.labelToken("Admin"), type: nil, endLabel: nil) == 1)
        }
        #expect(db.lastCommittedTxID.rawValue > 1)
        try db.close()
    }

    @Test("a transaction sees its own writes; others see them only after commit")
    func isolation() throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        let db = try GraphDatabase(directory: dir.path)
        defer { try? db.close() }
        let tx = try db.beginTransaction(mode: .write)
        let node = try tx.createNode(labels: ["A"], properties: ["x": .integer(1)])
        #expect(try tx.nodeProperty(node, "x") == .integer(1))
        #expect(try tx.countNodes(label: tx.labelToken("A")) == 1)
        #expect(try db.read { try $0.nodeExists(node) } == false)
        try tx.commit()
        #expect(try db.read { try $0.nodeExists(node) } == true)
    }

    @Test("commit returns the transaction's log id; read-only and empty transactions return nil")
    func commitReturnsTxID() throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        let db = try GraphDatabase(directory: dir.path)
        defer { try? db.close() }
        let write = try db.beginTransaction(mode: .write)
        _ = try write.createNode(labels: ["A"], properties: [:])
        let committed = try write.commit()
        // Token creation commits transactions of its own first, so only "the latest one" is exact.
        #expect(committed == db.lastCommittedTxID)
        let second = try db.beginTransaction(mode: .write)
        _ = try second.createNode(labels: ["A"], properties: [:])
        #expect(try second.commit() == TxID(committed!.rawValue + 1))
        let read = try db.beginTransaction(mode: .read)
        _ = try read.countNodes(label: nil)
        #expect(try read.commit() == nil)
        #expect(try db.beginTransaction(mode: .write).commit() == nil)
        #expect(db.lastCommittedTxID == TxID(committed!.rawValue + 1))
    }

    @Test("db.read counts a read that returns as committed and one that throws as rolled back")
    func readCounters() throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        let db = try GraphDatabase(directory: dir.path)
        defer { try? db.close() }
        let before = db.counters.snapshot
        _ = try db.read { tx in try tx.countNodes(label: nil) }
        struct Failure: Error {}
        #expect(throws: Failure.self) { try db.read { _ in throw Failure() } }
        let after = db.counters.snapshot
        #expect(after.committedRead - before.committedRead == 1)
        #expect(after.rolledBackRead - before.rolledBackRead == 1)
        #expect(after.activeRead == 0)
    }

    @Test("rollback on throw leaves nothing behind and frees the ids")
    func rollback() throws {
        struct Boom: Error {}
        let dir = TempDirectory()
        defer { dir.cleanup() }
        let db = try GraphDatabase(directory: dir.path)
        defer { try? db.close() }
        var created: NodeID?
        #expect(throws: Boom.self) {
            try db.write { (tx) throws in
                created = try tx.createNode(labels: ["A"])
                throw Boom()
            }
        }
        #expect(try db.read { try $0.nodeExists(created!) } == false)
        #expect(try db.read { try $0.countNodes(label: nil) } == 0)
        let again = try db.write { try $0.createNode(labels: []) }
        #expect(again == created)
    }

    @Test("deleting a node that still has relationships fails at commit with ConstraintValidationFailed")
    func deleteNodeWithRelationships() throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        let db = try GraphDatabase(directory: dir.path)
        defer { try? db.close() }
        let (a, b) = try db.write { (tx) throws in
            let a = try tx.createNode(labels: [])
            let b = try tx.createNode(labels: [])
            try tx.createRelationship(from: a, to: b, type: "R")
            return (a, b)
        }
        expectError(.constraintValidationFailed) { try db.write { try $0.deleteNode(a) } }
        #expect(try db.read { try $0.nodeExists(a) })
        try db.write { (tx) throws in
            for rel in try tx.relationships(of: a) { try tx.deleteRelationship(rel.id) }
            try tx.deleteNode(a)
        }
        try db.read { (tx) throws in
            #expect(try !tx.nodeExists(a))
            #expect(try tx.relationships(of: b).isEmpty)
            #expect(try tx.countRelationships(startLabel: nil, type: nil, endLabel: nil) == 0)
        }
    }

    @Test("relationship chains stay correct through inserts and deletes in the middle, self-loops included")
    func chains() throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        var config = KernelConfiguration(pageCacheSizeBytes: 1 << 20)
        config.denseNodeThreshold = 0  // never dense: exercise plain chains
        let db = try GraphDatabase(directory: dir.path, configuration: config)
        defer { try? db.close() }
        let (hub, others, rels) = try db.write { (tx) throws in
            let hub = try tx.createNode(labels: [])
            var others: [NodeID] = []
            var rels: [RelationshipID] = []
            for i in 0..<10 {
                let other = try tx.createNode(labels: [])
                others.append(other)
                rels.append(
                    i % 2 == 0
                        ? try tx.createRelationship(from: hub, to: other, type: "OUT")
                        : try tx.createRelationship(from: other, to: hub, type: "IN"))
            }
            rels.append(try tx.createRelationship(from: hub, to: hub, type: "LOOP"))
            return (hub, others, rels)
        }
        try db.write { (tx) throws in
            try tx.deleteRelationship(rels[3])
            try tx.deleteRelationship(rels[0])
            try tx.deleteRelationship(rels[10])
        }
        try db.read { (tx) throws in
            let remaining = Set(try tx.relationships(of: hub).map(\.id))
            #expect(remaining == Set(rels).subtracting([rels[3], rels[0], rels[10]]))
            #expect(try tx.degree(of: hub, direction: .outgoing, types: []) == 4)
            #expect(try tx.degree(of: hub, direction: .incoming, types: []) == 4)
            #expect(try tx.relationships(of: others[3]).isEmpty)
            #expect(try tx.relationships(of: others[5]).count == 1)
        }
        let loop = try db.write { (tx) throws in try tx.createRelationship(from: hub, to: hub, type: "LOOP") }
        try db.read { (tx) throws in
            #expect(try tx.relationships(of: hub, direction: .both, types: ["LOOP"]).map(\.id) == [loop])
            #expect(try tx.relationships(of: hub, direction: .outgoing, types: ["LOOP"]).map(\.id) == [loop])
            #expect(try tx.relationships(of: hub, direction: .incoming, types: ["LOOP"]).map(\.id) == [loop])
        }
        let report = try ConsistencyChecker(database: db).check()
        #expect(report.isConsistent, "\(report.inconsistencies)")
    }

    @Test("a node past the dense threshold gets relationship groups and expands by type and direction")
    func denseNodes() throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        var config = KernelConfiguration(pageCacheSizeBytes: 1 << 20)
        config.denseNodeThreshold = 10
        var db = try GraphDatabase(directory: dir.path, configuration: config)
        let hub = try db.write { try $0.createNode(labels: ["Hub"]) }
        var expected: [String: Int] = [:]
        for batch in 0..<4 {
            try db.write { (tx) throws in
                for i in 0..<15 {
                    let other = try tx.createNode(labels: [])
                    let type = ["A", "B", "C"][(batch + i) % 3]
                    if i % 4 == 0 {
                        try tx.createRelationship(from: other, to: hub, type: type)
                        expected["in-" + type, default: 0] += 1
                    } else {
                        try tx.createRelationship(from: hub, to: other, type: type)
                        expected["out-" + type, default: 0] += 1
                    }
                }
                if batch == 2 {
                    try tx.createRelationship(from: hub, to: hub, type: "A")
                    expected["loop-A", default: 0] += 1
                }
            }
        }
        try db.close()
        db = try GraphDatabase(directory: dir.path, configuration: config)
        defer { try? db.close() }
        #expect(try db.stores.node(hub.rawValue).dense)
        try db.read { (tx) throws in
            for type in ["A", "B", "C"] {
                let t = try #require(try tx.relationshipTypeToken(type))
                let loops = expected["loop-" + type] ?? 0
                #expect(try tx.degree(of: hub, direction: .outgoing, types: [t]) == expected["out-" + type]! + loops)
                #expect(try tx.degree(of: hub, direction: .incoming, types: [t]) == expected["in-" + type]! + loops)
                #expect(
                    try tx.degree(of: hub, direction: .both, types: [t])
                        == expected["out-" + type]! + expected["in-" + type]! + loops)
            }
            #expect(try tx.degree(of: hub, direction: .both, types: []) == 61)
        }
        try db.write { (tx) throws in
            let rels = try tx.relationships(of: hub, direction: .outgoing, types: ["B"])
            for rel in rels.prefix(5) { try tx.deleteRelationship(rel.id) }
        }
        try db.read { (tx) throws in
            let t = try #require(try tx.relationshipTypeToken("B"))
            #expect(try tx.degree(of: hub, direction: .outgoing, types: [t]) == expected["out-B"]! - 5)
        }
        let report = try ConsistencyChecker(database: db).check()
        #expect(report.isConsistent, "\(report.inconsistencies)")
    }

    @Test("properties are set, overwritten, removed, and spill across several property records")
    func properties() throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        let db = try GraphDatabase(directory: dir.path)
        defer { try? db.close() }
        let initial = Dictionary(uniqueKeysWithValues: (0..<10).map { ("k\($0)", Value.integer(Int64($0))) })
        let node = try db.write { (tx) throws in try tx.createNode(labels: [], properties: initial) }
        try db.write { (tx) throws in
            try tx.setNodeProperty(node, "k3", .string("now a long string value that needs dynamic records"))
            try tx.setNodeProperty(node, "k5", .null)
            try tx.setNodeProperty(node, "list", .list([.float(1.5), .float(2.5)]))
        }
        try db.read { (tx) throws in
            let map = try tx.nodePropertyMap(node)
            #expect(map.count == 10)
            #expect(map["k3"] == .string("now a long string value that needs dynamic records"))
            #expect(map["k5"] == nil)
            #expect(map["k9"] == .integer(9))
            #expect(map["list"] == .list([.float(1.5), .float(2.5)]))
        }
        expectError(.typeError) { try db.write { try $0.setNodeProperty(node, "bad", .map(["a": .integer(1)])) } }
        let report = try ConsistencyChecker(database: db).check()
        #expect(report.isConsistent, "\(report.inconsistencies)")
    }

    @Test("ids of deleted nodes are reused, also after a restart")
    func idReuse() throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        var db = try GraphDatabase(directory: dir.path)
        let nodes = try db.write { (tx) throws in try (0..<5).map { _ in try tx.createNode(labels: []) } }
        try db.write { (tx) throws in
            try tx.deleteNode(nodes[1])
            try tx.deleteNode(nodes[3])
        }
        try db.close()
        db = try GraphDatabase(directory: dir.path)
        defer { try? db.close() }
        let reused = try db.write { (tx) throws in try (0..<3).map { _ in try tx.createNode(labels: []) } }
        #expect(Set(reused.prefix(2)) == [nodes[1], nodes[3]])
        #expect(reused[2] == NodeID(5))
    }

    @Test("a deleted node's id is not reused while a transaction that began before the delete is open")
    func idReuseWaitsForOlderTransactions() throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        let db = try GraphDatabase(directory: dir.path)
        defer { try? db.close() }
        let label = "Person"
        let nodes = try db.write { (tx) throws in try (0..<3).map { _ in try tx.createNode(labels: [label]) } }
        // A reader that has seen the node (e.g. a label scan's snapshot) and will read it again later.
        let reader = try db.beginTransaction(mode: .read)
        #expect(try reader.nodeExists(nodes[1]))
        try db.write { (tx) throws in try tx.deleteNode(nodes[1]) }
        // A node created meanwhile must not take the deleted node's id: the reader would find it under that id.
        let created = try db.write { (tx) throws in try tx.createNode(labels: []) }
        #expect(created != nodes[1])
        #expect(try !reader.nodeExists(nodes[1]))
        reader.rollback()
        // Once every older transaction has closed, the id is reused as before.
        let later = try db.write { (tx) throws in try tx.createNode(labels: []) }
        #expect(later == nodes[1])
    }

    @Test("operations after a time-out or terminate() throw the matching status")
    func timeoutAndTerminate() throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        let db = try GraphDatabase(directory: dir.path)
        defer { try? db.close() }
        let tx = try db.beginTransaction(mode: .read, timeout: .milliseconds(1))
        usleepMillis(5)
        expectError(.transactionTimedOut) { _ = try tx.allLabels() }
        let tx2 = try db.beginTransaction(mode: .read)
        tx2.terminate()
        expectError(.transactionTerminated) { _ = try tx2.countNodes(label: nil) }
        let readOnly = try db.beginTransaction(mode: .read)
        expectError(.accessMode) { _ = try readOnly.createNode(labels: []) }
    }
}
