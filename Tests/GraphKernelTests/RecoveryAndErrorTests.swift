import Foundation
import GraphValues
import Testing

@testable import GraphKernel

@Suite("Recovery, store errors and disk faults")
struct RecoveryAndErrorTests {
    /// Writes a mixed workload; returns what must be visible afterwards.
    func workload(_ db: GraphDatabase, rounds: Int, start: Int = 0) throws -> [Int: NodeID] {
        var nodes: [Int: NodeID] = [:]
        for i in start..<(start + rounds) {
            let node = try db.write { (tx) throws in
                let node = try tx.createNode(
                    labels: ["Item"], properties: ["n": .integer(Int64(i)), "text": .string(String(repeating: "x", count: i % 200))])
                if let previous = nodes[i - 1] {
                    try tx.createRelationship(from: previous, to: node, type: "NEXT", properties: ["i": .integer(Int64(i))])
                }
                return node
            }
            nodes[i] = node
        }
        return nodes
    }

    @Test("after a crash that loses every unsynced page, reopening replays the log and loses no commit")
    func crashRecovery() throws {
        let fs = SimulatedFileSystem()
        // A cache of 16 pages: most store pages are evicted (written, unsynced) or lost at the crash.
        let config = KernelConfiguration(pageCacheSizeBytes: 16 * 8192, fileSystem: fs)
        var db = try GraphDatabase(directory: "/db", configuration: config)
        let first = try workload(db, rounds: 150)
        try db.checkpoint()
        let second = try workload(db, rounds: 150, start: 150)
        try db.write { (tx) throws in try tx.createIndex(on: "Item", "n") }
        try db.write { (tx) throws in try tx.setNodeProperty(first[3]!, "n", .integer(-3)) }
        let committed = db.lastCommittedTxID
        db.abandonForCrashTest()
        fs.crash()

        db = try GraphDatabase(directory: "/db", configuration: config)
        defer { try? db.close() }
        #expect(db.recoveredTransactionCount > 150)
        #expect(db.lastCommittedTxID == committed)
        try db.read { (tx) throws in
            #expect(try tx.countNodes(label: tx.labelToken("Item")) == 300)
            #expect(try tx.nodeProperty(second[299]!, "n") == .integer(299))
            #expect(try tx.nodeProperty(first[3]!, "n") == .integer(-3))
            #expect(try tx.relationships(of: second[200]!, direction: .both).count == 2)
            #expect(try tx.findNodes("Item", "n", equals: .integer(-3)) == [first[3]!])
            #expect(try tx.findNodes("Item", "n", equals: .integer(3)).isEmpty)
        }
        let report = try ConsistencyChecker(database: db).check()
        #expect(report.isConsistent, "\(report)")
        // New commits continue the chain after recovery.
        _ = try workload(db, rounds: 5, start: 300)
        #expect(db.lastCommittedTxID.rawValue == committed.rawValue + 5)
    }

    @Test("crashing again after a recovery loses nothing either")
    func repeatedCrash() throws {
        let fs = SimulatedFileSystem()
        let config = KernelConfiguration(pageCacheSizeBytes: 16 * 8192, fileSystem: fs)
        var db = try GraphDatabase(directory: "/db", configuration: config)
        _ = try workload(db, rounds: 60)
        db.abandonForCrashTest()
        fs.crash()
        db = try GraphDatabase(directory: "/db", configuration: config)
        _ = try workload(db, rounds: 20, start: 60)
        db.abandonForCrashTest()
        fs.crash()
        db = try GraphDatabase(directory: "/db", configuration: config)
        defer { try? db.close() }
        #expect(try db.read { try $0.countNodes(label: nil) } == 80)
        #expect(try ConsistencyChecker(database: db).check().isConsistent)
    }

    @Test("disk full during a commit fails that transaction cleanly; the store works once space returns")
    func diskFull() throws {
        let fs = SimulatedFileSystem()
        let config = KernelConfiguration(pageCacheSizeBytes: 1 << 20, fileSystem: fs)
        let db = try GraphDatabase(directory: "/db", configuration: config)
        defer { try? db.close() }
        _ = try workload(db, rounds: 10)
        // The label and property key exist beforehand: token commits are small enough for the log's preallocated
        // region and would succeed on a full disk.
        try db.write { (tx) throws in
            try tx.deleteNode(try tx.createNode(labels: ["Big"], properties: ["blob": .string("y")]))
        }
        let before = db.lastCommittedTxID
        fs.capacityBytes = fs.usedBytes + 64
        expectError(.transactionCommitFailed) {
            // Larger than the log's preallocated zero region (1 MiB in a new file), which a commit needs no new
            // space for.
            _ = try db.write { (tx) throws in
                try tx.createNode(
                    labels: ["Big"], properties: ["blob": .string(String(repeating: "y", count: 1_500_000))])
            }
        }
        #expect(db.lastCommittedTxID == before)
        #expect(try db.read { try $0.nodes(withLabel: "Big") }.isEmpty)
        fs.capacityBytes = nil
        let node = try db.write { (tx) throws in
            try tx.createNode(labels: ["Big"], properties: ["blob": .string(String(repeating: "y", count: 5000))])
        }
        #expect(try db.read { try $0.nodes(withLabel: "Big") } == [node])
        #expect(try ConsistencyChecker(database: db).check().isConsistent)
    }

