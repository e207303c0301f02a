import GraphValues

extension GraphDatabase {
    /// Writes a consistent copy of this store into `directory` (created if missing; it must not hold another store)
    /// and returns the id of the last transaction the copy contains.
    ///
    /// The copy holds every store file as of that transaction, checkpointed, plus the log files from the one holding
    /// that transaction on. Opened with `GraphDatabase(directory:)` it is a valid store whose last committed tx is
    /// the returned id, whose log can answer for that id (branch detection) and continues from it, so
    /// `applyReplicated` / pulls pick up exactly where the copy ends. Every copied file and the directory are fsynced.
    ///
    /// Consistency comes from blocking: commits (and replicated applies) wait while the files are copied, after a
    /// checkpoint that flushes everything committed so far. The pause is the local file copy time (about the store
    /// size divided by the disk's sequential throughput), which is why a network store copy first copies into a
    /// local temporary directory and streams from there. Readers are not blocked.
    ///
    /// With `durable: false` the store and log files are not fsynced (the metadata file still is, it is written
    /// atomically): for a scratch copy that is read back by this process and deleted, such as the staging copy a
    /// network store copy streams from, where fsyncs would only lengthen the pause for commits.
    @discardableResult
    public func copyStore(to directory: String, chunkBytes: Int = 1 << 20, durable: Bool = true) throws -> TxID {
        precondition(chunkBytes > 0, "chunkBytes must be positive")
        let target = fileSystem
        if target.directoryExists(directory) {
            if target.fileExists(directory + "/" + StoreMetadata.fileName) {
                throw DatabaseError(
                    .invalidRequest, "Cannot copy the store into \(directory): it already holds a store")
            }
        } else {
            try target.createDirectory(directory)
        }
        return try withCheckpointedStore { lastTx in
            let names = try fileSystem.listDirectory(self.directory).filter(Self.isCopiedStoreFile)
            for name in names where name != StoreMetadata.fileName {
                try copyFile(
                    from: self.directory + "/" + name, to: directory + "/" + name, chunkBytes: chunkBytes,
                    durable: durable)
            }
            try log.copyFiles(from: lastTx, into: directory, chunkBytes: chunkBytes, durable: durable)
            // The metadata goes last, written atomically (temp file, fsync, rename, directory fsync): until it
            // exists the target does not open as a store, and its rename makes every earlier entry durable too.
            guard let metadata = try readWholeFile(fileSystem, self.directory + "/" + StoreMetadata.fileName) else {
                throw DatabaseError(.storageDamageDetected, "\(self.directory) lost its \(StoreMetadata.fileName) file")
            }
            try writeFileAtomically(fileSystem, directory + "/" + StoreMetadata.fileName, metadata)
            return lastTx
        }
    }

    /// The store files a copy carries: everything in the store directory except the lock, temporary files of
    /// atomic writes, log files (copied by the log) and subdirectories (branches, temp-copy).
    static func isCopiedStoreFile(_ name: String) -> Bool {
        if name == "store_lock" || name.hasSuffix(".tmp") || name.hasPrefix(".") { return false }
        if LogFormat.version(ofFileName: name) != nil { return false }
        return name.hasPrefix("neostore")
    }

    private func copyFile(from source: String, to destination: String, chunkBytes: Int, durable: Bool) throws {
        let input = try fileSystem.open(source, create: false)
        defer { input.close() }
        try? fileSystem.removeFile(destination)
        let output = try fileSystem.open(destination, create: true)
        defer { output.close() }
        let size = try input.size()
        var buffer = [UInt8](repeating: 0, count: chunkBytes)
        var offset: Int64 = 0
        while offset < size {
            let want = Int(min(Int64(chunkBytes), size - offset))
            let got = try buffer.withUnsafeMutableBytes {
                try input.read(at: offset, into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<want]))
            }
            guard got > 0 else {
                throw DatabaseError(.storageDamageDetected, "\(source) ended at byte \(offset), expected \(size)")
            }
            try buffer.withUnsafeBytes { try output.write(at: offset, from: UnsafeRawBufferPointer(rebasing: $0[0..<got])) }
            offset += Int64(got)
        }
        if durable { try output.sync() }
    }
}

