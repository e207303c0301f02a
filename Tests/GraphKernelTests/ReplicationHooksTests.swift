import Foundation
import GraphValues
import Testing

@testable import GraphKernel

/// Every node and relationship with labels, type, ends and properties by name, for comparing two stores.
func graphDump(_ db: GraphDatabase) throws -> [String] {
    try db.read { tx in
        var lines: [String] = []
        for node in try tx.allNodes() {
            let labels = try tx.labels(of: node).map { try tx.labelName($0) }.sorted()
            let props = try tx.nodeProperties(node).map { "\(try tx.propertyKeyName($0.0))=\($0.1)" }.sorted()
            lines.append("n\(node.rawValue)\(labels)\(props)")
        }
        for rel in try tx.allRelationships() {
            let props = try tx.relationshipProperties(rel.id).map { "\(try tx.propertyKeyName($0.0))=\($0.1)" }
            lines.append(
                "r\(rel.id.rawValue):\(try tx.relationshipTypeName(rel.type)) n\(rel.startNode.rawValue)->"
                    + "n\(rel.endNode.rawValue)\(props.sorted())")
        }
        return lines.sorted()
    }
}

/// Collects what a commit hook is told, thread-safely.
final class HookRecorder: @unchecked Sendable {
    private let lock = NSLock()
    private var _seen: [CommittedTransaction] = []
    var seen: [CommittedTransaction] { lock.withLock { _seen } }
    func record(_ tx: CommittedTransaction) { lock.withLock { _seen.append(tx) } }
}

/// Collects errors thrown on other threads.
final class ErrorRecorder: @unchecked Sendable {
    private let lock = NSLock()
    private var _seen: [String] = []
    var seen: [String] { lock.withLock { _seen } }
    func record(_ error: Error) { lock.withLock { _seen.append("\(error)") } }
}

@Suite("Replication hooks: commit hook, commit gate, store copy, branched stores")
struct ReplicationHooksTests {
    @Test("the commit hook sees exactly each committed transaction, as the log holds it, and nothing else")
    func hookSeesCommittedTransactions() throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        let db = try GraphDatabase(directory: dir.path)
        defer { try? db.close() }
        let recorder = HookRecorder()
        db.setCommitHook { recorder.record($0) }

        let before = db.lastCommittedTxID
        // A new label and property key are token transactions of their own, then the data transaction.
        let node = try db.write { tx in try tx.createNode(labels: ["Person"], properties: ["name": .string("Ann")]) }
        // Nothing changed: no commit, no hook.
        try db.write { _ in }
        _ = try db.read { tx in try tx.nodeProperty(node, "name") }
        // Existing tokens: only the data transaction.
        try db.write { tx in try tx.setNodeProperty(node, "name", .string("Bea")) }

        let seen = recorder.seen
        #expect(seen.map(\.header.txID.rawValue) == Array((before.rawValue + 1)...db.lastCommittedTxID.rawValue))
        #expect(seen.count == 4)
        let logged = try db.committedTransactions(from: TxID(before.rawValue + 1))
        var fromLog: [CommittedTransaction] = []
        try logged.forEach { fromLog.append($0) }
        #expect(seen == fromLog)
        #expect(seen.allSatisfy { $0.hasValidChecksum })

