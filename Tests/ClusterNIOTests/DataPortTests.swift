import ClusterCore
import Foundation
import GraphKernel
import GraphValues
import Logging
import NIOCore
import NIOPosix
import Synchronization
import Testing

@testable import ClusterNIO

@Suite("Data port: pull, push, stamps, store copy and forwarded transactions over loopback")
struct DataPortTests {
    @Test("a slave pulling in small batches ends with the master's data and checksums (neo4j-ha.md §6, pulling)")
    func pullCatchesUp() async throws {
        let dirs = DataTestDirectory()
        defer { dirs.cleanup() }
        let master = try GraphDatabase(directory: dirs.sub("master"))
        let slave = try GraphDatabase(directory: dirs.sub("slave"))
        defer { try? master.close(); try? slave.close() }
        try commitChain(master, count: 40)
        let port = try await DataPortFixture.start(master)

        // Part way to an explicit target, then everything.
        let halfway = TxID(master.lastCommittedTxID.rawValue / 2)
        #expect(try await port.client.catchUp(slave, to: halfway, batchLimit: 3) == halfway)
        let applied = try await catchUp(slave, from: port.client, limit: 7)
        #expect(applied == Int(master.lastCommittedTxID.rawValue - halfway.rawValue))
        #expect(try await port.client.catchUp(slave) == master.lastCommittedTxID)
        #expect(slave.lastCommittedTxID == master.lastCommittedTxID)
        #expect(slave.lastCommittedChecksum == master.lastCommittedChecksum)
        #expect(try graphDump(slave) == graphDump(master))
        #expect(try ConsistencyChecker(database: slave).check().isConsistent)
        // Pulling past the end is an empty answer, not an error.
        let (none, last) = try await port.client.pull(from: TxID(master.lastCommittedTxID.rawValue + 1), limit: 10)
        #expect(none.isEmpty && last == master.lastCommittedTxID)
        await port.stop()
    }

    @Test("a push is durable on the slave when acknowledged; duplicates are accepted, a gap is refused and filled")
    func pushDurableAndGaps() async throws {
        let dirs = DataTestDirectory()
        defer { dirs.cleanup() }
        let master = try GraphDatabase(directory: dirs.sub("master"))
        defer { try? master.close() }
        var slave: GraphDatabase? = try GraphDatabase(directory: dirs.sub("slave"))
        try commitChain(master, count: 12)
        var all: [CommittedTransaction] = []
        try master.committedTransactions(from: TxID(2)).forEach { all.append($0) }
        let port = try await DataPortFixture.start(slave!)
        port.server.setEpoch(Epoch(3), isMaster: false)

        // In order, one by one.
        for transaction in all.prefix(5) { try await port.client.push(transaction, epoch: Epoch(3)) }
        // Again: already there, same checksums, acknowledged.
        let ack = try await port.client.push(all[2], epoch: Epoch(3))
        #expect(ack == all[4].header.txID)
        // Skipping ahead: refused as a gap, nothing applied.
        await #expect(throws: TransactionLogError.gap(expected: all[5].header.txID, received: all[8].header.txID)) {
            try await port.client.push(all[8], epoch: Epoch(3))
        }
        #expect(slave!.lastCommittedTxID == all[4].header.txID)
        // Overlapping deliveries (a pull racing a push) apply only what is new.
        #expect(try ReplicatedApply.apply(Array(all[3...6]), to: slave!) == 2)
        // The catching-up push sends what is missing from the master's log.
        let last = try await port.client.push(all.last!, epoch: Epoch(3), catchingUpFrom: master, batchLimit: 2)
        #expect(last == master.lastCommittedTxID)
        // A redelivered transaction whose content differs from ours is a diverged history.
        var forged = all[4]
        forged.header.checksum ^= 1
        #expect(throws: TransactionLogError.self) { try ReplicatedApply.apply([forged], to: slave!) }
        await port.stop()

