import Foundation
import GraphValues
import Testing

@testable import GraphKernel

/// `KernelTransaction.avoidWaiting()`, for transactions run where they must not block (the Bolt event loop):
/// a lock another transaction holds fails at once, and the commit leaves a due checkpoint to someone else.
@Suite("Transactions that avoid waiting: no lock waits, no checkpoint on the committing thread")
struct AvoidWaitingTests {
    @Test("a lock held by another transaction fails the operation at once with LockAcquisitionTimeout")
    func heldLockFailsAtOnce() throws {
        let db = try GraphDatabase(directory: "/db", configuration: KernelConfiguration(fileSystem: SimulatedFileSystem()))
        defer { try? db.close() }
        let node = try db.write { tx in try tx.createNode(labels: ["A"]) }
        let holder = try db.beginTransaction(mode: .write, timeout: nil)
        try holder.setNodeProperty(node, "x", .integer(1))
        let tx = try db.beginTransaction(mode: .write, timeout: nil)
        tx.avoidWaiting()
        #expect {
            try tx.setNodeProperty(node, "x", .integer(2))
        } throws: { ($0 as? DatabaseError)?.code == .lockAcquisitionTimeout }
        tx.rollback()
        try holder.commit()
    }

    @Test("without a checkpoint timer (interval.time=0), a checkpoint due by count runs on a background thread")
    func checkpointDueByCountRunsInTheBackground() throws {
        var config = KernelConfiguration(fileSystem: SimulatedFileSystem())
        config.log.checkpointIntervalTx = 5
        config.log.checkpointIntervalTime = .zero
        let db = try GraphDatabase(directory: "/db", configuration: config)
        defer { try? db.close() }
        for _ in 0..<12 {
            let tx = try db.beginTransaction(mode: .write, timeout: nil)
            tx.avoidWaiting()
            _ = try tx.createNode(labels: [])
            try tx.commit()
        }
        var waited = 0
        while db.storeRW.withReadLock({ db.metadata.lastCheckpointedTx }) <= 1 && waited < 1000 {
            usleepMillis(10)
            waited += 1
        }
        #expect(db.storeRW.withReadLock { db.metadata.lastCheckpointedTx } > 1)
    }
}
