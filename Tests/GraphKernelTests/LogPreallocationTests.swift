import Foundation
import GraphValues
import Testing

#if canImport(Glibc)
import Glibc
#endif

@testable import GraphKernel

/// The zero-filled (preallocated) log files of `dbms.tx_log.preallocate`: the end of a file's entries is found by
/// frame validity, never by its size (docs/operations.md, "Transaction log files").
@Suite("Transaction log preallocation: zero-filled files, torn tails, rotation, readers")
struct LogPreallocationTests {
    static let logPath = "/log/neostore.transaction.db.0"

    /// Small steps so a few kilobytes of entries go through several extensions.
    static func smallSteps(rotation: Int64 = 1 << 30) -> LogConfiguration {
        LogConfiguration(rotationSizeBytes: rotation, retention: .keepAll, preallocationStepBytes: 4096)
    }

    func fileBytes(_ fs: SimulatedFileSystem, _ path: String = logPath) throws -> [UInt8] {
        let file = try fs.openFile(path, create: false)
        return try file.read(at: 0, count: Int(try file.size()))
    }

    @Test("appends overwrite the zero region: the file keeps its size and zeros follow the last entry")
    func appendsOverwriteZeros() throws {
        let fs = SimulatedFileSystem()
        let log = try TransactionLog(directory: "/log", storeID: 1, fileSystem: fs)
        let size = try fileBytes(fs).count
        #expect(size == LogFormat.headerSize + (1 << 20), "a new file starts with 1 MiB zero-filled")
        for n in 0..<20 { try log.append(payload: testPayload(n), masterServerID: 1, epoch: 1) }
        let bytes = try fileBytes(fs)
        #expect(bytes.count == size, "no append grew the file")
        #expect(log.writePosition > Int64(LogFormat.headerSize))
        #expect(bytes[Int(log.writePosition)...].allSatisfy { $0 == 0 })
        #expect(log.statistics.syncs == 20, "one sync per sequential commit")
        try log.close()
        let reopened = try TransactionLog(directory: "/log", storeID: 1, fileSystem: fs)
        #expect(reopened.lastCommittedTxID == TxID(21))
        #expect(try reopened.recover().truncatedTailBytes == 0, "zeros are free space, not a torn tail")
        #expect(try readAll(reopened, from: 2).map(\.payload) == (0..<20).map { testPayload($0) })
        try reopened.close()
    }

    @Test("the zero region is extended ahead of the position in the background, and synced")
    func extensionRunsAhead() throws {
        let fs = SimulatedFileSystem()
        let log = try TransactionLog(directory: "/log", storeID: 1, configuration: Self.smallSteps(), fileSystem: fs)
        for n in 0..<200 {
            try log.append(payload: testPayload(n, size: 100), masterServerID: 1, epoch: 1)
            // Bounded: each wait ends when the background extension finishes.
            log.waitForPreallocation()
            #expect(log.preallocatedEnd > log.writePosition, "after tx \(n)")
        }
        let stats = log.statistics
        #expect(stats.preallocatedBytes >= log.writePosition - 4096 - Int64(LogFormat.headerSize))
        // The extensions were synced: a power loss keeps the zero region (the file does not shrink).
        let size = try fileBytes(fs).count
        fs.crash()
        #expect(try fileBytes(fs).count == size)
        try log.close()
    }

