import Foundation
import GraphValues
import Logging
import Testing

@testable import GraphKernel

/// A seeded generator (SplitMix64) so a failing workload can be replayed.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Collects log messages, so tests can check what the kernel told the operator.
final class CapturedLog: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    var messages: [String] { lock.withLock { lines } }
    func append(_ line: String) { lock.withLock { lines.append(line) } }

    var logger: Logger {
        Logger(label: "test") { _ in CapturingHandler(log: self) }
    }

    struct CapturingHandler: LogHandler {
        let log: CapturedLog
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) { log.append("\(event.level): \(event.message)") }
    }
}

@Suite("Derived-structures snapshot: written at checkpoint, redone from the log at open")
struct DerivedSnapshotTests {
    /// Creates, relabels, re-values and deletes nodes and relationships at random, so every kind of derived change
    /// happens: label scan bits set and cleared, counts per label and per (label, type), index entries moved.
    func churn(_ db: GraphDatabase, rounds: Int, rng: inout SeededGenerator) throws {
        for _ in 0..<rounds {
            try db.write { (tx) throws in
                let a = try tx.createNode(labels: ["A"], properties: ["k": .integer(Int64.random(in: 0..<50, using: &rng))])
                let b = try tx.createNode(labels: ["B"], properties: ["k": .string("s\(Int.random(in: 0..<20, using: &rng))")])
                _ = try tx.createRelationship(from: a, to: b, type: "T1")
                _ = try tx.createRelationship(from: b, to: a, type: "T2")
            }
            let nodes = try db.read { (tx) throws in try tx.allNodes().map { $0 } }
            guard nodes.count > 4 else { continue }
            let pick = nodes[Int.random(in: 0..<nodes.count, using: &rng)]
            try db.write { (tx) throws in
                guard try tx.nodeExists(pick) else { return }
                switch Int.random(in: 0..<6, using: &rng) {
                case 0:
                    // Delete the node with its relationships.
                    for rel in try tx.relationships(of: pick) { try tx.deleteRelationship(rel.id) }
                    try tx.deleteNode(pick)
                case 1:
                    _ = try tx.addLabel(pick, try tx.getOrCreateLabelToken("C"))
                case 2:
                    _ = try tx.removeLabel(pick, try tx.getOrCreateLabelToken("A"))
                    _ = try tx.addLabel(pick, try tx.getOrCreateLabelToken("B"))
                case 3:
                    try tx.setNodeProperty(pick, "k", .integer(Int64.random(in: 0..<50, using: &rng)))
                case 4:
                    if let rel = try tx.relationships(of: pick).first { try tx.deleteRelationship(rel.id) }
                default:
                    _ = try tx.removeNodeProperty(pick, try tx.getOrCreatePropertyKeyToken("k"))
                }
            }
        }
    }

    func expectConsistent(_ db: GraphDatabase, _ note: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let report = try ConsistencyChecker(database: db).check()
        #expect(report.isConsistent, "\(note): \(report)", sourceLocation: sourceLocation)
    }

    /// What the derived structures answer, to compare before and after a reopen.
    func derivedAnswers(_ db: GraphDatabase) throws -> [String] {
        try db.read { (tx) throws in
            var out: [String] = []
            for label in ["A", "B", "C"] {
                let token = try tx.labelToken(label)
                out.append("\(label): \(try token.map { try tx.countNodes(label: $0) } ?? 0) \(try tx.nodes(withLabel: label))")
                for type in ["T1", "T2"] {
                    let t = try tx.relationshipTypeToken(type)
                    out.append(
                        "(\(label))-[\(type)]->: "
                            + "\(try tx.countRelationships(startLabel: token, type: t, endLabel: nil))")
                    out.append(
                        "-[\(type)]->(\(label)): "
                            + "\(try tx.countRelationships(startLabel: nil, type: t, endLabel: token))")
                }
            }
            for k in 0..<50 { out.append("A.k=\(k): \(try tx.findNodes("A", "k", equals: .integer(Int64(k))).sorted())") }
            return out
        }
    }

