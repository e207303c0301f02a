import Dispatch
import Foundation
import GraphValues
import Testing

@testable import GraphKernel

/// Lets a test hold a background index population before each step and release it step by step.
final class PopulationGate: @unchecked Sendable {
    private let lock = NSLock()
    private let reached = DispatchSemaphore(value: 0)
    private let go = DispatchSemaphore(value: 0)
    private var open = false
    private var steps: [Int] = []

    /// The hook for `KernelConfiguration.beforeIndexPopulationStep`.
    func hook(_ name: String, _ done: Int) {
        let isOpen = lock.withLock {
            steps.append(done)
            return open
        }
        if isOpen { return }
        reached.signal()
        go.wait()
    }

    /// Waits (bounded) until the population stands before its next step; returns false on time-out.
    func waitUntilHeld() -> Bool { reached.wait(timeout: .now() + 30) == .success }
    /// Lets one step run.
    func step() { go.signal() }
    /// Lets every remaining step run without holding.
    func release() {
        lock.withLock { open = true }
        go.signal()
    }
    var stepsSeen: [Int] { lock.withLock { steps } }
}

/// Polls (bounded) until `condition` holds.
func eventually(seconds: Double = 30, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if try condition() { return true }
        usleepMillis(2)
    }
    return try condition()
}

@Suite("Index population: POPULATING in the background, ONLINE when done, FAILED with the reason")
struct IndexPopulationTests {
    func configuration(_ fs: SimulatedFileSystem, gate: PopulationGate, pageCacheBytes: Int = 1 << 20)
        -> KernelConfiguration
    {
        var config = KernelConfiguration(pageCacheSizeBytes: pageCacheBytes, fileSystem: fs)
        config.indexPopulationInlineLimit = 100
        config.indexPopulationBatchSize = 1_000
        config.beforeIndexPopulationStep = { gate.hook($0, $1) }
        return config
    }

    func createPeople(_ db: GraphDatabase, count: Int) throws -> [NodeID] {
        try db.write { (tx) throws in
            try (0..<count).map { try tx.createNode(labels: ["P"], properties: ["v": .integer(Int64($0))]) }
        }
    }

    func state(_ db: GraphDatabase, _ name: String) throws -> IndexState? {
        try db.read { (tx) throws in try tx.indexes().first { $0.name == name }?.state }
    }

    @Test("a new index on existing data is POPULATING with progress, unused by queries, then ONLINE and complete")
    func populatesInBackground() throws {
        let fs = SimulatedFileSystem()
        let gate = PopulationGate()
        let db = try GraphDatabase(directory: "/db", configuration: configuration(fs, gate: gate))
        defer { try? db.close() }
        let people = try createPeople(db, count: 5_000)
        let descriptor = try db.write { (tx) throws in try tx.createIndex(on: "P", "v", name: "p_v") }

        // The commit returned before the index was built.
        #expect(gate.waitUntilHeld())
        #expect(try state(db, "p_v") == .populating(progress: 0))
        try db.read { (tx) throws in
            let p = try #require(try tx.labelToken("P"))
            let v = try #require(try tx.propertyKeyToken("v"))
            #expect(try tx.index(label: p, propertyKey: v) == nil, "a populating index must not be offered to queries")
            expectError(.indexNotFound) { _ = try tx.indexSeek(descriptor, equals: .integer(1)) }
        }
        gate.step()
        #expect(gate.waitUntilHeld())
        #expect(try state(db, "p_v") == .populating(progress: 0.2))

        // Commits between steps: one already indexed node changes value, one not yet reached changes value, one
        // not yet reached loses the label, and a new node gets the label.
        let added = try db.write { (tx) throws in
            try tx.setNodeProperty(people[10], "v", .integer(-10))
            try tx.setNodeProperty(people[4_000], "v", .integer(-4_000))
            _ = try tx.removeLabel(people[4_001], try tx.getOrCreateLabelToken("P"))
            return try tx.createNode(labels: ["P"], properties: ["v": .integer(9_999)])
        }
        gate.release()
        #expect(try eventually { try state(db, "p_v") == .online })
        #expect(gate.stepsSeen == [0, 1_000, 2_000, 3_000, 4_000])
        try db.read { (tx) throws in
            #expect(try tx.findNodes("P", "v", equals: .integer(-10)) == [people[10]])
            #expect(try tx.findNodes("P", "v", equals: .integer(10)).isEmpty)
            #expect(try tx.findNodes("P", "v", equals: .integer(-4_000)) == [people[4_000]])
            #expect(try tx.findNodes("P", "v", equals: .integer(4_001)).isEmpty)
            #expect(try tx.findNodes("P", "v", equals: .integer(9_999)) == [added])
            #expect(try tx.findNodes("P", "v", equals: .integer(2_500)) == [people[2_500]])
        }
        let report = try ConsistencyChecker(database: db).check()
        #expect(report.isConsistent, "\(report)")
    }