        // Durable: a fresh open (recovery from the log) has it all.
        try slave!.close()
        slave = nil
        let reopened = try GraphDatabase(directory: dirs.sub("slave"))
        defer { try? reopened.close() }
        #expect(reopened.lastCommittedChecksum == master.lastCommittedChecksum)
        #expect(try graphDump(reopened) == graphDump(master))
    }

    @Test("a push from an older epoch than the slave follows is refused and changes nothing (fencing)")
    func staleEpochRefused() async throws {
        let dirs = DataTestDirectory()
        defer { dirs.cleanup() }
        let master = try GraphDatabase(directory: dirs.sub("master"))
        let slave = try GraphDatabase(directory: dirs.sub("slave"))
        defer { try? master.close(); try? slave.close() }
        try commitChain(master, count: 2)
        let first = try master.committedTransactions(from: TxID(2)).next()!
        let port = try await DataPortFixture.start(slave)
        port.server.setEpoch(Epoch(5), isMaster: false)
        await #expect(throws: DataPortError.staleEpoch(sent: Epoch(4), known: Epoch(5))) {
            try await port.client.push(first, epoch: Epoch(4))
        }
        #expect(slave.lastCommittedTxID == TxID(1))
        // A newer epoch is adopted (a new master's first push may precede the coordination event).
        try await port.client.push(first, epoch: Epoch(6))
        #expect(port.server.epoch == Epoch(6))
        let info = try await port.client.storeInfo()
        #expect(info.epoch == Epoch(6) && !info.isMaster && info.lastCommittedTxID == first.header.txID)
        #expect(info.storeID == slave.storeID)
        await port.stop()
    }

    @Test("a diverged slave is detected: pushes break the chain and the stamps tell BranchDetector 'branched'")
    func divergedChainDetected() async throws {
        let dirs = DataTestDirectory()
        defer { dirs.cleanup() }
        let master = try GraphDatabase(directory: dirs.sub("master"))
        defer { try? master.close() }
        try commitChain(master, count: 5)
        try master.copyStore(to: dirs.sub("slave"))
        let slave = try GraphDatabase(directory: dirs.sub("slave"))
        defer { try? slave.close() }
        // Both commit something different at the same tx id (the slave was master briefly, epoch 2 vs 3).
        slave.setCommitIdentity(serverID: 2, epoch: 2)
        try slave.write { tx in _ = try tx.createNode(labels: ["Item"], properties: ["i": .integer(-1)]) }
        master.setCommitIdentity(serverID: 1, epoch: 3)
        try master.write { tx in _ = try tx.createNode(labels: ["Item"], properties: ["i": .integer(99)]) }
        #expect(slave.lastCommittedTxID == master.lastCommittedTxID)

        let masterPort = try await DataPortFixture.start(master)
        let slaveLast = try #require(try slave.transactionHeader(at: slave.lastCommittedTxID))
        let (masterStamp, masterLast) = try await masterPort.client.stampAndLast(at: slave.lastCommittedTxID)
        let verdict = BranchDetector.compare(
            slaveLast: TransactionStamp(header: slaveLast),
            masterLastCommitted: LogPosition(lastCommittedTx: UInt64(masterLast.rawValue)), masterAtSameTx: masterStamp)
        #expect(verdict == .branched(at: LogPosition(lastCommittedTx: UInt64(slaveLast.txID.rawValue))))
        // The common history still matches.
        let earlier = TxID(slave.lastCommittedTxID.rawValue - 1)
        let same = try await masterPort.client.transactionStamp(at: earlier)
        #expect(same == TransactionStamp(header: try #require(try slave.transactionHeader(at: earlier))))
        await masterPort.stop()

        let slavePort = try await DataPortFixture.start(slave)
        let masterTx = try master.committedTransactions(from: master.lastCommittedTxID).next()!
        await #expect(throws: TransactionLogError.self) {
            try await slavePort.client.push(masterTx, epoch: Epoch(3))
        }
        // Next id after the diverged one: its previous checksum is the master's, not the slave's.
        try master.write { tx in _ = try tx.createNode(labels: ["Item"], properties: ["i": .integer(100)]) }
        let next = try master.committedTransactions(from: master.lastCommittedTxID).next()!
        await #expect(
            throws: TransactionLogError.checksumChainBroken(
                txID: next.header.txID, expectedPrevious: slave.lastCommittedChecksum,
                receivedPrevious: next.header.previousChecksum)
        ) {
            try await slavePort.client.push(next, epoch: Epoch(3))
        }
        await slavePort.stop()
    }

    @Test("a store copy over the port while the master commits opens consistent and catches up by pulling")
    func storeCopyWithConcurrentCommits() async throws {
        let dirs = DataTestDirectory()
        defer { dirs.cleanup() }
        let master = try GraphDatabase(directory: dirs.sub("master"))
        defer { try? master.close() }
        try commitChain(master, count: 200)
        let port = try await DataPortFixture.start(master)
        let done = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            defer { done.signal() }
            try? commitChain(master, count: 100, tag: "during")
        }
        let copied = try await port.client.copyStore(into: dirs.sub("slave"))
        #expect(done.wait(timeout: .now() + 120) == .success)

        let slave = try GraphDatabase(directory: dirs.sub("slave"))
        defer { try? slave.close() }
        #expect(slave.lastCommittedTxID == copied)
        #expect(slave.storeID == master.storeID)
        #expect(try ConsistencyChecker(database: slave).check().isConsistent)
        // No staging leftovers.
        #expect((try? FileManager.default.contentsOfDirectory(atPath: dirs.sub("slave") + "/temp-copy")) ?? [] == [])
        #expect((try? FileManager.default.contentsOfDirectory(atPath: dirs.sub("master") + "/temp-copy")) ?? [] == [])
        _ = try await catchUp(slave, from: port.client, limit: 50)
        #expect(slave.lastCommittedTxID == master.lastCommittedTxID)
        #expect(slave.lastCommittedChecksum == master.lastCommittedChecksum)
        #expect(try graphDump(slave) == graphDump(master))
        // Copying into a directory that holds a store is refused before anything is transferred.
        await #expect(throws: DatabaseError.self) { try await port.client.copyStore(into: dirs.sub("slave")) }
        await port.stop()
    }

    @Test("a pruned log answers transactionsNotAvailable; the slave recovers with a store copy and pulls on")
    func prunedLogNeedsStoreCopy() async throws {
        let dirs = DataTestDirectory()
        defer { dirs.cleanup() }
        let master = try openPruningMaster(dirs)
        defer { try? master.close() }
        try commitChain(master, count: 60)
        try master.checkpoint()
        let port = try await DataPortFixture.start(master)
        let slave = try GraphDatabase(directory: dirs.sub("slave"))
        await #expect {
            _ = try await port.client.pullTransactions(from: TxID(2), limit: 10)
        } throws: { error in
            guard case .transactionsNotAvailable(let requested, let oldest) = error as? TransactionLogError else {
                return false
            }
            return requested == TxID(2) && oldest > TxID(2)
        }
        // The empty slave is discarded and replaced by a copy.
        try slave.close()
        try StoreDirectories.moveToBranched(databaseDirectory: dirs.sub("slave"), keep: .keepNone, now: Date())
        let copied = try await port.client.copyStore(into: dirs.sub("slave"))
        try commitChain(master, count: 5, tag: "after")
        let copy = try GraphDatabase(directory: dirs.sub("slave"))
        defer { try? copy.close() }
        #expect(copy.lastCommittedTxID == copied)
        _ = try await catchUp(copy, from: port.client)
        #expect(copy.lastCommittedChecksum == master.lastCommittedChecksum)
        #expect(try graphDump(copy) == graphDump(master))
        await port.stop()
    }
}