    @Test("a torn last entry followed by zeros is zeroed at every cut; the next append takes its tx id")
    func tornFrameBeforeZeros() throws {
        let fs = SimulatedFileSystem()
        var log = try TransactionLog(directory: "/log", storeID: 1, configuration: Self.smallSteps(), fileSystem: fs)
        for n in 0..<4 { try log.append(payload: testPayload(n, size: 30 + n), masterServerID: 1, epoch: 1) }
        let end = log.writePosition
        let last = try log.append(payload: testPayload(4, size: 34), masterServerID: 1, epoch: 1)
        let fullEnd = log.writePosition
        try log.close()
        let pristine = try fileBytes(fs)
        for cut in end..<fullEnd {
            // The last entry reached the disk only up to `cut`; zeros after it (the preallocated region).
            let file = try fs.openFile(Self.logPath, create: false)
            try file.write(Array(pristine[0..<Int(cut)]), at: 0)
            try file.write([UInt8](repeating: 0, count: Int(fullEnd - cut)), at: cut)
            log = try TransactionLog(directory: "/log", storeID: 1, configuration: Self.smallSteps(), fileSystem: fs)
            #expect(log.lastCommittedTxID == TxID(5), "cut at \(cut)")
            #expect(log.writePosition == end)
            let bytes = try fileBytes(fs)
            #expect(bytes.count == pristine.count, "the file keeps its preallocated size")
            #expect(bytes[Int(end)...].allSatisfy { $0 == 0 }, "the torn bytes are zeroed (cut \(cut))")
            #expect(try readAll(log, from: 2).map(\.header.txID) == (2...5).map { TxID(Int64($0)) })
            try log.close()
        }
        log = try TransactionLog(directory: "/log", storeID: 1, configuration: Self.smallSteps(), fileSystem: fs)
        let header = try log.append(payload: [9], masterServerID: 1, epoch: 1)
        #expect(header.txID == last.txID, "the lost entry's id is reused")
        try log.close()
    }

    @Test("stale entries after a zero gap (unsynced writes that reached the disk out of order) are zeroed too")
    func staleBytesAfterGap() throws {
        let fs = SimulatedFileSystem()
        var log = try TransactionLog(directory: "/log", storeID: 1, fileSystem: fs)
        for n in 0..<3 { try log.append(payload: testPayload(n), masterServerID: 1, epoch: 1) }
        let end = log.writePosition
        // Two more entries written but never synced.
        _ = try log.appendWithoutWaiting(payload: testPayload(3), masterServerID: 1, epoch: 1)
        let middle = log.writePosition
        _ = try log.appendWithoutWaiting(payload: testPayload(4), masterServerID: 1, epoch: 1)
        let written = log.writePosition
        log.abandonForCrashTest()
        // The first of them was lost, the second reached the disk: valid bytes after a zero gap.
        let file = try fs.openFile(Self.logPath, create: false)
        try file.write([UInt8](repeating: 0, count: Int(middle - end)), at: end)
        log = try TransactionLog(directory: "/log", storeID: 1, fileSystem: fs)
        #expect(log.lastCommittedTxID == TxID(4))
        let zeroed = try log.recover().truncatedTailBytes
        #expect(zeroed > 0 && zeroed <= written - end)
        #expect(try fileBytes(fs)[Int(end)...].allSatisfy { $0 == 0 }, "no later reader can find the stale entry")
        let header = try log.append(payload: [7], masterServerID: 1, epoch: 1)
        #expect(header.txID == TxID(5))
        try log.close()
        log = try TransactionLog(directory: "/log", storeID: 1, fileSystem: fs)
        #expect(try readAll(log, from: 2).map(\.payload) == (0..<3).map { testPayload($0) } + [[7]])
        try log.close()
    }