        db.setCommitHook(nil)
        try db.write { tx in try tx.setNodeProperty(node, "name", .string("Cy")) }
        #expect(recorder.seen.count == 4)
    }

    @Test("a throwing commit hook fails commit() but the transaction stays committed and its locks are released")
    func throwingHook() throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        let db = try GraphDatabase(directory: dir.path)
        defer { try? db.close() }
        let node = try db.write { tx in try tx.createNode(labels: ["A"], properties: ["v": .integer(0)]) }
        db.setCommitHook { _ in throw DatabaseError(.databaseUnavailable, "no slave acknowledged") }
        expectError(.databaseUnavailable) {
            try db.write { tx in try tx.setNodeProperty(node, "v", .integer(1)) }
        }
        db.setCommitHook(nil)
        #expect(try db.read { tx in try tx.nodeProperty(node, "v") } == .integer(1))
        // The node's lock was released: another writer gets it at once.
        try db.write { tx in try tx.setNodeProperty(node, "v", .integer(2)) }
        #expect(try db.read { tx in try tx.nodeProperty(node, "v") } == .integer(2))
    }

    @Test("a closed commit gate refuses data and token commits with its error and leaves store and log unchanged")
    func gateRefuses() throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        let db = try GraphDatabase(directory: dir.path)
        defer { try? db.close() }
        let node = try db.write { tx in try tx.createNode(labels: ["A"], properties: ["v": .integer(0)]) }
        let lastTx = db.lastCommittedTxID
        let checksum = db.lastCommittedChecksum
        let dump = try graphDump(db)
        let recorder = HookRecorder()
        db.setCommitHook { recorder.record($0) }
        db.setCommitGate { throw DatabaseError(.databaseUnavailable, "not the master") }

        expectError(.databaseUnavailable) { try db.write { tx in try tx.setNodeProperty(node, "v", .integer(1)) } }
        expectError(.databaseUnavailable) { try db.write { tx in _ = try tx.createNode(labels: ["New"]) } }
        expectError(.databaseUnavailable) { try db.write { tx in try tx.deleteNode(node) } }
        #expect(db.lastCommittedTxID == lastTx)
        #expect(db.lastCommittedChecksum == checksum)
        #expect(try graphDump(db) == dump)
        #expect(recorder.seen.isEmpty)
        // Reads go on.
        #expect(try db.read { tx in try tx.nodeProperty(node, "v") } == .integer(0))

        db.setCommitGate(nil)
        try db.write { tx in try tx.setNodeProperty(node, "v", .integer(3)) }
        #expect(db.lastCommittedTxID.rawValue == lastTx.rawValue + 1)
        // Ids refused earlier were not leaked into a broken state.
        #expect(try ConsistencyChecker(database: db).check().isConsistent)
    }

    @Test("replicated applies bypass the commit gate and do not call the commit hook")
    func replicatedBypassesGate() throws {
        let masterDir = TempDirectory()
        let slaveDir = TempDirectory()
        defer { masterDir.cleanup(); slaveDir.cleanup() }
        let master = try GraphDatabase(directory: masterDir.path)
        defer { try? master.close() }
        try master.write { tx in _ = try tx.createNode(labels: ["A"], properties: ["v": .integer(7)]) }
        try master.copyStore(to: slaveDir.path)
        try master.write { tx in _ = try tx.createNode(labels: ["A"], properties: ["v": .integer(8)]) }

        let slave = try GraphDatabase(directory: slaveDir.path)
        defer { try? slave.close() }
        let recorder = HookRecorder()
        slave.setCommitHook { recorder.record($0) }
        slave.setCommitGate { throw DatabaseError(.databaseUnavailable, "slaves do not commit locally") }
        try master.committedTransactions(from: TxID(slave.lastCommittedTxID.rawValue + 1)).forEach {
            try slave.applyReplicated($0)
        }
        #expect(slave.lastCommittedTxID == master.lastCommittedTxID)
        #expect(try graphDump(slave) == graphDump(master))
        #expect(recorder.seen.isEmpty)
    }

    @Test("a store copy taken while another thread commits opens consistent at the returned tx and catches up")
    func copyWhileCommitting() throws {
        let masterDir = TempDirectory()
        let copyDir = TempDirectory("copy")
        defer { masterDir.cleanup(); copyDir.cleanup() }
        let master = try GraphDatabase(directory: masterDir.path)
        defer { try? master.close() }
        // Each transaction adds one node linked to the previous one: any torn copy shows as a hole or a dangling
        // relationship.
        let firstNode = try master.write { tx in
            try tx.createNode(labels: ["Seq"], properties: ["i": .integer(0)])
        }
        let writes = 300
        let done = DispatchSemaphore(value: 0)
        let failures = ErrorRecorder()
        DispatchQueue.global().async {
            defer { done.signal() }
            var previous = firstNode
            for i in 1...writes {
                do {
                    previous = try master.write { tx in
                        let node = try tx.createNode(labels: ["Seq"], properties: ["i": .integer(Int64(i))])
                        try tx.createRelationship(from: node, to: previous, type: "NEXT")
                        return node
                    }
                } catch {
                    failures.record(error)
                    return
                }
            }
        }
        // Let some commits land before copying (bounded wait, not a timing assertion).
        var spins = 0
        while master.lastCommittedTxID.rawValue < 30, spins < 10_000 {
            usleepMillis(1)
            spins += 1
        }
        let copiedAt = try master.copyStore(to: copyDir.path)
        #expect(done.wait(timeout: .now() + 120) == .success)
        #expect(failures.seen.isEmpty)

        let copy = try GraphDatabase(directory: copyDir.path)
        defer { try? copy.close() }
        #expect(copy.lastCommittedTxID == copiedAt)
        #expect(copy.storeID == master.storeID)
        #expect(try ConsistencyChecker(database: copy).check().isConsistent)
        let values = try copy.read { tx in
            try tx.nodes(withLabel: "Seq").map { try tx.nodeProperty($0, "i") }.compactMap { value -> Int64? in
                if case .integer(let i) = value { return i }
                return nil
            }.sorted()
        }
        #expect(values == Array(0..<Int64(values.count)), "the copy holds a prefix of the commits")
        #expect(values.count > 1)

        // The copy's log continues from the copied tx: pulling the rest makes it identical.
        try master.committedTransactions(from: TxID(copiedAt.rawValue + 1)).forEach { try copy.applyReplicated($0) }
        #expect(copy.lastCommittedTxID == master.lastCommittedTxID)
        #expect(copy.lastCommittedChecksum == master.lastCommittedChecksum)
        #expect(try graphDump(copy) == graphDump(master))
        // And it can answer for the copied tx itself (branch detection needs the stamp at the slave's last tx).
        let first = try copy.committedTransactions(from: copiedAt).next()
        #expect(first?.header.txID == copiedAt)
    }

    @Test("copying into a directory that already holds a store is refused")
    func copyRefusesExistingStore() throws {
        let a = TempDirectory()
        let b = TempDirectory()
        defer { a.cleanup(); b.cleanup() }
        let db = try GraphDatabase(directory: a.path)
        defer { try? db.close() }
        let other = try GraphDatabase(directory: b.path)
        try other.close()
        expectError(.invalidRequest) { try db.copyStore(to: b.path) }
    }

    @Test("a branched store moves to branched/<yyyyMMdd-HHmmss>/ and opens there; keep_last and keep_none prune")
    func branchedMoveAndPruning() throws {
        let dir = TempDirectory()
        defer { dir.cleanup() }
        func makeStore(_ value: Int64) throws {
            let db = try GraphDatabase(directory: dir.path)
            try db.write { tx in _ = try tx.createNode(labels: ["B"], properties: ["v": .integer(value)]) }
            try db.close()
        }
        // 2026-11-25 18:56:00 UTC
        let now = Date(timeIntervalSince1970: 1_795_632_960)
        try makeStore(1)
        let first = try StoreDirectories.moveToBranched(databaseDirectory: dir.path, keep: .keepAll, now: now)
        #expect(first == dir.path + "/branched/20261125-185600")
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/neostore"))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
        #expect(leftovers.allSatisfy { StoreDirectories.preservedEntries.contains($0) }, "\(leftovers)")
        // The branch is a complete store.
        let branch = try GraphDatabase(directory: first)
        #expect(try branch.read { tx in try tx.nodes(withLabel: "B").map { try tx.nodeProperty($0, "v") } } == [.integer(1)])
        try branch.close()

        try makeStore(2)
        let second = try StoreDirectories.moveToBranched(databaseDirectory: dir.path, keep: .keepAll, now: now)
        #expect(second == dir.path + "/branched/20261125-185600-1")
        #expect(try StoreDirectories.branches(databaseDirectory: dir.path) == [first, second])

        try makeStore(3)
        let later = now.addingTimeInterval(61)
        let third = try StoreDirectories.moveToBranched(databaseDirectory: dir.path, keep: .keepLast, now: later)
        #expect(third == dir.path + "/branched/20261125-185701")
        #expect(try StoreDirectories.branches(databaseDirectory: dir.path) == [third])

        try makeStore(4)
        let none = try StoreDirectories.moveToBranched(databaseDirectory: dir.path, keep: .keepNone, now: later)
        #expect(none == "")
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/neostore"))
        #expect(try StoreDirectories.branches(databaseDirectory: dir.path) == [third])
        // The directory is usable for a fresh store (or a store copy) again.
        let fresh = try GraphDatabase(directory: dir.path)
        #expect(try graphDump(fresh).isEmpty)
        try fresh.close()
    }

    @Test("branch names are UTC yyyyMMdd-HHmmss; the setting parses keep_all, keep_last, keep_none")
    func branchNamesAndSetting() {
        #expect(StoreDirectories.branchName(Date(timeIntervalSince1970: 0)) == "19700101-000000")
        #expect(StoreDirectories.branchName(Date(timeIntervalSince1970: 951_825_599)) == "20000229-115959")
        #expect(StoreDirectories.branchName(Date(timeIntervalSince1970: 1_798_761_599.9)) == "20261231-235959")
        #expect(BranchedDataPolicy(settingValue: "keep_all") == .keepAll)
        #expect(BranchedDataPolicy(settingValue: " KEEP_LAST ") == .keepLast)
        #expect(BranchedDataPolicy(settingValue: "keep_none") == .keepNone)
        #expect(BranchedDataPolicy(settingValue: "keep_some") == nil)
    }
}


