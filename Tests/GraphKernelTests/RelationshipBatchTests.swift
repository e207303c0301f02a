import Foundation
import GraphValues
import Testing

@testable import GraphKernel

/// The commit's grouped splicing of created relationships (`CommitPreparer.linkCreatedRelationships`) and the
/// end-node locks taken at commit (`KernelTransaction.lockRelationshipEnds`).
@Suite("Relationship batches: grouped chain splicing and end-node locks at commit")
struct RelationshipBatchTests {
    /// A model of the graph's relationships: id → (start, end).
    typealias Model = [Int64: (Int64, Int64)]

    func open(_ fs: SimulatedFileSystem, threshold: Int = 8) throws -> GraphDatabase {
        var config = KernelConfiguration(pageCacheSizeBytes: 1 << 20, fileSystem: fs)
        config.denseNodeThreshold = threshold
        return try GraphDatabase(directory: "/db", configuration: config)
    }

    /// Every node's relationships (both directions, all types) and degree agree with `model`.
    func expectMatches(_ tx: KernelTransaction, _ nodes: [NodeID], _ model: Model,
                       sourceLocation: SourceLocation = #_sourceLocation) throws {
        for node in nodes {
            let expected = Set(model.filter { $0.value.0 == node.rawValue || $0.value.1 == node.rawValue }.keys)
            let seen = try tx.relationships(of: node).map(\.id.rawValue)
            #expect(Set(seen) == expected, "node \(node)", sourceLocation: sourceLocation)
            #expect(seen.count == expected.count, "node \(node) lists a relationship twice", sourceLocation: sourceLocation)
            #expect(try tx.degree(of: node, direction: .both, types: []) == expected.count, sourceLocation: sourceLocation)
            let out = model.values.filter { $0.0 == node.rawValue }.count
            #expect(try tx.degree(of: node, direction: .outgoing, types: []) == out, sourceLocation: sourceLocation)
        }
        #expect(try tx.countRelationships(startLabel: nil, type: nil, endLabel: nil) == model.count,
                sourceLocation: sourceLocation)
    }

    @Test("a batch over sparse, dense and newly dense nodes, with loops and a deleted one, links every chain")
    func batchAcrossDenseThreshold() throws {
        let fs = SimulatedFileSystem()
        var model: Model = [:]
        var nodes: [NodeID] = []
        do {
            let db = try open(fs, threshold: 20)
            defer { try? db.close() }
            // Node 0 already dense, node 1 just below the threshold, nodes 2… sparse with a few relationships.
            try db.write { (tx) throws in
                nodes = try (0..<20).map { _ in try tx.createNode(labels: ["N"]) }
                for (from, count) in [(0, 25), (1, 19), (2, 2), (3, 1)] {
                    for i in 0..<count {
                        let to = nodes[2 + (from + i) % 17]
                        let rel = try tx.createRelationship(from: nodes[from], to: to, type: i % 2 == 0 ? "A" : "B")
                        model[rel.rawValue] = (nodes[from].rawValue, to.rawValue)
                    }
                }
            }
            try db.write { (tx) throws in
                var rng = TestRandom(seed: 7)
                var createdHere: [RelationshipID] = []
                for i in 0..<60 {
                    // Node 1 crosses the threshold in this batch, node 0 is dense, the rest stay sparse (node 19
                    // gets its very first relationships); every seventh is a loop.
                    let from = i % 4 == 0 ? nodes[1] : nodes[2 + rng.below(18)]
                    let to = i % 7 == 0 ? from : (i % 5 == 0 ? nodes[0] : nodes[2 + rng.below(18)])
                    let rel = try tx.createRelationship(from: from, to: to, type: i % 3 == 0 ? "B" : "A")
                    model[rel.rawValue] = (from.rawValue, to.rawValue)
                    createdHere.append(rel)
                }
                // Deleting a relationship created in the same transaction takes it out of the batch.
                try tx.deleteRelationship(createdHere[10])
                model[createdHere[10].rawValue] = nil
                // Reads in the transaction see the batch (the overlay), before it is spliced at commit.
                try expectMatches(tx, nodes, model)
            }
            try db.read { (tx) throws in try expectMatches(tx, nodes, model) }
            #expect(try ConsistencyChecker(database: db).check().isConsistent)
            // Deleting from the middle and the ends of the spliced chains follows their prev pointers.
            try db.write { (tx) throws in
                for id in model.keys.sorted().enumerated().filter({ $0.offset % 5 == 0 }).map(\.element) {
                    try tx.deleteRelationship(RelationshipID(id))
                    model[id] = nil
                }
            }
            try db.read { (tx) throws in try expectMatches(tx, nodes, model) }
            let report = try ConsistencyChecker(database: db).check()
            #expect(report.isConsistent, "\(report)")
        }
        // Recovery replays the same record commands.
        let reopened = try open(fs)
        defer { try? reopened.close() }
        try reopened.read { (tx) throws in try expectMatches(tx, nodes, model) }
        #expect(try ConsistencyChecker(database: reopened).check().isConsistent)
    }

    @Test("end-node locks are taken at commit: an end another transaction locks makes the commit wait, one deleted meanwhile fails it")
    func endNodeLocksAtCommit() throws {
        let fs = SimulatedFileSystem()
        let db = try open(fs)
        defer { try? db.close() }
        let (a, b, c) = try db.write { (tx) throws in
            (try tx.createNode(labels: ["P"]), try tx.createNode(labels: ["P"]), try tx.createNode(labels: ["P"]))
        }
        // Another transaction holds b exclusively for longer than the creator's time-out: the creation itself does
        // not wait, its commit does, and fails with the lock time-out, committing nothing.
        let type = try db.write { (tx) throws in try tx.getOrCreateRelationshipTypeToken("R") }
        let holder = try db.beginTransaction()
        try holder.acquireExclusiveLock(b)
        // Long enough that a loaded machine still creates the relationship before the time-out: only the commit's
        // lock wait may run into it.
        let creator = try db.beginTransaction(timeout: .seconds(2))
        _ = try creator.createRelationship(from: a, to: b, type: type)
        #expect(db.locks.locks(heldBy: creator.lockOwner)[.node(a)] == nil, "taken at commit, not before")
        expectError(.lockAcquisitionTimeout) { try creator.commit() }
        holder.rollback()
        try db.read { (tx) throws in #expect(try tx.degree(of: a, direction: .both, types: []) == 0) }

        // An end deleted by a transaction that commits before the creator's commit: the creator's commit fails
        // (the node is gone) instead of linking a relationship into a deleted node.
        let second = try db.beginTransaction()
        _ = try second.createRelationship(from: a, to: c, type: type)
        _ = try second.createRelationship(from: c, to: c, type: type)
        try db.write { (tx) throws in try tx.deleteNode(c) }
        expectError(.entityNotFound) { try second.commit() }

        // After a commit the creator holds shared locks on both ends, until it ends (here: with the commit).
        let third = try db.beginTransaction()
        _ = try third.createRelationship(from: a, to: b, type: type)
        try third.commit()
        #expect(db.locks.locks(heldBy: third.lockOwner).isEmpty)
        try db.read { (tx) throws in #expect(try tx.degree(of: b, direction: .both, types: []) == 1) }
        #expect(try ConsistencyChecker(database: db).check().isConsistent)
    }

    @Test("concurrent batches creating and deleting relationships on the same nodes lose no chain link")
    func concurrentBatches() throws {
        let fs = SimulatedFileSystem()
        let db = try open(fs, threshold: 50)
        defer { try? db.close() }
        let nodes = try db.write { (tx) throws in try (0..<120).map { _ in try tx.createNode(labels: ["P"]) } }
        let writers = 4
        let rounds = ProcessInfo.processInfo.environment["TRELLIS_TEST_LONG"] == nil ? 12 : 120
        let net = Counter()
        let failures = Counter()
        let group = DispatchGroup()
        for w in 0..<writers {
            group.enter()
            Thread {
                defer { group.leave() }
                var rng = TestRandom(seed: UInt64(w) + 1)
                // This writer's committed relationships: it deletes only its own, so deletes never race (a
                // relationship deleted by two transactions is a client error, not what is tested here).
                var own: [RelationshipID] = []
                for round in 0..<rounds {
                    var attempts = 0
                    while attempts < 20 {
                        attempts += 1
                        do {
                            var delta = 0
                            var createdHere: [RelationshipID] = []
                            var deletedHere = 0
                            try db.write { (tx) throws in
                                delta = 0
                                createdHere = []
                                deletedHere = 0
                                // A batch of 60: node 0 (dense soon) in about a third of them, the others around the threshold.
                                for _ in 0..<60 {
                                    let from = nodes[rng.next() % 3 == 0 ? 0 : rng.below(120)]
                                    let to = nodes[rng.below(120)]
                                    // Mostly one type per round; some of the other, so a dense node's batch
                                    // joins two groups' chains (and creates a group) in one commit.
                                    let type = (round + (rng.below(4) == 0 ? 1 : 0)) % 2 == 0 ? "A" : "B"
                                    createdHere.append(try tx.createRelationship(from: from, to: to, type: type))
                                    delta += 1
                                }
                                // Some committed relationships go away in the same transaction as a batch.
                                if round % 3 == 2 {
                                    for rel in own.suffix(3) {
                                        try tx.deleteRelationship(rel)
                                        delta -= 1
                                        deletedHere += 1
                                    }
                                }
                            }
                            own.removeLast(deletedHere)
                            own.append(contentsOf: createdHere)
                            net.add(delta)
                            break
                        } catch let error as DatabaseError where error.code.isTransient {
                            failures.add(1)
                        } catch {
                            failures.add(1000)
                            Issue.record("writer \(w): \(error)")
                            break
                        }
                    }
                }
            }.start()
        }
        group.wait()
        #expect(failures.value < 1000, "a writer failed with a non-transient error")
        try db.read { (tx) throws in
            #expect(try tx.countRelationships(startLabel: nil, type: nil, endLabel: nil) == net.value)
            var ends = 0
            var listed = Set<Int64>()
            for node in nodes {
                ends += try tx.degree(of: node, direction: .both, types: [])
                for rel in try tx.relationships(of: node) { listed.insert(rel.id.rawValue) }
            }
            #expect(listed.count == net.value)
            let loops = try nodes.reduce(0) { sum, node in
                try sum + tx.relationships(of: node).filter { $0.startNode == $0.endNode }.count
            }
            #expect(ends == 2 * net.value - loops)
        }
        let report = try ConsistencyChecker(database: db).check()
        #expect(report.isConsistent, "\(report)")
    }

    @Test("counts of created relationships summed at commit: label changes in the same transaction, many labels, loops, new types on dense nodes")
    func countsSummedAtCommit() throws {
        let fs = SimulatedFileSystem()
        var model: Model = [:]
        var nodes: [NodeID] = []
        do {
            let db = try open(fs, threshold: 6)
            defer { try? db.close() }
            let labels = try db.write { (tx) throws in
                try ["A", "B", "C", "D", "E"].map { try tx.getOrCreateLabelToken($0) }
            }
            // Node 0 dense (type R only), node 1 with more labels than fit inline, the rest one or two labels.
            try db.write { (tx) throws in
                nodes = try (0..<12).map { i in
                    try tx.createNode(labels: i == 1 ? ["A", "B", "C", "D", "E"] : (i % 2 == 0 ? ["A"] : ["B", "C"]))
                }
                for i in 0..<8 {
                    let rel = try tx.createRelationship(from: nodes[0], to: nodes[2 + i], type: "R")
                    model[rel.rawValue] = (nodes[0].rawValue, nodes[2 + i].rawValue)
                }
            }
            // Counts from a full recount of the records: the consistency checker compares the counts store with it.
            func expectCounted(_ db: GraphDatabase, sourceLocation: SourceLocation = #_sourceLocation) throws {
                let report = try ConsistencyChecker(database: db).check()
                #expect(report.isConsistent, "\(report)", sourceLocation: sourceLocation)
            }
            // A batch whose ends change labels in the same transaction (before and after creating on them), with a
            // created end, a loop on the dense node, and new types S and T on the dense node.
            try db.write { (tx) throws in
                let fresh = try tx.createNode(labels: ["D"])
                nodes.append(fresh)
                try tx.addLabel(nodes[3], labels[3])
                for (i, (from, to, type)) in [
                    (0, 3, "S"), (3, 0, "T"), (0, 0, "S"), (12, 4, "R"), (4, 12, "T"), (1, 5, "R"), (5, 1, "S"),
                    (1, 1, "R"), (0, 1, "T"), (6, 7, "R"), (0, 12, "R"), (7, 6, "S"),
                ].enumerated() {
                    let rel = try tx.createRelationship(from: nodes[from], to: nodes[to], type: type)
                    model[rel.rawValue] = (nodes[from].rawValue, nodes[to].rawValue)
                    if i == 5 { try tx.removeLabel(nodes[4], labels[0]) }
                }
                try tx.addLabel(nodes[6], labels[4])
                try tx.removeLabel(nodes[7], labels[1])
            }
            try db.read { (tx) throws in
                try expectMatches(tx, nodes, model)
                #expect(try tx.countRelationships(startLabel: labels[3], type: nil, endLabel: nil) == 4)
                #expect(try tx.countRelationships(startLabel: nil, type: nil, endLabel: labels[4]) == 5)
            }
            try expectCounted(db)
            // Only relationships on the many-label node: its labels are read from the store at apply.
            try db.write { (tx) throws in
                for _ in 0..<3 {
                    let rel = try tx.createRelationship(from: nodes[1], to: nodes[9], type: "R")
                    model[rel.rawValue] = (nodes[1].rawValue, nodes[9].rawValue)
                }
            }
            try db.read { (tx) throws in try expectMatches(tx, nodes, model) }
            try expectCounted(db)
        }
        // Recovery counts from the records; the same counts.
        let reopened = try open(fs, threshold: 6)
        defer { try? reopened.close() }
        try reopened.read { (tx) throws in try expectMatches(tx, nodes, model) }
        #expect(try ConsistencyChecker(database: reopened).check().isConsistent)
    }

    @Test("created relationships' properties: repeated keys and nulls in the list, changed later in the transaction, read before and after commit")
    func createdRelationshipProperties() throws {
        let fs = SimulatedFileSystem()
        let db = try open(fs)
        defer { try? db.close() }
        let (a, b) = try db.write { (tx) throws in (try tx.createNode(labels: ["P"]), try tx.createNode(labels: ["P"])) }
        let (r1, r2, r3) = try db.write { (tx) throws -> (RelationshipID, RelationshipID, RelationshipID) in
            let type = try tx.getOrCreateRelationshipTypeToken("R")
            let (k1, k2, k3) = (
                try tx.getOrCreatePropertyKeyToken("k1"), try tx.getOrCreatePropertyKeyToken("k2"),
                try tx.getOrCreatePropertyKeyToken("k3")
            )
            // Later values win; a null removes; keys out of order.
            let r1 = try tx.createRelationship(
                from: a, to: b, type: type,
                properties: [(k3, .integer(3)), (k1, .integer(1)), (k3, .integer(33)), (k2, .null), (k1, .null)])
            let r2 = try tx.createRelationship(
                from: b, to: a, type: type, properties: [(k2, .string(String(repeating: "x", count: 300)))])
            #expect(try tx.relationshipProperty(r1, k3) == .integer(33))
            #expect(try tx.relationshipProperty(r1, k1) == .null)
            // Created after the batch was moved into the tables by the reads above: both forms at commit.
            let r3 = try tx.createRelationship(from: a, to: a, type: type, properties: [(k1, .integer(7))])
            try tx.setRelationshipProperty(r2, k1, .integer(2))
            return (r1, r2, r3)
        }
        try db.read { (tx) throws in
            let k1 = try tx.getOrCreatePropertyKeyToken("k1"), k2 = try tx.getOrCreatePropertyKeyToken("k2")
            let k3 = try tx.getOrCreatePropertyKeyToken("k3")
            #expect(try tx.relationshipProperties(r1).map(\.0).sorted() == [k3])
            #expect(try tx.relationshipProperty(r1, k3) == .integer(33))
            #expect(try tx.relationshipProperty(r2, k2) == .string(String(repeating: "x", count: 300)))
            #expect(try tx.relationshipProperty(r2, k1) == .integer(2))
            #expect(try tx.relationshipProperty(r3, k1) == .integer(7))
            #expect(try tx.degree(of: a, direction: .both, types: []) == 3)
        }
        let report = try ConsistencyChecker(database: db).check()
        #expect(report.isConsistent, "\(report)")
    }
}