    @Test("a clean close writes the snapshot and the next open uses it instead of rebuilding")
    func cleanReopenUsesSnapshot() throws {
        let fs = SimulatedFileSystem()
        let config = KernelConfiguration(pageCacheSizeBytes: 64 * 8192, fileSystem: fs)
        var db = try GraphDatabase(directory: "/db", configuration: config)
        try db.write { (tx) throws in _ = try tx.createIndex(on: "A", "k") }
        var rng = SeededGenerator(state: 7)
        try churn(db, rounds: 60, rng: &rng)
        let before = try derivedAnswers(db)
        try db.close()
        #expect(fs.fileExists("/db/" + DerivedSnapshot.fileName))
        db = try GraphDatabase(directory: "/db", configuration: config)
        defer { try? db.close() }
        #expect(db.derivedStoresFromSnapshot)
        #expect(try derivedAnswers(db) == before)
        try expectConsistent(db, "after a clean reopen")
    }

    @Test("kill -9 after a checkpoint: the snapshot is brought up to date from the log (records may be ahead of it)")
    func killAfterCheckpoint() throws {
        for seed in [1, 2, 3, 4] as [UInt64] {
            let fs = SimulatedFileSystem()
            // A small cache: pages of transactions after the checkpoint are evicted (written) before the kill.
            let config = KernelConfiguration(pageCacheSizeBytes: 16 * 8192, fileSystem: fs)
            var db = try GraphDatabase(directory: "/db", configuration: config)
            try db.write { (tx) throws in _ = try tx.createIndex(on: "A", "k") }
            var rng = SeededGenerator(state: seed)
            try churn(db, rounds: 40, rng: &rng)
            try db.checkpoint()
            try churn(db, rounds: 40, rng: &rng)
            if seed == 3 {
                // A schema change after the snapshot: the new index is populated, the dropped one goes.
                try db.write { (tx) throws in _ = try tx.createIndex(on: "B", "k") }
                try churn(db, rounds: 5, rng: &rng)
            }
            let before = try derivedAnswers(db)
            db.abandonForCrashTest()
            if seed == 4 { fs.crash() } else { fs.killProcess() }
            db = try GraphDatabase(directory: "/db", configuration: config)
            #expect(db.recoveredTransactionCount > 0)
            #expect(db.derivedStoresFromSnapshot, "seed \(seed)")
            #expect(try derivedAnswers(db) == before, "seed \(seed)")
            try expectConsistent(db, "seed \(seed)")
            // And it keeps working: more changes, a clean reopen.
            try churn(db, rounds: 10, rng: &rng)
            try db.close()
            db = try GraphDatabase(directory: "/db", configuration: config)
            try expectConsistent(db, "seed \(seed), second reopen")
            try db.close()
        }
    }

    @Test("a snapshot newer than the recorded checkpoint (killed between the two) is redone from its own tx id")
    func snapshotNewerThanCheckpoint() throws {
        let fs = SimulatedFileSystem()
        var config = KernelConfiguration(pageCacheSizeBytes: 16 * 8192, fileSystem: fs)
        // Only explicit checkpoints.
        config.checkpointIntervalTransactions = 1_000_000
        config.checkpointInterval = .seconds(3600)
        var db = try GraphDatabase(directory: "/db", configuration: config)
        try db.write { (tx) throws in _ = try tx.createIndex(on: "A", "k") }
        var rng = SeededGenerator(state: 11)
        try churn(db, rounds: 30, rng: &rng)
        try db.checkpoint()
        try churn(db, rounds: 30, rng: &rng)
        // What a checkpoint killed right after its snapshot leaves: a snapshot of the current tx, the old checkpoint.
        let bytes = db.storeRW.withReadLock { db.derivedSnapshot().encode() }
        try writeFileAtomically(fs, "/db/" + DerivedSnapshot.fileName, bytes)
        try churn(db, rounds: 30, rng: &rng)
        let before = try derivedAnswers(db)
        db.abandonForCrashTest()
        fs.killProcess()
        db = try GraphDatabase(directory: "/db", configuration: config)
        defer { try? db.close() }
        #expect(db.derivedStoresFromSnapshot)
        #expect(try derivedAnswers(db) == before)
        try expectConsistent(db, "snapshot newer than checkpoint")
    }