    @Test("power loss at any moment, mid-extension included, keeps every acknowledged append")
    func crashDuringExtensions() throws {
        for round in 0..<6 {
            let fs = SimulatedFileSystem()
            let log = try TransactionLog(
                directory: "/log", storeID: 1, configuration: Self.smallSteps(rotation: 24 << 10), fileSystem: fs)
            let acknowledged = LogMutex()
            nonisolated(unsafe) var acked: [Int64] = []
            let done = DispatchSemaphore(value: 0)
            let writer = Thread {
                defer { done.signal() }
                var n = 0
                while true {
                    guard let header = try? log.append(payload: testPayload(n, size: 150), masterServerID: 1, epoch: 1)
                    else { return }
                    acknowledged.withLock { acked.append(header.txID.rawValue) }
                    n += 1
                }
            }
            writer.start()
            // Let the writer go through some extensions (and a rotation in later rounds), then cut the power: I/O
            // fails from now on (the writer stops at its next write or sync), and unsynced writes are lost.
            let wanted = 20 + round * 40
            let deadline = Date().addingTimeInterval(30)
            while acknowledged.withLock({ acked.count }) < wanted && Date() < deadline { usleep(200) }
            fs.failAllIO = true
            #expect(done.wait(timeout: .now() + 30) == .success)
            log.abandonForCrashTest()
            fs.crash()
            fs.failAllIO = false
            let ids = acknowledged.withLock { acked }
            #expect(ids.count >= wanted, "round \(round)")
            let reopened = try TransactionLog(
                directory: "/log", storeID: 1, configuration: Self.smallSteps(rotation: 24 << 10), fileSystem: fs)
            #expect(reopened.lastCommittedTxID.rawValue >= (ids.last ?? 1), "round \(round)")
            let read = try readAll(reopened, from: 2)
            #expect(read.map(\.header.txID.rawValue) == Array(2...reopened.lastCommittedTxID.rawValue))
            #expect(read.prefix(ids.count).map(\.payload) == (0..<ids.count).map { testPayload($0, size: 150) })
            try reopened.close()
        }
    }

    @Test("rotation cuts a preallocated file at its last entry and starts the next one zero-filled")
    func rotationOfPreallocatedFiles() throws {
        let fs = SimulatedFileSystem()
        let log = try TransactionLog(
            directory: "/log", storeID: 1, configuration: Self.smallSteps(rotation: 8192), fileSystem: fs)
        for n in 0..<200 { try log.append(payload: testPayload(n, size: 120), masterServerID: 1, epoch: 1) }
        log.waitForPreallocation()
        let versions = log.fileVersions
        #expect(versions.count > 3)
        for version in versions.dropLast() {
            // Walk the entries: the last one ends exactly at the end of the file.
            let file = try fs.openFile(log.path(ofVersion: version), create: false)
            let scanner = LogFileScanner(file: file)
            var offset = Int64(LogFormat.headerSize)
            while case .frame(_, _, let length) = try scanner.readFrame(at: offset) { offset += length }
            let size = try file.size()
            #expect(offset == size, "file \(version) ends at its last entry")
            #expect(offset >= 8192)
        }
        let current = try fileBytes(fs, log.path(ofVersion: versions.last!))
        #expect(Int64(current.count) > log.writePosition, "the current file is preallocated")
        #expect(current[Int(log.writePosition)...].allSatisfy { $0 == 0 })
        #expect(try readAll(log, from: 2).map(\.payload) == (0..<200).map { testPayload($0, size: 120) })
        try log.close()
    }

    /// The zero region never passes the rotation size, so normally a file is full when it rotates; it is not when
    /// `dbms.tx_log.rotation.size` was lowered since the file was preallocated.
    @Test("rotation cuts the zero region of a file preallocated beyond a since lowered rotation size")
    func rotationAfterLoweringRotationSize() throws {
        let fs = SimulatedFileSystem()
        var log = try TransactionLog(
            directory: "/log", storeID: 1, configuration: LogConfiguration(retention: .keepAll), fileSystem: fs)
        for n in 0..<5 { try log.append(payload: testPayload(n, size: 120), masterServerID: 1, epoch: 1) }
        let end = log.writePosition
        try log.close()
        #expect(try fileBytes(fs).count > 1 << 20)
        log = try TransactionLog(
            directory: "/log", storeID: 1, configuration: Self.smallSteps(rotation: 512), fileSystem: fs)
        try log.append(payload: testPayload(5, size: 120), masterServerID: 1, epoch: 1)
        #expect(log.fileVersions == [0, 1])
        #expect(try fileBytes(fs).count == Int(end), "the rotated file ends at its last entry")
        #expect(try readAll(log, from: 2).map(\.payload) == (0..<6).map { testPayload($0, size: 120) })
        try log.close()
    }

