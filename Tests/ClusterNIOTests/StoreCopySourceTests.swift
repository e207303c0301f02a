import Foundation
import GraphKernel
import GraphValues
import Testing

/// Writes what a streamed store copy sends, in its order (store files, log files, metadata last), into `directory`.
private func writeCopy(_ source: StoreCopySource, into directory: String) throws -> TxID {
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    func write(_ file: StoreCopySource.File) throws {
        var bytes = [UInt8](repeating: 0, count: Int(file.size))
        var filled = 0
        while filled < bytes.count {
            let got = try bytes.withUnsafeMutableBytes {
                try file.handle.read(
                    at: Int64(filled), into: UnsafeMutableRawBufferPointer(rebasing: $0[filled...]))
            }
            #expect(got > 0)
            if got == 0 { break }
            filled += got
        }
        try Data(bytes).write(to: URL(fileURLWithPath: directory + "/" + file.name))
    }
    for file in source.storeFiles where file.name != "neostore" { try write(file) }
    let (logFiles, lastTxID) = try source.logFiles()
    #expect(!logFiles.isEmpty)
    for file in logFiles { try write(file) }
    for file in source.storeFiles where file.name == "neostore" { try write(file) }
    return lastTxID
}

@Suite("Store copy source: streamed from the live store")
struct StoreCopySourceTests {
    @Test("files read after later commits reached them (updates, deletes, a checkpoint, pruning) open as the master")
    func fuzzyCopyRecovers() throws {
        let dirs = DataTestDirectory()
        defer { dirs.cleanup() }
        // Small files and no retention: the checkpoint below would prune the copy's log files without the pin.
        let master = try openPruningMaster(dirs, rotationBytes: 8192)
        defer { try? master.close() }
        try commitChain(master, count: 150)
        let source = try master.openStoreCopySource()
        defer { source.close() }
        let checkpoint = source.checkpointTxID
        #expect(checkpoint == master.lastCommittedTxID)

        // After the pause: new records, changed and deleted old ones, flushed into the very files the source
        // reads by a checkpoint (which also replaces the metadata, id files and derived snapshot on disk).
        try commitChain(master, count: 100, tag: "during")
        try master.write { tx in
            let nodes = Array(try tx.allNodes().prefix(40))
            for node in nodes.prefix(20) {
                for rel in try tx.relationships(of: node) { try tx.deleteRelationship(rel.id) }
                try tx.deleteNode(node)
            }
            for node in nodes.suffix(20) { try tx.setNodeProperty(node, "tag", .string("changed after the pause")) }
        }
        try master.checkpoint()
        try commitChain(master, count: 30, tag: "after checkpoint")

        let lastTxID = try writeCopy(source, into: dirs.sub("copy"))
        #expect(lastTxID == master.lastCommittedTxID)
        let copy = try GraphDatabase(directory: dirs.sub("copy"))
        defer { try? copy.close() }
        #expect(copy.storeID == master.storeID)
        #expect(copy.lastCommittedTxID == lastTxID)
        #expect(Int64(copy.recoveredTransactionCount) == lastTxID.rawValue - checkpoint.rawValue)
        #expect(copy.lastCommittedChecksum == master.lastCommittedChecksum)
        #expect(try ConsistencyChecker(database: copy).check().isConsistent)
        #expect(try graphDump(copy) == graphDump(master))
        // The copy continues from there: the master's next transaction applies on it.
        try commitChain(master, count: 1, tag: "next")
        try master.committedTransactions(from: TxID(lastTxID.rawValue + 1)).forEach { try copy.applyReplicated($0) }
        #expect(try graphDump(copy) == graphDump(master))
    }

    @Test("log retention prunes again once the source is closed")
    func closeUnpins() throws {
        let dirs = DataTestDirectory()
        defer { dirs.cleanup() }
        let master = try openPruningMaster(dirs)
        defer { try? master.close() }
        try commitChain(master, count: 40)
        let source = try master.openStoreCopySource()
        let pinned = source.checkpointTxID
        try commitChain(master, count: 40, tag: "more")
        try master.checkpoint()
        // Still there while pinned.
        #expect(try master.committedTransactions(from: pinned).next()?.header.txID == pinned)
        source.close()
        try commitChain(master, count: 1, tag: "last")
        try master.checkpoint()
        #expect(throws: TransactionLogError.self) { try master.committedTransactions(from: pinned).next() }
    }
}
