import GraphValues
import Testing

@testable import GraphKernel

@Suite("Replicated append and reading for replication")
struct LogReplicationTests {
    @Test("a slave log applying the master's transactions ends identical, keeping ids, epochs and checksums")
    func replicate() throws {
        let masterDir = LogTestDirectory()
        let slaveDir = LogTestDirectory()
        let master = try TransactionLog(directory: masterDir.path, storeID: 77)
        let slave = try TransactionLog(directory: slaveDir.path, storeID: 77)
        for n in 0..<8 { try master.append(payload: testPayload(n), masterServerID: 1, epoch: Int64(n / 3)) }
        let cursor = try master.transactions(from: TxID(2))
        try cursor.forEach { try slave.appendReplicated($0) }
        #expect(slave.lastCommittedTxID == master.lastCommittedTxID)
        #expect(slave.lastChecksum == master.lastChecksum)
        #expect(try readAll(slave, from: 2) == readAll(master, from: 2))
        // The slave continues the chain locally as a new master would.
        let next = try slave.append(payload: [1], masterServerID: 2, epoch: 5)
        #expect(next.previousChecksum == master.lastChecksum)
        try master.close()
        try slave.close()
    }

    @Test("replicated append rejects a gap, a duplicate, a diverged chain and a bad checksum")
    func rejections() throws {
        let masterDir = LogTestDirectory()
        let slaveDir = LogTestDirectory()
        let master = try TransactionLog(directory: masterDir.path, storeID: 77)
        let slave = try TransactionLog(directory: slaveDir.path, storeID: 77)
        for n in 0..<4 { try master.append(payload: testPayload(n), masterServerID: 1, epoch: 1) }
        let txs = try readAll(master, from: 2)
        try slave.appendReplicated(txs[0])

        #expect(throws: TransactionLogError.gap(expected: TxID(3), received: TxID(4))) {
            try slave.appendReplicated(txs[2])
        }
        #expect(throws: TransactionLogError.gap(expected: TxID(3), received: TxID(2))) {
            try slave.appendReplicated(txs[0])
        }
        var tampered = txs[1]
        tampered.payload[0] ^= 1
        #expect(throws: TransactionLogError.checksumMismatch(txID: TxID(3))) { try slave.appendReplicated(tampered) }

        // A branch: another master committed a different tx 3 on top of a different tx 2.
        let otherDir = LogTestDirectory()
        let other = try TransactionLog(directory: otherDir.path, storeID: 77)
        try other.append(payload: [0xEE], masterServerID: 2, epoch: 2)
        try other.append(payload: [0xEF], masterServerID: 2, epoch: 2)
        let foreign = try readAll(other, from: 3)[0]
        #expect {
            try slave.appendReplicated(foreign)
        } throws: { error in
            guard case .checksumChainBroken(let txID, let expected, _)? = error as? TransactionLogError else {
                return false
            }
            return txID == TxID(3) && expected == txs[0].header.checksum
        }
        // Nothing was appended by the rejected attempts.
        #expect(slave.lastCommittedTxID == TxID(2))
        try slave.appendReplicated(txs[1])
        #expect(slave.lastCommittedTxID == TxID(3))
        for log in [master, slave, other] { try log.close() }
    }

    @Test("a new log can start where a copied store ends")
    func startAfterStoreCopy() throws {
        let dir = LogTestDirectory()
        let log = try TransactionLog(directory: dir.path, storeID: 3, initialLastTxID: TxID(500), initialChecksum: 0xABC)
        #expect(log.lastCommittedTxID == TxID(500))
        #expect(log.oldestAvailableTxID == TxID(501))
        let header = try log.append(payload: [1], masterServerID: 1, epoch: 1)
        #expect(header.txID == TxID(501))
        #expect(header.previousChecksum == 0xABC)
        try log.close()
    }

    @Test("a cursor stops at the last transaction durable when it was created")
    func cursorSnapshot() throws {
        let dir = LogTestDirectory()
        let log = try TransactionLog(directory: dir.path, storeID: 3)
        for n in 0..<3 { try log.append(payload: testPayload(n), masterServerID: 1, epoch: 1) }
        let cursor = try log.transactions(from: TxID(2))
        try log.append(payload: [7], masterServerID: 1, epoch: 1)
        var ids: [Int64] = []
        try cursor.forEach { ids.append($0.header.txID.rawValue) }
        #expect(ids == [2, 3, 4])
        #expect(try readAll(log, from: 6).isEmpty)
        try log.close()
    }
}
