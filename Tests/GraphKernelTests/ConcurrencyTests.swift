import Foundation
import GraphValues
import Testing

@testable import GraphKernel

@Suite("Concurrent transactions")
struct ConcurrencyTests {
    @Test("concurrent writers and readers leave a consistent store with every committed change")
    func writersAndReaders() throws {
        let fs = SimulatedFileSystem()
        var config = KernelConfiguration(pageCacheSizeBytes: 32 * 8192, fileSystem: fs)
        config.denseNodeThreshold = 8
        let db = try GraphDatabase(directory: "/db", configuration: config)
        defer { try? db.close() }
        let hubs = try db.write { (tx) throws in
            try (0..<4).map { try tx.createNode(labels: ["Hub"], properties: ["i": .integer(Int64($0))]) }
        }
        let writers = 4
        let rounds = ProcessInfo.processInfo.environment["TRELLIS_TEST_LONG"] == nil ? 40 : 400
        let created = Counter()
        let leaves = Counter()
        let failures = Counter()
        let stop = Counter()
        let group = DispatchGroup()
        for w in 0..<writers {
            group.enter()
            Thread {
                defer { group.leave() }
                var rng = SystemRandomNumberGenerator()
                for r in 0..<rounds {
                    var attempts = 0
                    while attempts < 20 {
                        attempts += 1
                        do {
                            var deleted = 0
                            try db.write { (tx) throws in
                                deleted = 0
                                let node = try tx.createNode(labels: ["Leaf"], properties: ["w": .integer(Int64(w)), "r": .integer(Int64(r))])
                                // Two hubs in random order: lock-order conflicts between writers are expected.
                                let a = hubs[Int.random(in: 0..<hubs.count, using: &rng)]
                                let b = hubs[Int.random(in: 0..<hubs.count, using: &rng)]
                                try tx.createRelationship(from: a, to: node, type: "HAS")
                                try tx.createRelationship(from: node, to: b, type: "BACK")
                                try tx.setNodeProperty(a, "touched", .integer(Int64(r)))
                                try tx.setNodeProperty(b, "touched", .integer(Int64(r)))
                                if r % 5 == 4 {
                                    let rels = try tx.relationships(of: a, direction: .outgoing, types: ["HAS"])
                                    if let victim = rels.last, victim.endNode != node {
                                        try tx.deleteRelationship(victim.id)
                                        deleted = 1
                                    }
                                }
                            }
                            created.add(2 - deleted)
                            leaves.add(1)
                            break
                        } catch let error as DatabaseError where error.code.isTransient {
                            failures.add(1)
                        } catch {
                            failures.add(1000)
                            break
                        }
                    }
                }
            }.start()
        }
        let readerDone = DispatchGroup()
        for _ in 0..<2 {
            readerDone.enter()
            Thread {
                defer { readerDone.leave() }
                while stop.value == 0 {
                    _ = try? db.read { (tx) throws in
                        for hub in hubs { _ = try tx.degree(of: hub, direction: .both, types: []) }
                        _ = try tx.countRelationships(startLabel: nil, type: nil, endLabel: nil)
                        _ = Array(try tx.nodes(withLabel: try tx.labelToken("Leaf") ?? -1))
                    }
                }
            }.start()
        }
        group.wait()
        stop.add(1)
        readerDone.wait()
        #expect(failures.value < 1000, "a writer failed with a non-transient error")
        try db.read { (tx) throws in
            // Writers give up on a round after 20 transient failures (deadlocks), so count what committed.
            #expect(leaves.value > writers * rounds / 2)
            #expect(try tx.countNodes(label: tx.labelToken("Leaf")) == leaves.value)
            #expect(Array(try tx.nodes(withLabel: try #require(try tx.labelToken("Leaf")))).count == leaves.value)
            #expect(try tx.countRelationships(startLabel: nil, type: nil, endLabel: nil) == created.value)
            var total = 0
            for hub in hubs { total += try tx.degree(of: hub, direction: .both, types: []) }
            #expect(total == created.value)
        }
        let report = try ConsistencyChecker(database: db).check()
        #expect(report.isConsistent, "\(report)")
    }
}

final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func add(_ n: Int) { lock.withLock { count += n } }
    var value: Int { lock.withLock { count } }
}