    @Test("an I/O error during population leaves the index FAILED with the reason; the rest keeps working")
    func failedPopulation() throws {
        let fs = SimulatedFileSystem()
        let gate = PopulationGate()
        // 16 pages: the node and property records of 5 000 nodes do not fit, so population must read the disk.
        let db = try GraphDatabase(
            directory: "/db", configuration: configuration(fs, gate: gate, pageCacheBytes: 16 * 8192))
        defer { try? db.close() }
        _ = try createPeople(db, count: 5_000)
        try db.checkpoint()
        let descriptor = try db.write { (tx) throws in try tx.createIndex(on: "P", "v", name: "p_v") }
        guard let reason = try failHeldPopulation(db, fs, gate) else { return }
        #expect(reason.contains("p_v") && reason.contains("read failed"), "\(reason)")
        try db.read { (tx) throws in
            let p = try #require(try tx.labelToken("P"))
            let v = try #require(try tx.propertyKeyToken("v"))
            #expect(try tx.index(label: p, propertyKey: v) == nil)
            expectError(.indexNotFound) { _ = try tx.indexSeek(descriptor, equals: .integer(1)) }
            #expect(try tx.countNodes(label: p) == 5_000)
        }
        // The failed index can be dropped and created again.
        try db.write { (tx) throws in try tx.dropIndex(name: "p_v") }
        _ = try db.write { (tx) throws in try tx.createIndex(on: "P", "v", name: "p_v") }
        #expect(try eventually { try state(db, "p_v") == .online })
    }

    /// Lets the held population of `p_v` run while every I/O fails; returns its FAILED reason (nil, with an issue
    /// recorded, when it did not fail).
    private func failHeldPopulation(_ db: GraphDatabase, _ fs: SimulatedFileSystem, _ gate: PopulationGate) throws
        -> String?
    {
        #expect(gate.waitUntilHeld())
        fs.failAllIO = true
        gate.release()
        #expect(try eventually { if case .failed = try state(db, "p_v") { return true } else { return false } })
        fs.failAllIO = false
        guard case .failed(let reason) = try state(db, "p_v") else { return nil }
        return reason
    }

