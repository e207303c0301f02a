import Dispatch
import Foundation
import GraphValues
import Testing

#if canImport(Glibc)
import Glibc
#endif

@testable import GraphKernel

@Suite("Transaction log under disk faults and concurrency")
struct LogFaultTests {
    @Test("disk full fails that append cleanly at every cut of the entry; the log stays valid and usable")
    func outOfSpace() throws {
        let dir = LogTestDirectory()
        let fs = FaultInjectingLogFileSystem()
        let log = try TransactionLog(directory: dir.path, storeID: 1, fileSystem: fs)
        for n in 0..<3 { try log.append(payload: testPayload(n), masterServerID: 1, epoch: 1) }
        let end = log.writePosition
        for cut in [0, 1, 5, 20, 60, 96] {
            fs.failWrites(afterBytes: cut)
            #expect {
                try log.append(payload: testPayload(99), masterServerID: 1, epoch: 1)
            } throws: { error in
                (error as? DatabaseError)?.code == .transactionCommitFailed && "\(error)".contains("No space left")
            }
            // The partial entry is gone: the file ends at the last entry, or only zeros follow it (preallocation).
            #expect(log.writePosition == end)
            #expect(dir.bytesAfter(end, of: "neostore.transaction.db.0").allSatisfy { $0 == 0 }, "cut \(cut)")
            #expect(log.lastCommittedTxID == TxID(4))
        }
        fs.heal()
        let header = try log.append(payload: testPayload(3), masterServerID: 1, epoch: 1)
        #expect(header.txID == TxID(5), "the failed appends used no tx id")
        try log.close()
        let reopened = try TransactionLog(directory: dir.path, storeID: 1)
        #expect(reopened.lastCommittedTxID == TxID(5))
        #expect(try readAll(reopened, from: 2).map(\.payload) == (0..<4).map { testPayload($0) })
        try reopened.close()
    }

    @Test("a failed fsync is fatal: that append and every later one fail, nothing is retried")
    func fsyncFailure() throws {
        let dir = LogTestDirectory()
        let fs = FaultInjectingLogFileSystem()
        let log = try TransactionLog(directory: dir.path, storeID: 1, fileSystem: fs)
        try log.append(payload: [1], masterServerID: 1, epoch: 1)
        fs.failNextSync()
        #expect {
            try log.append(payload: [2], masterServerID: 1, epoch: 1)
        } throws: { "\($0)".contains("has failed") && "\($0)".contains("fdatasync") }
        #expect(log.failureReason != nil)
        #expect(throws: DatabaseError.self) { try log.append(payload: [3], masterServerID: 1, epoch: 1) }
        #expect(throws: DatabaseError.self) { try log.checkpoint(lastAppliedTxID: TxID(2)) }
        #expect(log.lastCommittedTxID == TxID(2), "the unsynced transaction is not reported committed")
    }

    @Test("an I/O error while writing is fatal")
    func writeError() throws {
        let dir = LogTestDirectory()
        let fs = FaultInjectingLogFileSystem()
        let log = try TransactionLog(directory: dir.path, storeID: 1, fileSystem: fs)
        fs.failWrites(afterBytes: 10, errno: EIO)
        #expect(throws: DatabaseError.self) { try log.append(payload: [2], masterServerID: 1, epoch: 1) }
        fs.heal()
        #expect { try log.append(payload: [2], masterServerID: 1, epoch: 1) } throws: { "\($0)".contains("has failed") }
    }

    @Test("group commit: concurrent appenders are all durable and share syncs")
    func groupCommit() throws {
        let dir = LogTestDirectory()
        let fs = FaultInjectingLogFileSystem()
        let log = try TransactionLog(directory: dir.path, storeID: 1, fileSystem: fs)
        // A sync that takes 2 ms (a fast SSD) guarantees that appenders arrive while one is in progress; dedicated
        // threads (not the dispatch pool, which runs only as many as there are cores) make all 8 really concurrent.
        fs.delaySyncs(microseconds: 2_000)
        let syncsBefore = fs.syncCount
        let threads = 8
        let perThread = 40
        let group = DispatchGroup()
        let results = LogMutex()
        nonisolated(unsafe) var ids: [Int64] = []
        nonisolated(unsafe) var errors: [Error] = []
        for t in 0..<threads {
            group.enter()
            let thread = Thread {
                defer { group.leave() }
                for n in 0..<perThread {
                    do {
                        let header = try log.append(payload: testPayload(t * 1000 + n), masterServerID: 1, epoch: 1)
                        results.withLock { ids.append(header.txID.rawValue) }
                    } catch {
                        results.withLock { errors.append(error) }
                    }
                }
            }
            thread.start()
        }
        #expect(group.wait(timeout: .now() + 60) == .success)
        #expect(errors.isEmpty)
        let appends = threads * perThread
        #expect(ids.sorted() == Array(2...Int64(appends + 1)))
        let syncs = fs.syncCount - syncsBefore
        #expect(syncs < appends, "\(syncs) syncs for \(appends) appends")
        #expect(log.statistics.syncs == Int64(syncs))
        try log.close()
        let reopened = try TransactionLog(directory: dir.path, storeID: 1)
        #expect(reopened.lastCommittedTxID == TxID(Int64(appends + 1)))
        let payloads = Set(try readAll(reopened, from: 2).map(\.payload))
        #expect(payloads == Set((0..<threads).flatMap { t in (0..<perThread).map { testPayload(t * 1000 + $0) } }))
        try reopened.close()
    }

    @Test("appendWithoutWaiting then waitUntilDurable: several writes share one sync")
    func deferredDurability() throws {
        let dir = LogTestDirectory()
        let fs = FaultInjectingLogFileSystem()
        let log = try TransactionLog(directory: dir.path, storeID: 1, fileSystem: fs)
        let before = fs.syncCount
        let headers = try (0..<5).map { try log.appendWithoutWaiting(payload: testPayload($0), masterServerID: 1, epoch: 1) }
        #expect(log.lastCommittedTxID == TxID(1), "written but not yet durable")
        try log.waitUntilDurable(headers[4].txID)
        #expect(log.lastCommittedTxID == TxID(6))
        try log.waitUntilDurable(headers[0].txID)
        #expect(fs.syncCount - before == 1)
        try log.close()
    }

    @Test("concurrent appends across rotations keep every file's chain intact")
    func concurrentRotation() throws {
        let dir = LogTestDirectory()
        let log = try TransactionLog(
            directory: dir.path, storeID: 1, configuration: LogConfiguration(rotationSizeBytes: 2000, retention: .keepAll))
        let group = DispatchGroup()
        for t in 0..<4 {
            DispatchQueue.global().async(group: group) {
                for n in 0..<50 { _ = try? log.append(payload: testPayload(t * 100 + n, size: 90), masterServerID: 1, epoch: 1) }
            }
        }
        #expect(group.wait(timeout: .now() + 60) == .success)
        #expect(log.lastCommittedTxID == TxID(201))
        #expect(log.fileVersions.count > 5)
        try log.close()
        let reopened = try TransactionLog(directory: dir.path, storeID: 1)
        let all = try readAll(reopened, from: 2)
        #expect(all.count == 200)
        for (a, b) in zip(all, all.dropFirst()) { #expect(b.header.previousChecksum == a.header.checksum) }
        try reopened.close()
    }
}
