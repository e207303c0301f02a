import GraphValues
import Testing

@testable import GraphKernel

/// A settable wall clock for age-based retention.
final class TestClock: @unchecked Sendable {
    private let mutex = LogMutex()
    private var millis: Int64
    init(_ millis: Int64) { self.millis = millis }
    var now: Int64 { mutex.withLock { millis } }
    func advance(hours: Int64) { mutex.withLock { millis += hours * 3_600_000 } }
}

@Suite("Transaction log rotation, retention and pruning")
struct LogRotationTests {
    func makeLog(_ dir: LogTestDirectory, rotation: Int64 = 500, retention: RetentionPolicy, clock: TestClock? = nil)
        throws -> TransactionLog
    {
        var clockFunction: (@Sendable () -> Int64)?
        if let clock { clockFunction = { clock.now } }
        return try TransactionLog(
            directory: dir.path, storeID: 5,
            configuration: LogConfiguration(rotationSizeBytes: rotation, retention: retention),
            clock: clockFunction)
    }

    /// Appends `count` transactions of ~150 bytes each (three fit a 500-byte file).
    func fill(_ log: TransactionLog, _ count: Int, from start: Int = 0) throws {
        for n in start..<(start + count) {
            try log.append(payload: testPayload(n, size: 100), masterServerID: 1, epoch: 1)
        }
    }

    @Test("the log rotates by size and every file header continues the chain")
    func rotation() throws {
        let dir = LogTestDirectory()
        let log = try makeLog(dir, retention: .keepAll)
        try fill(log, 20)
        let versions = log.fileVersions
        #expect(versions.count >= 5)
        #expect(versions == Array(0..<Int64(versions.count)))
        #expect(log.statistics.rotations == Int64(versions.count - 1))
        for name in dir.logFiles().dropLast() {
            // Rotation happens before writing into a full file, so a file overshoots by at most one entry.
            #expect(dir.fileSize(name) >= 500 && dir.fileSize(name) < 500 + 200, "\(name)")
        }
        let all = try readAll(log, from: 2)
        #expect(all.map(\.header.txID.rawValue) == Array(2...21))
        for (a, b) in zip(all, all.dropFirst()) { #expect(b.header.previousChecksum == a.header.checksum) }
        // Reading from the middle starts in the right file.
        #expect(try readAll(log, from: 15).map(\.header.txID.rawValue) == Array(15...21))
        try log.close()
        let reopened = try makeLog(dir, retention: .keepAll)
        #expect(reopened.lastCommittedTxID == TxID(21))
        #expect(try readAll(reopened, from: 2).map(\.payload) == all.map(\.payload))
        try reopened.close()
    }

    @Test("keep_none prunes every file the checkpoint no longer needs, and never the ones it does")
    func keepNone() throws {
        let dir = LogTestDirectory()
        let log = try makeLog(dir, retention: .keepNone)
        try fill(log, 20)
        let before = log.fileVersions
        try log.checkpoint(lastAppliedTxID: TxID(10))
        let after = log.fileVersions
        #expect(after.count < before.count)
        #expect(log.oldestAvailableTxID <= TxID(11), "tx 11 is needed for recovery")
        #expect(log.oldestAvailableTxID > TxID(2))
        #expect(try readAll(log, from: 11).map(\.header.txID.rawValue) == Array(11...21))
        #expect {
            _ = try log.transactions(from: TxID(2))
        } throws: { error in
            guard case .transactionsNotAvailable(let requested, let oldest)? = error as? TransactionLogError else {
                return false
            }
            return requested == TxID(2) && oldest == log.oldestAvailableTxID
        }
        // Recovery after pruning still replays from the checkpoint.
        try log.close()
        let reopened = try makeLog(dir, retention: .keepNone)
        let plan = try reopened.recover()
        #expect(plan.checkpointTxID == TxID(10))
        var ids: [Int64] = []
        try plan.transactions().forEach { ids.append($0.header.txID.rawValue) }
        #expect(ids == Array(11...21))
        try reopened.close()
    }

    @Test("keep_all never prunes")
    func keepAll() throws {
        let dir = LogTestDirectory()
        let log = try makeLog(dir, retention: .keepAll)
        try fill(log, 20)
        let before = log.fileVersions
        try log.checkpoint(lastAppliedTxID: TxID(21))
        #expect(log.fileVersions == before)
        #expect(log.statistics.prunedFiles == 0)
        try log.close()
    }

    @Test("'N files' keeps the newest N files")
    func filesPolicy() throws {
        let dir = LogTestDirectory()
        let log = try makeLog(dir, retention: .files(3))
        try fill(log, 30)
        try log.checkpoint(lastAppliedTxID: TxID(31))
        #expect(log.fileVersions.count == 3)
        #expect(dir.logFiles().count == 3)
        try log.close()
    }

    @Test("'N size' keeps the newest files within the size budget")
    func sizePolicy() throws {
        let dir = LogTestDirectory()
        let log = try makeLog(dir, retention: .totalSizeBytes(1500))
        try fill(log, 30)
        try log.checkpoint(lastAppliedTxID: TxID(31))
        // Rotated files by their size, the current one by its entries (its preallocated zeros are free space).
        let current = "neostore.transaction.db.\(log.fileVersions.last!)"
        let total = dir.logFiles().filter { $0 != current }.reduce(log.writePosition) { $0 + dir.fileSize($1) }
        #expect(total <= 1500)
        #expect(total + 700 > 1500, "pruned no more than needed (total \(total))")
        try log.close()
    }

    @Test("'N txs' keeps the files holding the last N transactions")
    func transactionsPolicy() throws {
        let dir = LogTestDirectory()
        let log = try makeLog(dir, retention: .transactions(10))
        try fill(log, 30)
        try log.checkpoint(lastAppliedTxID: TxID(31))
        let oldest = log.oldestAvailableTxID.rawValue
        #expect(oldest <= 31 - 10 + 1, "the last 10 transactions are still there")
        #expect(oldest > 31 - 10 - 5, "older files went (oldest \(oldest))")
        #expect(try readAll(log, from: 22).count == 10)
        try log.close()
    }

    @Test("'N hours' prunes files whose newest transaction is older than N hours")
    func agePolicy() throws {
        let dir = LogTestDirectory()
        let clock = TestClock(1_700_000_000_000)
        let log = try makeLog(dir, retention: .age(.seconds(2 * 3600)), clock: clock)
        try fill(log, 12)  // old transactions
        clock.advance(hours: 3)
        try fill(log, 12, from: 12)  // recent ones
        try log.checkpoint(lastAppliedTxID: TxID(25))
        let oldest = log.oldestAvailableTxID.rawValue
        #expect(oldest > 2, "files with only 3-hour-old transactions were pruned")
        #expect(oldest <= 14, "files with recent transactions stay (oldest \(oldest))")
        try log.close()
    }

    @Test("nothing after the checkpoint is pruned, whatever the policy")
    func checkpointProtects() throws {
        let dir = LogTestDirectory()
        let log = try makeLog(dir, retention: .files(1))
        try fill(log, 20)
        try log.checkpoint(lastAppliedTxID: TxID(3))
        #expect(log.oldestAvailableTxID <= TxID(4))
        #expect(try readAll(log, from: 4).count == 18)
        try log.close()
    }
}