    @Test("a FAILED index stays FAILED with its reason across a kill and a restart, until it is dropped")
    func failedPopulationSurvivesRestart() throws {
        let fs = SimulatedFileSystem()
        let gate = PopulationGate()
        let config = configuration(fs, gate: gate, pageCacheBytes: 16 * 8192)
        var db = try GraphDatabase(directory: "/db", configuration: config)
        _ = try createPeople(db, count: 5_000)
        try db.checkpoint()
        let descriptor = try db.write { (tx) throws in try tx.createIndex(on: "P", "v", name: "p_v") }
        guard let reason = try failHeldPopulation(db, fs, gate) else { return }
        // The failure could not be written while all I/O failed: the checkpoint writes it.
        try db.checkpoint()
        _ = try db.write { (tx) throws in try tx.createNode(labels: ["P"], properties: ["v": .integer(-1)]) }
        db.abandonForCrashTest()
        fs.killProcess()

        db = try GraphDatabase(directory: "/db", configuration: config)
        #expect(db.recoveredTransactionCount > 0)
        #expect(try state(db, "p_v") == .failed(reason))
        try db.read { (tx) throws in
            let p = try #require(try tx.labelToken("P"))
            let v = try #require(try tx.propertyKeyToken("v"))
            #expect(try tx.index(label: p, propertyKey: v) == nil)
            expectError(.indexNotFound) { _ = try tx.indexSeek(descriptor, equals: .integer(1)) }
            #expect(try tx.countNodes(label: p) == 5_001)
        }
        // A clean restart keeps it too (the checkpoint at close does not lose it).
        try db.close()
        db = try GraphDatabase(directory: "/db", configuration: config)
        #expect(try state(db, "p_v") == .failed(reason))

        // Dropped, it is forgotten; created again, it populates and is used after a restart.
        try db.write { (tx) throws in try tx.dropIndex(name: "p_v") }
        try db.close()
        db = try GraphDatabase(directory: "/db", configuration: config)
        #expect(try state(db, "p_v") == nil)
        _ = try db.write { (tx) throws in try tx.createIndex(on: "P", "v", name: "p_v") }
        #expect(try eventually { try state(db, "p_v") == .online })
        try db.close()
        db = try GraphDatabase(directory: "/db", configuration: config)
        defer { try? db.close() }
        #expect(try state(db, "p_v") == .online)
        try db.read { (tx) throws in
            let p = try #require(try tx.labelToken("P"))
            let v = try #require(try tx.propertyKeyToken("v"))
            let index = try #require(try tx.index(label: p, propertyKey: v))
            #expect(Array(try tx.indexSeek(index, equals: .integer(2_500))).count == 1)
        }
    }

    @Test("the index-failures file round-trips; a damaged one is detected by its checksum")
    func damagedFailuresFile() throws {
        var entries = IndexFailures()
        entries.entries.append(.init(name: "p_v", label: 0, propertyKey: 0, isUnique: false, reason: "boom"))
        var bytes = entries.encode()
        #expect(try IndexFailures.decode(bytes) == entries)
        bytes[bytes.count / 2] ^= 0xFF
        expectError(.storageDamageDetected) { _ = try IndexFailures.decode(bytes) }
    }

    @Test("dropping a populating index or closing the database stops its population; reopening builds it")
    func dropAndCloseWhilePopulating() throws {
        let fs = SimulatedFileSystem()
        let gate = PopulationGate()
        let config = configuration(fs, gate: gate)
        var db = try GraphDatabase(directory: "/db", configuration: config)
        _ = try createPeople(db, count: 3_000)
        _ = try db.write { (tx) throws in try tx.createIndex(on: "P", "v", name: "p_v") }
        #expect(gate.waitUntilHeld())
        try db.write { (tx) throws in try tx.dropIndex(name: "p_v") }
        gate.step()
        let dropped = try eventually {
            let indexes = try db.read { (tx) throws in try tx.indexes() }
            return gate.stepsSeen.count == 1 && indexes.isEmpty
        }
        #expect(dropped)

        _ = try db.write { (tx) throws in try tx.createIndex(on: "P", "v", name: "p_v2") }
        #expect(gate.waitUntilHeld())
        try db.close()
        gate.release()
        db = try GraphDatabase(directory: "/db", configuration: config)
        defer { try? db.close() }
        // Not online at the last checkpoint: populated again while opening.
        #expect(try state(db, "p_v2") == .online)
        #expect(try db.read { (tx) throws in try tx.findNodes("P", "v", equals: .integer(7)) }.count == 1)
        #expect(try ConsistencyChecker(database: db).check().isConsistent)
    }

    @Test("a uniqueness constraint's index is populated inside its commit, so the constraint holds from then on")
    func constraintIndexIsInline() throws {
        let fs = SimulatedFileSystem()
        let gate = PopulationGate()
        let db = try GraphDatabase(directory: "/db", configuration: configuration(fs, gate: gate))
        defer { try? db.close() }
        _ = try createPeople(db, count: 2_000)
        _ = try db.write { (tx) throws in try tx.createUniqueConstraint(on: "P", "v", name: "p_v_unique") }
        #expect(try state(db, "p_v_unique") == .online)
        #expect(gate.stepsSeen.isEmpty)
        expectError(.constraintValidationFailed) {
            _ = try db.write { (tx) throws in try tx.createNode(labels: ["P"], properties: ["v": .integer(5)]) }
        }
    }
}