    @Test("a damaged, foreign or stale snapshot is not used: the structures are rebuilt and the log says why")
    func unusableSnapshotsFallBack() throws {
        let fs = SimulatedFileSystem()
        let log = CapturedLog()
        var config = KernelConfiguration(pageCacheSizeBytes: 64 * 8192, fileSystem: fs)
        config.logger = log.logger
        var db = try GraphDatabase(directory: "/db", configuration: config)
        try db.write { (tx) throws in _ = try tx.createIndex(on: "A", "k") }
        var rng = SeededGenerator(state: 5)
        try churn(db, rounds: 30, rng: &rng)
        let before = try derivedAnswers(db)
        try db.close()
        let path = "/db/" + DerivedSnapshot.fileName
        let good = try #require(try readWholeFile(fs, path))

        // Another store's snapshot.
        let otherFS = SimulatedFileSystem()
        let other = try GraphDatabase(directory: "/db", configuration: KernelConfiguration(fileSystem: otherFS))
        try other.write { (tx) throws in _ = try tx.createNode(labels: ["A"], properties: [:]) }
        try other.close()
        let foreign = try #require(try readWholeFile(otherFS, path))

        var flipped = good
        flipped[good.count / 2] ^= 0x40
        let cases: [(String, [UInt8]?, String)] = [
            ("one flipped byte", flipped, "checksum"),
            ("truncated", Array(good.prefix(good.count - 3)), "checksum"),
            ("not a snapshot", Array(repeating: 7, count: 100), "not a derived-structures snapshot"),
            ("another store's", foreign, "another store"),
            ("missing", nil, "there is none"),
        ]
        for (name, content, reason) in cases {
            if let content {
                try writeFileAtomically(fs, path, content)
            } else {
                try fs.removeFile(path)
            }
            let count = log.messages.count
            db = try GraphDatabase(directory: "/db", configuration: config)
            #expect(!db.derivedStoresFromSnapshot, "\(name)")
            #expect(try derivedAnswers(db) == before, "\(name)")
            try expectConsistent(db, name)
            let said = log.messages.dropFirst(count).filter { $0.contains("Rebuilt") }
            #expect(said.count == 1 && said.allSatisfy { $0.contains(reason) }, "\(name): \(said)")
            db.abandonForCrashTest()
            fs.killProcess()
        }

        // A snapshot older than the last checkpoint: the log before the checkpoint may be pruned, so it is refused.
        try writeFileAtomically(fs, path, good)
        db = try GraphDatabase(directory: "/db", configuration: config)
        try db.write { (tx) throws in _ = try tx.createNode(labels: ["C"], properties: [:]) }
        let current = try derivedAnswers(db)
        try db.close()
        try writeFileAtomically(fs, path, good)
        let count = log.messages.count
        db = try GraphDatabase(directory: "/db", configuration: config)
        defer { try? db.close() }
        #expect(!db.derivedStoresFromSnapshot)
        #expect(try derivedAnswers(db) == current)
        try expectConsistent(db, "stale snapshot")
        let said = log.messages.dropFirst(count).filter { $0.contains("Rebuilt") }
        #expect(said.count == 1 && said.allSatisfy { $0.contains("older than the last checkpoint") }, "\(said)")
    }

    @Test("a relationship deletion keeps the freed record's type and end nodes (the redo reads them)")
    func deletionKeepsEndNodes() throws {
        let fs = SimulatedFileSystem()
        let db = try GraphDatabase(directory: "/db", configuration: KernelConfiguration(fileSystem: fs))
        defer { try? db.close() }
        let (a, b, rel) = try db.write { (tx) throws in
            let a = try tx.createNode(labels: ["A"], properties: [:])
            let b = try tx.createNode(labels: ["B"], properties: [:])
            return (a, b, try tx.createRelationship(from: a, to: b, type: "T1"))
        }
        try db.write { (tx) throws in try tx.deleteRelationship(rel) }
        let record = try db.stores.relationship(rel.rawValue)
        #expect(!record.inUse)
        #expect(record.startNode == a.rawValue && record.endNode == b.rawValue)
        #expect(try db.stores.relationshipInUse(rel.rawValue) == false)
    }
}
