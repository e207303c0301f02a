import Dispatch
import Foundation
import GraphValues
import Testing

@testable import GraphKernel

/// The local commit of a batch of created nodes updates counts, label scan and indexes from the batch instead of
/// reading the records back, and unique values are claimed in a table checked under the commit mutex instead of
/// through the lock manager (docs/storage.md, "Transactions").
@Suite("Created nodes applied from the batch; pending unique-value claims")
struct CreatedNodeApplyTests {
    @Test("derived structures from the batch match the records: label sets, indexes, missing and null values, 1 = 1.0")
    func derivedFromBatchMatchRecords() throws {
        let fs = SimulatedFileSystem()
        let config = KernelConfiguration(pageCacheSizeBytes: 16 * 8192, fileSystem: fs)
        var db = try GraphDatabase(directory: "/db", configuration: config)
        try db.write { (tx) throws in try tx.createUniqueConstraint(on: "Person", "id") }
        try db.write { (tx) throws in _ = try tx.createIndex(on: "Person", "age") }
        try db.write { (tx) throws in _ = try tx.createIndex(on: "City", "name") }
        let committed = try db.write { (tx) throws -> [NodeID] in
            let person = try tx.getOrCreateLabelToken("Person")
            let city = try tx.getOrCreateLabelToken("City")
            let id = try tx.getOrCreatePropertyKeyToken("id")
            let age = try tx.getOrCreatePropertyKeyToken("age")
            let name = try tx.getOrCreatePropertyKeyToken("name")
            var nodes: [NodeID] = []
            for i in 0..<Int64(40) {
                switch i % 4 {
                case 0:
                    nodes.append(try tx.createNode(labels: [person], properties: [(id, .integer(i)), (age, .float(30))]))
                case 1:
                    // Both labels: enters all three indexes; the age is missing.
                    nodes.append(
                        try tx.createNode(
                            labels: [city, person], properties: [(name, .string("c\(i)")), (id, .integer(i))]))
                case 2:
                    nodes.append(try tx.createNode(labels: [], properties: [(id, .integer(i)), (age, .integer(30))]))
                default:
                    nodes.append(try tx.createNode(labels: [city], properties: [(name, .string("c\(i)")), (age, .null)]))
                }
            }
            return nodes
        }
        let expectations = { (db: GraphDatabase) throws in
            try db.read { (tx) throws in
                #expect(try tx.countNodes(label: nil) == 40)
                #expect(try tx.countNodes(label: tx.labelToken("Person")) == 20)
                #expect(try tx.countNodes(label: tx.labelToken("City")) == 20)
                #expect(try tx.nodes(withLabel: "City").count == 20)
                #expect(try tx.findNodes("Person", "id", equals: .integer(9)) == [committed[9]])
                #expect(try tx.findNodes("Person", "id", equals: .integer(10)).isEmpty)  // no label
                // 30.0 was stored as a float and is found by the integer 30 (Cypher equality), as the records say.
                #expect(try Set(tx.findNodes("Person", "age", equals: .integer(30))) == Set(stride(from: 0, to: 40, by: 4).map { committed[$0] }))
                #expect(try tx.findNodes("City", "name", equals: .string("c7")) == [committed[7]])
                #expect(try tx.findNodes("City", "name", equals: .string("c5")) == [committed[5]])
            }
            let report = try ConsistencyChecker(database: db).check()
            #expect(report.isConsistent, "\(report)")
        }
        try expectations(db)
        // The same facts rebuilt from the records by recovery (no batch on that path).
        db.abandonForCrashTest()
        fs.crash()
        db = try GraphDatabase(directory: "/db", configuration: config)
        defer { try? db.close() }
        try expectations(db)
    }

    /// Blocks the apply of one chosen local commit until released, and records which commits reached their apply.
    final class ApplyGate: @unchecked Sendable {
        private let lock = NSLock()
        private var blocked: Int64 = -1
        private var reached: Set<Int64> = []
        private let release = DispatchSemaphore(value: 0)

        func block(_ txID: Int64) { lock.withLock { blocked = txID } }
        func open() { release.signal() }
        func hasReached(_ txID: Int64) -> Bool { lock.withLock { reached.contains(txID) } }

        func beforeApply(_ txID: Int64) {
            let wait = lock.withLock { () -> Bool in
                reached.insert(txID)
                return txID == blocked
            }
            if wait { release.wait() }
        }
    }