/// The files of a store copy that is streamed straight from a live store, without a staging copy.
///
/// Opened under a brief commit pause right after a checkpoint at `checkpointTxID`: every store file is opened then,
/// and the log is pinned from that transaction on. After the pause, commits go on while the files are read, so the
/// record store files read later may hold some pages of transactions after the checkpoint (a "fuzzy" copy, as
/// Neo4j's online backup makes). That is repaired on the receiving side: the metadata file (opened during the pause,
/// so it is the checkpoint's even if a later checkpoint replaces it) names the checkpoint, and the log files sent
/// after the store files run from that transaction to the last one durable when they are listed, which is after
/// every store file was read. Opening the copy then re-applies every transaction after the checkpoint; after-images
/// are idempotent, so pages that already held some of them end up the same. Files that are replaced atomically
/// (metadata, id files, derived snapshot, schema) are read through the descriptors opened during the pause, so
/// they are exactly the checkpoint's; record stores only grow, and a transaction applies only after it is durable,
/// so every change a read can see is in the log range sent.
///
/// Not thread-safe: one streaming task uses it, then calls `close()`.
public final class StoreCopySource: @unchecked Sendable {
    /// One file to send: its name in the store directory, an open handle and how many bytes to send.
    public struct File {
        public let name: String
        public let handle: StorageFile
        public let size: Int64
    }

    /// The checkpoint the copy starts from.
    public let checkpointTxID: TxID
    /// The store files, the metadata file last (the receiver installs it last too).
    public let storeFiles: [File]
    private let log: TransactionLog
    private let fileSystem: StorageFileSystem
    private var opened: [StorageFile]
    private var isClosed = false

    fileprivate init(
        checkpointTxID: TxID, storeFiles: [File], log: TransactionLog, fileSystem: StorageFileSystem
    ) {
        self.checkpointTxID = checkpointTxID
        self.storeFiles = storeFiles
        self.log = log
        self.fileSystem = fileSystem
        self.opened = storeFiles.map(\.handle)
    }

    deinit { close() }

    /// The log files to send after the store files: from the one holding the checkpoint's transaction to the end of
    /// the last durable entry now, and the last transaction they hold (the copy's last transaction once opened).
    /// Call after every store file has been read.
    public func logFiles() throws -> (files: [File], lastTxID: TxID) {
        precondition(!isClosed, "logFiles() after close()")
        let (spans, lastTxID) = try log.durableSpans(from: checkpointTxID)
        var files: [File] = []
        for span in spans {
            let handle = try fileSystem.open(span.path, create: false)
            opened.append(handle)
            files.append(File(name: span.name, handle: handle, size: span.length))
        }
        return (files, lastTxID)
    }

    /// Closes every handle and lets log retention prune again. Idempotent.
    public func close() {
        guard !isClosed else { return }
        isClosed = true
        for handle in opened { handle.close() }
        opened = []
        log.unpinForCopy(checkpointTxID)
    }
}

extension GraphDatabase {
    /// Opens a store copy that is streamed from the live store files (see `StoreCopySource`). Commits pause only for
    /// the checkpoint and for opening the files. The caller must `close()` the source when done.
    public func openStoreCopySource() throws -> StoreCopySource {
        try withCheckpointedStore { lastTx in
            try log.pinForCopy(lastTx)
            var files: [StoreCopySource.File] = []
            do {
                let names = try fileSystem.listDirectory(self.directory).filter(Self.isCopiedStoreFile)
                for name in names.filter({ $0 != StoreMetadata.fileName }) + [StoreMetadata.fileName] {
                    let handle = try fileSystem.open(self.directory + "/" + name, create: false)
                    files.append(StoreCopySource.File(name: name, handle: handle, size: try handle.size()))
                }
            } catch {
                for file in files { file.handle.close() }
                log.unpinForCopy(lastTx)
                throw error
            }
            return StoreCopySource(checkpointTxID: lastTx, storeFiles: files, log: log, fileSystem: fileSystem)
        }
    }
}