    @Test("a directory that is not a Trellis store is refused and left untouched")
    func foreignDirectory() throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        try FileManager.default.createDirectory(atPath: dir.path, withIntermediateDirectories: true)
        try Data("hello".utf8).write(to: URL(fileURLWithPath: dir.path + "/notes.txt"))
        do {
            _ = try GraphDatabase(directory: dir.path)
            Issue.record("opened a foreign directory")
        } catch let error as DatabaseError {
            #expect(error.message.contains("not a Trellis store"))
            #expect(error.message.contains(dir.path))
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["notes.txt"])
    }

    @Test("a store of a newer format is refused with a clear message")
    func newerFormat() throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        try GraphDatabase(directory: dir.path).close()
        var meta = try StoreMetadata.decode(
            Array(try Data(contentsOf: URL(fileURLWithPath: dir.path + "/neostore"))), path: dir.path)
        meta.formatVersion = 99
        try Data(meta.encode()).write(to: URL(fileURLWithPath: dir.path + "/neostore"))
        let before = try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
        do {
            _ = try GraphDatabase(directory: dir.path)
            Issue.record("opened a newer store")
        } catch let error as DatabaseError {
            #expect(error.message.contains("newer"))
            #expect(error.message.contains("99"))
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() == before)
    }

    @Test("a second open of a store in use fails naming the path")
    func storeLock() throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        let db = try GraphDatabase(directory: dir.path)
        do {
            _ = try GraphDatabase(directory: dir.path)
            Issue.record("second open succeeded")
        } catch let error as DatabaseError {
            #expect(error.code == .databaseUnavailable)
            #expect(error.message.contains(dir.path))
        }
        try db.close()
        try GraphDatabase(directory: dir.path).close()
    }

    @Test("a transaction log that belongs to another store is refused")
    func foreignLog() throws {
        let a = TempDirectory("a")
        let b = TempDirectory("b")
        defer {
            a.cleanup()
            b.cleanup()
        }
        let dbA = try GraphDatabase(directory: a.path)
        _ = try workload(dbA, rounds: 3)
        try dbA.close()
        let dbB = try GraphDatabase(directory: b.path)
        _ = try workload(dbB, rounds: 3)
        try dbB.close()
        let fm = FileManager.default
        for name in try fm.contentsOfDirectory(atPath: a.path) where name.hasPrefix("neostore.transaction.db") {
            try fm.removeItem(atPath: a.path + "/" + name)
        }
        for name in try fm.contentsOfDirectory(atPath: b.path) where name.hasPrefix("neostore.transaction.db") {
            try fm.copyItem(atPath: b.path + "/" + name, toPath: a.path + "/" + name)
        }
        #expect(throws: (any Error).self) { _ = try GraphDatabase(directory: a.path) }
    }

    @Test("a page cache far smaller than the store evicts and still returns every record")
    func pageCacheEviction() throws {
        let fs = SimulatedFileSystem()
        let config = KernelConfiguration(pageCacheSizeBytes: 16 * 8192, fileSystem: fs)
        let db = try GraphDatabase(directory: "/db", configuration: config)
        defer { try? db.close() }
        let count = 4000
        let nodes = try db.write { (tx) throws in
            var nodes: [NodeID] = []
            for i in 0..<count {
                nodes.append(try tx.createNode(labels: ["N"], properties: ["i": .integer(Int64(i))]))
                if i > 0 { try tx.createRelationship(from: nodes[i - 1], to: nodes[i], type: "R") }
            }
            return nodes
        }
        try db.checkpoint()
        let stats = db.pageCacheStatistics
        #expect(stats.maxPages == 16)
        #expect(stats.evictions > 0)
        #expect(stats.flushes > 0)
        try db.read { (tx) throws in
            for i in stride(from: 0, to: count, by: 7) {
                #expect(try tx.nodeProperty(nodes[i], "i") == .integer(Int64(i)))
                #expect(try tx.degree(of: nodes[i], direction: .both, types: []) == (i == 0 ? 1 : 2))
            }
        }
        let after = db.pageCacheStatistics
        #expect(after.faults > stats.faults)
        #expect(after.bytesRead > 0)
        // Store bigger than the cache: 4000 nodes, 4000 property records, 3999 relationships.
        #expect(fs.usedBytes > 16 * 8192 * 4)
    }
}

@Suite("Checkpoint intervals")
struct CheckpointIntervalTests {
    @Test("an idle database checkpoints by time; a burst checkpoints by transaction count")
    func intervals() throws {
        let fs = SimulatedFileSystem()
        var config = KernelConfiguration(fileSystem: fs)
        config.log.checkpointIntervalTime = .milliseconds(100)
        let db = try GraphDatabase(directory: "/db", configuration: config)
        defer { try? db.close() }
        _ = try db.write { (tx) throws in try tx.createNode(labels: ["A"]) }
        var waited = 0
        while db.storeRW.withReadLock({ db.metadata.lastCheckpointedTx }) < db.lastCommittedTxID.rawValue && waited < 300 {
            usleepMillis(10)
            waited += 1
        }
        #expect(db.storeRW.withReadLock { db.metadata.lastCheckpointedTx } == db.lastCommittedTxID.rawValue)

        let fs2 = SimulatedFileSystem()
        var config2 = KernelConfiguration(fileSystem: fs2)
        config2.log.checkpointIntervalTx = 5
        let db2 = try GraphDatabase(directory: "/db", configuration: config2)
        defer { try? db2.close() }
        for _ in 0..<12 { _ = try db2.write { (tx) throws in try tx.createNode(labels: []) } }
        let checkpointed = db2.storeRW.withReadLock { db2.metadata.lastCheckpointedTx }
        #expect(checkpointed > 1)
        #expect(db2.lastCommittedTxID.rawValue - checkpointed < 5)
    }
}