    func openGated(_ gate: ApplyGate) throws -> GraphDatabase {
        var config = KernelConfiguration(fileSystem: SimulatedFileSystem())
        config.beforeApplyingCommit = { gate.beforeApply($0) }
        let db = try GraphDatabase(directory: "/db", configuration: config)
        try db.write { (tx) throws in try tx.createUniqueConstraint(on: "User", "name") }
        try db.write { (tx) throws in
            _ = try tx.getOrCreateLabelToken("User")
            _ = try tx.getOrCreatePropertyKeyToken("name")
        }
        return db
    }

    /// Polls `condition` for up to 60 s (it only waits that long when the behaviour under test is broken).
    func eventually(_ condition: () -> Bool) -> Bool {
        for _ in 0..<6_000 {
            if condition() { return true }
            usleep(10_000)
        }
        return condition()
    }

    func createUsers(_ db: GraphDatabase, _ names: [String], outcome: @escaping @Sendable (Error?) -> Void) {
        Thread {
            do {
                try db.write { (tx) throws in
                    let user = try tx.getOrCreateLabelToken("User")
                    let name = try tx.getOrCreatePropertyKeyToken("name")
                    for n in names { _ = try tx.createNode(labels: [user], properties: [(name, .string(n))]) }
                }
                outcome(nil)
            } catch {
                outcome(error)
            }
        }.start()
    }

    @Test("a value claimed by a commit not yet applied: the second claimant waits for that apply, then fails")
    func claimOfPendingCommitFailsTheSecond() throws {
        let gate = ApplyGate()
        let db = try openGated(gate)
        defer { try? db.close() }
        let first = db.lastCommittedTxID.rawValue + 1
        gate.block(first)
        let results = ResultBox()
        createUsers(db, ["a", "shared", "b"]) { results.set(0, $0) }
        #expect(eventually { gate.hasReached(first) }, "the first commit never reached its apply")
        createUsers(db, ["c", "shared"]) { results.set(1, $0) }
        #expect(eventually { db.uniqueClaimWaits.load(ordering: .relaxed) == 1 }, "the second commit did not wait")
        // Still waiting: it cannot have validated without the first one's values.
        #expect(results.count == 0)
        gate.open()
        #expect(eventually { results.count == 2 })
        #expect(results.error(0) == nil)
        #expect((results.error(1) as? DatabaseError)?.code == .constraintValidationFailed, "\(String(describing: results.error(1)))")
        try db.read { (tx) throws in
            #expect(try tx.nodes(withLabel: "User").count == 3)
            #expect(try tx.findNodes("User", "name", equals: .string("c")).isEmpty)
        }
        #expect(try ConsistencyChecker(database: db).check().isConsistent)
    }

    @Test("disjoint values claimed while another commit is pending do not wait for it, and both commit")
    func disjointClaimsDoNotWait() throws {
        let gate = ApplyGate()
        let db = try openGated(gate)
        defer { try? db.close() }
        let first = db.lastCommittedTxID.rawValue + 1
        gate.block(first)
        let results = ResultBox()
        createUsers(db, (0..<100).map { "x\($0)" }) { results.set(0, $0) }
        #expect(eventually { gate.hasReached(first) }, "the first commit never reached its apply")
        createUsers(db, (0..<100).map { "y\($0)" }) { results.set(1, $0) }
        // The second validated and was written to the log while the first was still pending.
        #expect(eventually { gate.hasReached(first + 1) }, "the second commit did not get past validation")
        gate.open()
        #expect(eventually { results.count == 2 })
        #expect(results.error(0) == nil && results.error(1) == nil)
        #expect(db.uniqueClaimWaits.load(ordering: .relaxed) == 0)
        #expect(try db.read { (tx) throws in try tx.nodes(withLabel: "User").count } == 200)
        #expect(try ConsistencyChecker(database: db).check().isConsistent)
    }
}

/// Outcomes of background commits by slot (nil error = committed).
final class ResultBox: @unchecked Sendable {
    private let lock = NSLock()
    private var outcomes: [Int: Error?] = [:]
    func set(_ slot: Int, _ error: Error?) { lock.withLock { outcomes[slot] = .some(error) } }
    var count: Int { lock.withLock { outcomes.count } }
    func error(_ slot: Int) -> Error? { lock.withLock { outcomes[slot] ?? nil } }
}
