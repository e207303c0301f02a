import GraphValues
import Testing

#if canImport(Glibc)
import Glibc
#endif

@testable import GraphKernel

/// These tests work on log files as written without preallocation (`dbms.tx_log.preallocate=false`, and every file
/// of Trellis before it), whose size is their end; `LogPreallocationTests` covers the zero-filled files.
@Suite("Transaction log recovery: torn tails, damage, foreign logs")
struct LogRecoveryTests {
    let plain = LogConfiguration(preallocate: false)

    /// Writes `count` transactions (tx 2 …) and closes; returns the file size before the last entry was appended.
    func writeLog(_ dir: LogTestDirectory, count: Int, storeID: UInt64 = 9) throws -> (sizeBeforeLast: Int64, headers: [TransactionHeader]) {
        let log = try TransactionLog(directory: dir.path, storeID: storeID, configuration: plain)
        var headers: [TransactionHeader] = []
        var sizeBeforeLast: Int64 = 0
        for n in 0..<count {
            if n == count - 1 { sizeBeforeLast = dir.fileSize("neostore.transaction.db.0") }
            headers.append(try log.append(payload: testPayload(n, size: 30 + n), masterServerID: 3, epoch: 1))
        }
        try log.close()
        return (sizeBeforeLast, headers)
    }

    @Test("a torn last entry is truncated at every byte offset and never returned")
    func tornTailAtEveryOffset() throws {
        let dir = LogTestDirectory()
        let (sizeBeforeLast, headers) = try writeLog(dir, count: 5)
        let fullSize = dir.fileSize("neostore.transaction.db.0")
        let pristine = try PosixLogFileSystem().openFile(dir.path + "/neostore.transaction.db.0", create: false)
            .read(at: 0, count: Int(fullSize))
        #expect(fullSize > sizeBeforeLast + 50)
        for cut in sizeBeforeLast..<fullSize {
            // Restore the full file, then cut it inside the last entry.
            let file = try PosixLogFileSystem().openFile(dir.path + "/neostore.transaction.db.0", create: false)
            try file.write(pristine, at: 0)
            try file.truncate(to: cut)
            file.close()
            let log = try TransactionLog(directory: dir.path, storeID: 9, configuration: plain)
            #expect(log.lastCommittedTxID == TxID(5), "cut at \(cut)")
            #expect(log.lastChecksum == headers[3].checksum)
            let plan = try log.recover()
            #expect(plan.truncatedTailBytes == cut - sizeBeforeLast)
            #expect(plan.checkpointTxID == TxID(1))
            var replayed: [Int64] = []
            try plan.transactions().forEach { replayed.append($0.header.txID.rawValue) }
            #expect(replayed == [2, 3, 4, 5])
            #expect(dir.fileSize("neostore.transaction.db.0") == sizeBeforeLast)
            try log.close()
        }
        // The log is usable after the last cut: the next transaction takes the lost one's id.
        let log = try TransactionLog(directory: dir.path, storeID: 9, configuration: plain)
        let header = try log.append(payload: [9], masterServerID: 3, epoch: 1)
        #expect(header.txID == TxID(6))
        #expect(header.previousChecksum == headers[3].checksum)
        try log.close()
    }

    @Test("garbage (a flipped byte) in the last entry is truncated like a torn write")
    func corruptLastEntry() throws {
        let dir = LogTestDirectory()
        let (sizeBeforeLast, _) = try writeLog(dir, count: 3)
        let fullSize = dir.fileSize("neostore.transaction.db.0")
        for offset in [sizeBeforeLast, sizeBeforeLast + 7, sizeBeforeLast + 30, fullSize - 1] {
            let dir2 = LogTestDirectory()
            _ = try writeLog(dir2, count: 3)
            let file = try PosixLogFileSystem().openFile(dir2.path + "/neostore.transaction.db.0", create: false)
            let byte = try file.read(at: offset, count: 1)
            try file.write([byte[0] ^ 0x5A], at: offset)
            file.close()
            let log = try TransactionLog(directory: dir2.path, storeID: 9, configuration: plain)
            #expect(log.lastCommittedTxID == TxID(3), "flipped byte at \(offset)")
            try log.close()
        }
    }

