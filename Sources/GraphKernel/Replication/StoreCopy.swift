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