    @Test("a reader following the active file sees exactly the committed transactions, never the zeros")
    func readerFollowsActiveFile() throws {
        let dir = LogTestDirectory()
        let log = try TransactionLog(directory: dir.path, storeID: 1, configuration: Self.smallSteps())
        let total = 300
        let done = DispatchSemaphore(value: 0)
        let writer = Thread {
            defer { done.signal() }
            for n in 0..<total {
                _ = try? log.append(payload: testPayload(n, size: 60 + n % 50), masterServerID: 1, epoch: 1)
            }
        }
        writer.start()
        var seen: [CommittedTransaction] = []
        var next: Int64 = 2
        let deadline = Date().addingTimeInterval(60)
        while seen.count < total && Date() < deadline {
            let cursor = try log.transactions(from: TxID(next))
            while let transaction = try cursor.next() {
                seen.append(transaction)
                next += 1
            }
        }
        #expect(done.wait(timeout: .now() + 30) == .success)
        #expect(seen.map(\.header.txID.rawValue) == Array(2...Int64(total + 1)))
        #expect(seen.map(\.payload) == (0..<total).map { testPayload($0, size: 60 + $0 % 50) })
        // Written but not yet durable: not visible to a reader.
        let pending = try log.appendWithoutWaiting(payload: [1, 2, 3], masterServerID: 1, epoch: 1)
        #expect(try log.transactions(from: pending.txID).next() == nil)
        try log.waitUntilDurable(pending.txID)
        #expect(try log.transactions(from: pending.txID).next()?.payload == [1, 2, 3])
        try log.close()
    }

    @Test("files written without preallocation open with it (and the other way round) and lose nothing")
    func switchingPreallocation() throws {
        let dir = LogTestDirectory()
        let name = "neostore.transaction.db.0"
        var log = try TransactionLog(
            directory: dir.path, storeID: 1, configuration: LogConfiguration(preallocate: false))
        for n in 0..<10 { try log.append(payload: testPayload(n), masterServerID: 1, epoch: 1) }
        let plainEnd = log.writePosition
        try log.close()
        #expect(dir.fileSize(name) == plainEnd, "no zero region without preallocation")

        log = try TransactionLog(directory: dir.path, storeID: 1)
        log.waitForPreallocation()
        #expect(dir.fileSize(name) > plainEnd, "an old file gets a zero region")
        for n in 10..<20 { try log.append(payload: testPayload(n), masterServerID: 1, epoch: 1) }
        let end = log.writePosition
        try log.close()

        log = try TransactionLog(
            directory: dir.path, storeID: 1, configuration: LogConfiguration(preallocate: false))
        #expect(dir.fileSize(name) == end, "without preallocation the zeros are cut off again")
        #expect(try log.recover().truncatedTailBytes > 0)
        #expect(try readAll(log, from: 2).map(\.payload) == (0..<20).map { testPayload($0) })
        try log.close()
    }

    @Test("a store copy of a preallocated log carries its entries only")
    func copyFilesStopsAtEntries() throws {
        let fs = SimulatedFileSystem()
        let log = try TransactionLog(directory: "/log", storeID: 1, fileSystem: fs)
        for n in 0..<10 { try log.append(payload: testPayload(n), masterServerID: 1, epoch: 1) }
        try log.copyFiles(from: TxID(2), into: "/copy")
        #expect(try fileBytes(fs, "/copy/neostore.transaction.db.0").count == Int(log.writePosition))
        let spans = try log.durableSpans(from: TxID(2))
        #expect(spans.spans.map(\.length) == [log.writePosition])
        try log.close()
    }

    @Test("dbms.tx_log.preallocate parses as a boolean and defaults to true")
    func setting() throws {
        #expect(LogConfiguration().preallocate)
        #expect(try LogConfiguration(settings: ["dbms.tx_log.preallocate": "false"]).preallocate == false)
        #expect(try LogConfiguration(settings: ["dbms.tx_log.preallocate": " TRUE "]).preallocate)
        #expect(throws: ConfigurationError.self) {
            try LogConfiguration(settings: ["dbms.tx_log.preallocate": "sometimes"])
        }
    }
}