    @Test("a damaged entry followed by valid ones is damage, not a torn tail: opening fails and changes nothing")
    func midLogDamage() throws {
        let dir = LogTestDirectory()
        _ = try writeLog(dir, count: 4)
        let size = dir.fileSize("neostore.transaction.db.0")
        // Flip a payload byte of the first entry (header 64 bytes + 13 frame + 44 tx header + a bit).
        let file = try PosixLogFileSystem().openFile(dir.path + "/neostore.transaction.db.0", create: false)
        let offset = Int64(LogFormat.headerSize + 5 + LogFormat.transactionHeaderSize + 3)
        let byte = try file.read(at: offset, count: 1)
        try file.write([byte[0] ^ 0xFF], at: offset)
        file.close()
        #expect {
            _ = try TransactionLog(directory: dir.path, storeID: 9, configuration: plain)
        } throws: { error in
            (error as? DatabaseError)?.code == .storageDamageDetected && "\(error)".contains("damaged")
        }
        #expect(dir.fileSize("neostore.transaction.db.0") == size)
    }

    @Test("a log of another store is refused and left untouched")
    func foreignStore() throws {
        let dir = LogTestDirectory()
        _ = try writeLog(dir, count: 2, storeID: 1111)
        let size = dir.fileSize("neostore.transaction.db.0")
        #expect {
            _ = try TransactionLog(directory: dir.path, storeID: 2222, configuration: plain)
        } throws: { error in
            (error as? DatabaseError)?.code == .storageDamageDetected && "\(error)".contains("another store")
        }
        #expect(dir.fileSize("neostore.transaction.db.0") == size)
        #expect(dir.logFiles() == ["neostore.transaction.db.0"])
    }

    @Test("a file that is not a log, and a log of a newer format, are refused")
    func notALogAndNewerFormat() throws {
        let dir = LogTestDirectory()
        let file = try PosixLogFileSystem().openFile(dir.path + "/neostore.transaction.db.0", create: true)
        try file.write(Array(repeating: 0x41, count: 100), at: 0)
        file.close()
        #expect { _ = try TransactionLog(directory: dir.path, storeID: 1, configuration: plain) } throws: {
            "\($0)".contains("not a Trellis transaction log")
        }

        let dir2 = LogTestDirectory()
        let header = LogFormat.FileHeader(
            storeID: 1, version: 0, firstTxID: 2, previousChecksum: 0, previousCommitMillis: 0, formatVersion: 99)
        let file2 = try PosixLogFileSystem().openFile(dir2.path + "/neostore.transaction.db.0", create: true)
        try file2.write(LogFormat.encode(header), at: 0)
        file2.close()
        #expect { _ = try TransactionLog(directory: dir2.path, storeID: 1, configuration: plain) } throws: {
            "\($0)".contains("format version 99")
        }
    }

    @Test("a crash while creating a rotated file (torn header) loses nothing")
    func tornRotationHeader() throws {
        let dir = LogTestDirectory()
        let (_, headers) = try writeLog(dir, count: 3)
        // Simulate rotation cut short: the next file exists with half a header.
        let file = try PosixLogFileSystem().openFile(dir.path + "/neostore.transaction.db.1", create: true)
        let header = LogFormat.FileHeader(
            storeID: 9, version: 1, firstTxID: 5, previousChecksum: headers[2].checksum, previousCommitMillis: 0)
        try file.write(Array(LogFormat.encode(header).prefix(20)), at: 0)
        file.close()
        let log = try TransactionLog(directory: dir.path, storeID: 9, configuration: plain)
        #expect(log.lastCommittedTxID == TxID(4))
        #expect(dir.logFiles() == ["neostore.transaction.db.0"])
        #expect(try log.append(payload: [1], masterServerID: 3, epoch: 1).txID == TxID(5))
        try log.close()
    }

    @Test("a missing log file in the middle is reported")
    func missingMiddleFile() throws {
        let dir = LogTestDirectory()
        let log = try TransactionLog(
            directory: dir.path, storeID: 9, configuration: LogConfiguration(rotationSizeBytes: 200, preallocate: false))
        for n in 0..<6 { try log.append(payload: testPayload(n, size: 100), masterServerID: 1, epoch: 1) }
        try log.close()
        #expect(dir.logFiles().count >= 3)
        unlink(dir.path + "/neostore.transaction.db.1")
        #expect { _ = try TransactionLog(directory: dir.path, storeID: 9, configuration: plain) } throws: { "\($0)".contains("missing") }
    }

    @Test("recovery replays from the last checkpoint")
    func recoveryFromCheckpoint() throws {
        let dir = LogTestDirectory()
        do {
            let log = try TransactionLog(directory: dir.path, storeID: 9, configuration: plain)
            for n in 0..<10 { try log.append(payload: testPayload(n), masterServerID: 1, epoch: 1) }
            try log.checkpoint(lastAppliedTxID: TxID(7))
            for n in 10..<12 { try log.append(payload: testPayload(n), masterServerID: 1, epoch: 1) }
            try log.close()
        }
        let log = try TransactionLog(directory: dir.path, storeID: 9, configuration: plain)
        let plan = try log.recover()
        #expect(plan.checkpointTxID == TxID(7))
        #expect(plan.lastCommittedTxID == TxID(13))
        var replayed: [CommittedTransaction] = []
        try plan.transactions().forEach { replayed.append($0) }
        #expect(replayed.map(\.header.txID.rawValue) == [8, 9, 10, 11, 12, 13])
        #expect(replayed.map(\.payload) == (6..<12).map { testPayload($0) })
        try log.close()
    }

    @Test("recovery finds a checkpoint in an earlier rotated file")
    func checkpointInEarlierFile() throws {
        let dir = LogTestDirectory()
        let config = LogConfiguration(rotationSizeBytes: 400, retention: .keepAll, preallocate: false)
        do {
            let log = try TransactionLog(directory: dir.path, storeID: 9, configuration: config)
            for n in 0..<3 { try log.append(payload: testPayload(n, size: 100), masterServerID: 1, epoch: 1) }
            try log.checkpoint(lastAppliedTxID: TxID(3))
            for n in 3..<12 { try log.append(payload: testPayload(n, size: 100), masterServerID: 1, epoch: 1) }
            #expect(log.fileVersions.count >= 3)
            try log.close()
        }
        let log = try TransactionLog(directory: dir.path, storeID: 9, configuration: config)
        let plan = try log.recover()
        #expect(plan.checkpointTxID == TxID(3))
        var ids: [Int64] = []
        try plan.transactions().forEach { ids.append($0.header.txID.rawValue) }
        #expect(ids == Array(4...13))
        try log.close()
    }
}