@Suite("Batched replicated apply")
struct ReplicatedBatchTests {
    @Test("a batch applies with one shared sync; a refused transaction keeps the ones before it and nothing after")
    func batchApply() throws {
        let masterDir = TempDirectory()
        let slaveDir = TempDirectory()
        defer { masterDir.cleanup(); slaveDir.cleanup() }
        let master = try GraphDatabase(directory: masterDir.path)
        defer { try? master.close() }
        for i in 0..<20 {
            try master.write { tx in _ = try tx.createNode(labels: ["B"], properties: ["i": .integer(Int64(i))]) }
        }
        var all: [CommittedTransaction] = []
        try master.committedTransactions(from: TxID(2)).forEach { all.append($0) }
        let slave = try GraphDatabase(directory: slaveDir.path)
        defer { try? slave.close() }

        try slave.applyReplicated(Array(all[0..<10]))
        #expect(slave.lastCommittedTxID == all[9].header.txID)
        // A batch with a forged transaction in the middle: the ones before it land, it and the rest do not.
        var forged = Array(all[10...])
        forged[3].payload[0] ^= 0xFF
        #expect(throws: TransactionLogError.checksumMismatch(txID: forged[3].header.txID)) {
            try slave.applyReplicated(forged)
        }
        #expect(slave.lastCommittedTxID == all[12].header.txID)
        // A batch that does not start at the next id changes nothing.
        #expect(throws: TransactionLogError.gap(expected: all[13].header.txID, received: all[14].header.txID)) {
            try slave.applyReplicated(Array(all[14...]))
        }
        try slave.applyReplicated(Array(all[13...]))
        #expect(slave.lastCommittedChecksum == master.lastCommittedChecksum)
        #expect(try graphDump(slave) == graphDump(master))
        // Fewer syncs than transactions: the batches shared them.
        #expect(slave.log.statistics.syncs < Int64(all.count))
    }
}
