import GraphValues

// MARK: - Public values

/// What the log records about every committed transaction besides its payload.
public struct TransactionHeader: Sendable, Hashable {
    public var txID: TxID
    /// The checksum of the transaction before this one (the chain; 0 before the store's first transaction).
    public var previousChecksum: UInt64
    /// XXH64 over (tx id, commit time, master server id, epoch, payload), seeded with `previousChecksum`.
    public var checksum: UInt64
    public var commitTimestampMillis: Int64
    /// The `ha.server_id` of the master that committed the transaction (HA branch detection).
    public var masterServerID: Int32
    /// The master's epoch (election generation) when it committed.
    public var epoch: Int64

    public init(
        txID: TxID, previousChecksum: UInt64, checksum: UInt64, commitTimestampMillis: Int64,
        masterServerID: Int32, epoch: Int64
    ) {
        self.txID = txID
        self.previousChecksum = previousChecksum
        self.checksum = checksum
        self.commitTimestampMillis = commitTimestampMillis
        self.masterServerID = masterServerID
        self.epoch = epoch
    }
}

/// A committed transaction as the log stores and ships it. The payload is the store's serialized commands; the log
/// never looks inside.
public struct CommittedTransaction: Sendable, Hashable {
    public var header: TransactionHeader
    public var payload: [UInt8]

    public init(header: TransactionHeader, payload: [UInt8]) {
        self.header = header
        self.payload = payload
    }

    /// Whether `header.checksum` matches the content and `header.previousChecksum`.
    public var hasValidChecksum: Bool {
        header.checksum
            == LogFormat.checksum(
                txID: header.txID.rawValue, commitMillis: header.commitTimestampMillis,
                masterServerID: header.masterServerID, epoch: header.epoch, payload: payload,
                previous: header.previousChecksum)
    }
}

/// Failures the cluster and backup must tell apart (everything else is thrown as `DatabaseError`).
public enum TransactionLogError: Error, Sendable, Hashable, CustomStringConvertible {
    /// `appendReplicated` received a transaction that does not directly follow the last one in the log.
    case gap(expected: TxID, received: TxID)
    /// `appendReplicated` received a transaction whose previous checksum is not the log's last checksum: the two
    /// logs have diverged (an HA branch).
    case checksumChainBroken(txID: TxID, expectedPrevious: UInt64, receivedPrevious: UInt64)
    /// `appendReplicated` received a transaction whose checksum does not match its content.
    case checksumMismatch(txID: TxID)
    /// The requested transactions were pruned (or never existed here): a full store copy is needed.
    case transactionsNotAvailable(requested: TxID, oldestAvailable: TxID)

    public var description: String {
        switch self {
        case .gap(let expected, let received):
            return "Cannot append \(received): the log expects \(expected) next"
        case .checksumChainBroken(let txID, let expected, let received):
            return "Cannot append \(txID): its previous checksum \(logHex(received)) does not match the log's last "
                + "checksum \(logHex(expected)); the logs have diverged"
        case .checksumMismatch(let txID):
            return "Cannot append \(txID): its checksum does not match its content"
        case .transactionsNotAvailable(let requested, let oldest):
            return "\(requested) is no longer in the transaction log (oldest available: \(oldest)); "
                + "a full store copy is needed"
        }
    }

    /// The client-visible form.
    public var databaseError: DatabaseError {
        switch self {
        case .transactionsNotAvailable: return DatabaseError(.databaseUnavailable, description)
        default: return DatabaseError(.transactionCommitFailed, description)
        }
    }
}

/// Counters of one open log.
public struct TransactionLogStatistics: Sendable, Hashable {
    /// Transactions appended (local and replicated) since open.
    public var appendedTransactions: Int64 = 0
    /// Data syncs of log files (`fdatasync`); fewer than appends when group commit shares them.
    public var syncs: Int64 = 0
    public var rotations: Int64 = 0
    /// Time spent rotating (sync of the old file, creating the new one), in total and for the last rotation.
    public var rotationNanosTotal: Int64 = 0
    public var lastRotationNanos: Int64 = 0
    public var checkpoints: Int64 = 0
    public var prunedFiles: Int64 = 0
    public var bytesWritten: Int64 = 0
    /// Zero bytes written (and synced) ahead of the write position by background preallocation.
    public var preallocatedBytes: Int64 = 0
    /// Appends that had to wait for the zero-filling because they outran it (should stay near 0).
    public var preallocationWaits: Int64 = 0
}

/// What `recover()` found: the last checkpoint and the committed transactions after it, which the store must
/// re-apply (idempotently) before serving.
public struct RecoveryPlan: Sendable {
    /// The last transaction the store had applied and flushed at its last checkpoint (the log's base when the log has
    /// no checkpoint yet).
    public let checkpointTxID: TxID
    /// The last complete, durable transaction in the log.
    public let lastCommittedTxID: TxID
    public let lastChecksum: UInt64
    /// Bytes of a torn or partial tail entry removed when the log was opened (0 after a clean shutdown): cut off, or
    /// overwritten with zeros in a preallocated file.
    public let truncatedTailBytes: Int64
    let log: TransactionLog

    /// The transactions to replay: checkpointTxID + 1 … lastCommittedTxID, read lazily.
    public func transactions() throws -> TransactionCursor {
        try log.transactions(from: TxID(checkpointTxID.rawValue + 1))
    }
}

// MARK: - The log

/// The write-ahead transaction log: `neostore.transaction.db.N` files in the store directory.
///
/// - Appends assign consecutive tx ids, chain checksums, and return only once the entry is durable. Concurrent
///   appenders share syncs (group commit): whoever finds no sync running becomes the leader, syncs everything
///   written so far with the lock released, and wakes the others; those whose entries were covered return, the rest
///   elect the next leader. Entries are written under the lock, so the file is always a valid prefix.
/// - A failed sync or a write error other than disk full is fatal: the log stops accepting appends (PostgreSQL's
///   "fsync failure = PANIC" lesson: the kernel may have dropped the dirty pages, retrying would lie). Restart and
///   recovery decide what is durable.
/// - Disk full (ENOSPC/EDQUOT) fails that append only: the partial entry is truncated away, the tx id is not used.
/// - Rotation by size: before writing into a file that reached `rotationSizeBytes`, the file is synced and a new
///   one created whose header carries the chain (first tx id, previous checksum).
/// - Retention: after each checkpoint, whole rotated files are pruned oldest first as the policy allows, never one
///   holding a transaction after the checkpoint.
/// - Opening validates every file header (store id, format), then scans the last file; a torn or partial last
///   entry is truncated. A bad entry followed by a valid one is damage, not a torn write, and opening fails.
/// - Preallocation (`LogConfiguration.preallocate`): the current file is kept zero-filled ahead of the write
///   position, so appends overwrite blocks that are already allocated and written, and a commit's `fdatasync` has
///   no inode (file size, extent) to write. The log's end is therefore where the frames stop being valid, never the
///   file size: an all-zero frame header ends a file for every reader. A background thread extends the zero region
///   by `preallocationStepBytes` when the position has used half of it, publishing each 1 MiB chunk as it is
///   written (an append that would cross the published end waits for the next chunk instead of racing the
///   zero-filler), then syncs once. Rotation cuts the file at its last entry, so rotated files are exact, and starts
///   the next file with its first chunk already zeroed. At open after a crash, whatever non-zero bytes follow the
///   last valid entry (a torn frame, unsynced frames) are overwritten with zeros before anything is appended.
///
/// Thread-safe.
public final class TransactionLog: @unchecked Sendable {
    public let directory: String
    public let storeID: UInt64
    public let configuration: LogConfiguration

    private let fileSystem: LogFileSystem
    private let clock: @Sendable () -> Int64
    private let mutex = LogMutex()

    // MARK: State guarded by `mutex`
    private struct FileInfo {
        var version: Int64
        var firstTxID: Int64
        var previousChecksum: UInt64
        var previousCommitMillis: Int64
        var sizeBytes: Int64
    }
    private var files: [FileInfo]
    private var current: LogFile
    private var position: Int64
    private var lastTxID: Int64
    private var lastTxChecksum: UInt64
    private var lastCommitMillis: Int64
    /// Every written entry (transaction or checkpoint) gets the next sequence number; durability is tracked by it.
    private var appendedSequence: UInt64 = 0
    private var durableSequence: UInt64 = 0
    private var durableTxID: Int64
    private var durableChecksum: UInt64
    /// Where the durable entries end: file version and byte offset (a streamed store copy sends up to here).
    private var durableEnd: (version: Int64, offset: Int64)
    /// First transactions of streamed store copies in progress: retention keeps the files holding them.
    private var copyPins: [Int64] = []
    private var syncInProgress = false
    /// Group-commit gathering: a new leader briefly waits for the committers the previous sync covered.
    private var leaderIsGathering = false
    private var lastSyncBatch: UInt64 = 1
    private var lastSyncNanos: UInt64 = 0
    private var failure: DatabaseError?
    private var isClosed = false
    private var lastCheckpointTxID: Int64?
    private var truncatedTailBytes: Int64 = 0
    /// End of the zero-filled region of the current file: bytes `position..<allocatedEnd` are zeros already written
    /// (by preallocation), so an append ending there overwrites allocated blocks. Equals `position` when nothing is
    /// preallocated.
    private var allocatedEnd: Int64
    /// A background extension of the zero region is running (it only writes beyond `allocatedEnd`).
    private var extensionRunning = false
    /// Asks the running extension to stop after its current chunk (rotation, close, a failed append).
    private var extensionCancelled = false
    /// After an extension ran out of space, the next one waits until the position has moved on this far.
    private var extensionRetryPosition: Int64 = 0
    private var stats = TransactionLogStatistics()
    private var rotationsTimed: Int64 = 0

    /// Opens the log in `directory`, creating the first file when there is none.
    ///
    /// - Parameters:
    ///   - storeID: the store the log belongs to; a file of another store is refused before anything is modified.
    ///   - initialLastTxID / initialChecksum: where a new log starts (only used when the directory has no log file;
    ///     a new store's last tx id is 1). A store copied without logs passes its own last tx id and checksum.
    ///   - clock: wall clock in milliseconds (commit timestamps, age retention); tests inject one.
    public init(
        directory: String, storeID: UInt64, configuration: LogConfiguration = .default,
        fileSystem: LogFileSystem = PosixLogFileSystem(), initialLastTxID: TxID = TxID(1),
        initialChecksum: UInt64 = 0, clock: (@Sendable () -> Int64)? = nil
    ) throws {
        self.directory = directory
        self.storeID = storeID
        self.configuration = configuration
        self.fileSystem = fileSystem
        self.clock = clock ?? { logWallClockMillis() }
        precondition(configuration.rotationSizeBytes > 0, "rotation size must be positive")

        try fileSystem.createDirectory(directory)
        let opened = try Self.openFiles(
            directory: directory, storeID: storeID, fileSystem: fileSystem,
            initialLastTxID: initialLastTxID.rawValue, initialChecksum: initialChecksum, now: self.clock(),
            preallocateBytes: configuration.preallocate ? Self.firstChunkBytes(configuration: configuration) : nil)
        files = opened.files
        current = opened.current
        position = opened.position
        lastTxID = opened.lastTxID
        lastTxChecksum = opened.lastChecksum
        lastCommitMillis = opened.lastCommitMillis
        durableTxID = opened.lastTxID
        durableChecksum = opened.lastChecksum
        durableEnd = (opened.files[opened.files.count - 1].version, opened.position)
        lastCheckpointTxID = opened.lastCheckpointInLastFile
        truncatedTailBytes = opened.truncatedBytes
        allocatedEnd = opened.allocatedEnd
        mutex.withLock { startExtensionIfDue() }
    }

    deinit { current.close() }

    // MARK: Reading state

    /// The last durable transaction.
    public var lastCommittedTxID: TxID { mutex.withLock { TxID(durableTxID) } }
    /// The checksum of the last durable transaction (the value the next transaction chains on).
    public var lastChecksum: UInt64 { mutex.withLock { durableChecksum } }
    /// The oldest transaction still readable from the log.
    public var oldestAvailableTxID: TxID { mutex.withLock { TxID(files[0].firstTxID) } }
    /// Versions of the log files present, oldest first.
    public var fileVersions: [Int64] { mutex.withLock { files.map(\.version) } }
    public var statistics: TransactionLogStatistics { mutex.withLock { stats } }
    /// Why the log stopped accepting appends, if it did.
    public var failureReason: DatabaseError? { mutex.withLock { failure } }

    /// The path of log file `version`.
    public func path(ofVersion version: Int64) -> String { directory + "/" + LogFormat.fileName(version: version) }

    // MARK: Appending

    /// Appends a locally committed transaction and returns once it is durable.
    ///
    /// Assigns the next tx id and chains the checksum over the previous transaction. Throws
    /// `DatabaseError(.transactionCommitFailed, …)` when the disk is full (nothing was appended; retry later) or the
    /// log has failed (no further appends until restart).
    @discardableResult
    public func append(
        payload: [UInt8], masterServerID: Int32, epoch: Int64, commitTimestampMillis: Int64? = nil
    ) throws -> TransactionHeader {
        try checkPayloadSize(payload.count)
        mutex.lock()
        defer { mutex.unlock() }
        let written = try writeLocalTransaction(
            payload: payload, masterServerID: masterServerID, epoch: epoch,
            commitTimestampMillis: commitTimestampMillis)
        // Still under the mutex: this append joins (or leads) the next group-commit sync.
        try waitUntilDurable(written.sequence)
        return written.header
    }

    /// Writes a locally committed transaction without waiting for it to become durable, for a commit pipeline
    /// that does its own work between writing and acknowledging (e.g. releases a commit mutex so that other
    /// committers can write into the same group-commit sync). The caller must call `waitUntilDurable(_:)` with the
    /// returned id before acknowledging the commit or making it visible to others.
    public func appendWithoutWaiting(
        payload: [UInt8], masterServerID: Int32, epoch: Int64, commitTimestampMillis: Int64? = nil
    ) throws -> TransactionHeader {
        try checkPayloadSize(payload.count)
        mutex.lock()
        defer { mutex.unlock() }
        return try writeLocalTransaction(
            payload: payload, masterServerID: masterServerID, epoch: epoch,
            commitTimestampMillis: commitTimestampMillis
        ).header
    }

    /// Assigns the next tx id, chains the checksum over the previous transaction and writes the entry; returns
    /// the header and the entry's sequence number for `waitUntilDurable(_:)`. Must hold the mutex.
    private func writeLocalTransaction(
        payload: [UInt8], masterServerID: Int32, epoch: Int64, commitTimestampMillis: Int64?
    ) throws -> (header: TransactionHeader, sequence: UInt64) {
        try prepareForAppend(frameBytes: LogFormat.frameOverhead + LogFormat.transactionHeaderSize + payload.count)
        let txID = lastTxID + 1
        let millis = commitTimestampMillis ?? clock()
        let checksum = LogFormat.checksum(
            txID: txID, commitMillis: millis, masterServerID: masterServerID, epoch: epoch, payload: payload,
            previous: lastTxChecksum)
        let header = TransactionHeader(
            txID: TxID(txID), previousChecksum: lastTxChecksum, checksum: checksum, commitTimestampMillis: millis,
            masterServerID: masterServerID, epoch: epoch)
        return (header, try writeTransaction(header, payload: payload))
    }

    /// Returns once transaction `txID` (already written) is durable, joining or leading a group-commit sync.
    /// Throws the log's failure if it failed before that.
    public func waitUntilDurable(_ txID: TxID) throws {
        mutex.lock()
        defer { mutex.unlock() }
        precondition(txID.rawValue <= lastTxID, "waiting for \(txID), which was never written (last \(lastTxID))")
        while durableTxID < txID.rawValue {
            if let failure { throw failure }
            // Everything written so far is covered by syncing up to the current sequence.
            try waitUntilDurable(appendedSequence)
        }
    }

    /// Appends a transaction committed elsewhere (an HA master), keeping its tx id, epoch and checksum; returns
    /// once durable. Rejects with `TransactionLogError` a transaction that does not follow the last one (gap or
    /// duplicate), one whose previous checksum breaks the chain, and one whose checksum does not match its content.
    public func appendReplicated(_ transaction: CommittedTransaction) throws {
        try appendReplicatedWithoutWaiting(transaction)
        try waitUntilDurable(transaction.header.txID)
    }

    /// `appendReplicated` without waiting for durability, so a batch shares one sync: the caller must call
    /// `waitUntilDurable(_:)` with the last id before acknowledging or applying any of them.
    public func appendReplicatedWithoutWaiting(_ transaction: CommittedTransaction) throws {
        try checkPayloadSize(transaction.payload.count)
        let header = transaction.header
        guard transaction.hasValidChecksum else { throw TransactionLogError.checksumMismatch(txID: header.txID) }
        mutex.lock()
        defer { mutex.unlock() }
        try prepareForAppend(
            frameBytes: LogFormat.frameOverhead + LogFormat.transactionHeaderSize + transaction.payload.count)
        guard header.txID.rawValue == lastTxID + 1 else {
            throw TransactionLogError.gap(expected: TxID(lastTxID + 1), received: header.txID)
        }
        guard header.previousChecksum == lastTxChecksum else {
            throw TransactionLogError.checksumChainBroken(
                txID: header.txID, expectedPrevious: lastTxChecksum, receivedPrevious: header.previousChecksum)
        }
        _ = try writeTransaction(header, payload: transaction.payload)
    }

    private func checkPayloadSize(_ count: Int) throws {
        guard count <= LogFormat.maxBodySize - LogFormat.transactionHeaderSize else {
            throw DatabaseError(
                .transactionCommitFailed,
                "Transaction of \(count) bytes exceeds the log's entry limit of \(LogFormat.maxBodySize) bytes")
        }
    }

    /// Must hold the mutex.
    private func checkWritable() throws {
        if let failure { throw failure }
        if isClosed { throw DatabaseError(.databaseUnavailable, "The transaction log in \(directory) is closed") }
    }

    /// Before an entry of `frameBytes` is written (and before its tx id is chosen): fails if the log cannot take it,
    /// rotates when the file is full, and waits while the entry would cross into the region the background
    /// preallocation is still zero-filling. Every wait releases the mutex, so the caller must read the log's state
    /// (last tx id, checksum) only after this returns. Must hold the mutex.
    /// Checkpoint entries never rotate (`rotating: false`): as before preallocation, they go into the current file.
    private func prepareForAppend(frameBytes: Int, rotating: Bool = true) throws {
        var waited = false
        while true {
            try checkWritable()
            if rotating && position >= configuration.rotationSizeBytes && position > Int64(LogFormat.headerSize) {
                if extensionRunning {
                    // The old file is cut at its end by rotation: the zero-filler must be done with it first.
                    extensionCancelled = true
                    mutex.wait()
                    continue
                }
                try rotate()
                continue
            }
            if extensionRunning && position + Int64(frameBytes) > allocatedEnd {
                if !waited { stats.preallocationWaits += 1 }
                waited = true
                mutex.wait()
                continue
            }
            return
        }
    }

    /// Writes one transaction entry (`prepareForAppend` must have run); returns its sequence number. Must hold the
    /// mutex.
    private func writeTransaction(_ header: TransactionHeader, payload: [UInt8]) throws -> UInt64 {
        let frame = LogFormat.encodeTransaction(header, payload: payload)
        try writeFrame(frame, describing: "\(header.txID)")
        lastTxID = header.txID.rawValue
        lastTxChecksum = header.checksum
        lastCommitMillis = header.commitTimestampMillis
        stats.appendedTransactions += 1
        return appendedSequence
    }

    /// Writes a frame at the end of the current file. On disk full the partial frame is truncated away and the
    /// append fails cleanly; any other error makes the log fail. Must hold the mutex.
    private func writeFrame(_ frame: [UInt8], describing what: String) throws {
        do {
            try current.write(frame, at: position)
        } catch let error as LogIOError {
            // Whatever part of the frame reached the file must go, or the next append would follow garbage. That cuts
            // the zero region too; a running extension must not publish what it zero-fills after the cut.
            if extensionRunning { extensionCancelled = true }
            allocatedEnd = position
            do {
                try current.truncate(to: position)
            } catch {
                throw fail("could not truncate a partial entry after '\(error)': \(error)")
            }
            if error.isOutOfSpace {
                throw DatabaseError(
                    .transactionCommitFailed,
                    "No space left on device while appending \(what) to the transaction log in \(directory); "
                        + "nothing was committed and the log is intact: free space and retry")
            }
            throw fail("writing \(what) failed: \(error)")
        }
        position += Int64(frame.count)
        if position > allocatedEnd { allocatedEnd = position }
        appendedSequence += 1
        stats.bytesWritten += Int64(frame.count)
        if leaderIsGathering { mutex.broadcast() }
        startExtensionIfDue()
    }

    // MARK: Preallocation

    /// Zero bytes written per step of an extension; an append waits at most for one chunk when it outruns it.
    static let preallocationChunkBytes: Int64 = 1 << 20

    /// What a new file gets zero-filled before it becomes current (with its header, in the same sync).
    static func firstChunkBytes(configuration: LogConfiguration) -> Int64 {
        max(
            0,
            min(
                preallocationChunkBytes, configuration.preallocationStepBytes,
                configuration.rotationSizeBytes - Int64(LogFormat.headerSize)))
    }

    /// Starts a background extension of the zero region when the position has used half of the next step. Must
    /// hold the mutex.
    ///
    /// Steps grow with the file (each extension at most doubles the zeroed part) up to `preallocationStepBytes`, so
    /// a small store (and every test) keeps a small log file while a busy one zero-fills 16 MiB at a time.
    private func startExtensionIfDue() {
        guard configuration.preallocate, !extensionRunning, failure == nil, !isClosed else { return }
        let step = min(
            configuration.preallocationStepBytes,
            max(Self.preallocationChunkBytes, allocatedEnd - Int64(LogFormat.headerSize)))
        // Never beyond the rotation size: rotation cuts the file there anyway.
        let limit = max(configuration.rotationSizeBytes, Int64(LogFormat.headerSize))
        guard allocatedEnd < limit, allocatedEnd - position < (step + 1) / 2, position >= extensionRetryPosition
        else { return }
        let start = allocatedEnd
        let target = min(start + step, limit)
        let file = current
        extensionRunning = true
        extensionCancelled = false
        startDetachedThread { self.extendZeroRegion(of: file, from: start, to: target) }
    }

    /// The background extension: writes zeros `start..<target` chunk by chunk, publishing each chunk as allocated,
    /// then syncs once (so the file's new size is durable and later commits' syncs write data only). Disk full stops
    /// it quietly (appends then grow the file, as without preallocation); any other failure fails the log, as a
    /// failed sync may have dropped committed pages.
    private func extendZeroRegion(of file: LogFile, from start: Int64, to target: Int64) {
        let chunk = Int(min(Self.preallocationChunkBytes, target - start))
        let zeros = [UInt8](repeating: 0, count: chunk)
        var end = start
        var writeError: Error?
        var cancelled = false
        while end < target {
            cancelled = mutex.withLock { extensionCancelled }
            if cancelled { break }
            let count = Int(min(Int64(chunk), target - end))
            do {
                try file.write(count == chunk ? zeros : Array(zeros[0..<count]), at: end)
            } catch {
                writeError = error
                break
            }
            end += Int64(count)
            mutex.withLock {
                if !extensionCancelled && end > allocatedEnd { allocatedEnd = end }
                mutex.broadcast()
            }
        }
        var syncError: Error?
        if writeError == nil && !cancelled {
            do { try file.sync() } catch { syncError = error }
        }
        mutex.lock()
        defer { mutex.unlock() }
        if let writeError {
            if let io = writeError as? LogIOError, io.isOutOfSpace {
                // Drop the partial chunk; appends never went past `end` (they wait while an extension runs).
                if !extensionCancelled { try? file.truncate(to: end) }
                extensionRetryPosition = position + configuration.preallocationStepBytes
            } else {
                _ = fail("preallocating the transaction log file failed: \(writeError)")
            }
        } else if let syncError {
            _ = fail("fdatasync after preallocating failed: \(syncError)")
        } else if !cancelled {
            stats.syncs += 1
            stats.preallocatedBytes += end - start
        }
        extensionRunning = false
        mutex.broadcast()
    }

    /// Stops using the log without syncing anything, as a killed process would (tests): waits for a running
    /// extension to stop, then refuses further appends.
    func abandonForCrashTest() {
        mutex.withLock {
            while syncInProgress || extensionRunning {
                if extensionRunning { extensionCancelled = true }
                mutex.wait()
            }
            isClosed = true
        }
    }

    /// Waits until no background extension is running (tests, measurements).
    func waitForPreallocation() {
        mutex.withLock {
            while extensionRunning { mutex.wait() }
        }
    }

    /// The end of the current file's zero region (tests).
    var preallocatedEnd: Int64 { mutex.withLock { allocatedEnd } }
    /// Where the next entry of the current file goes (tests).
    var writePosition: Int64 { mutex.withLock { position } }

    /// Marks the log failed and returns the error to throw. Must hold the mutex.
    private func fail(_ reason: String) -> DatabaseError {
        let error = DatabaseError(
            .transactionCommitFailed,
            "The transaction log in \(directory) has failed and accepts no more transactions (\(reason)); "
                + "restart the database to recover from the log")
        if failure == nil { failure = error }
        mutex.broadcast()
        return failure!
    }

    /// Group commit: returns once entry `sequence` is durable. Must hold the mutex (released while syncing).
    private func waitUntilDurable(_ sequence: UInt64) throws {
        while durableSequence < sequence {
            if let failure { throw failure }
            if syncInProgress {
                mutex.wait()
                continue
            }
            // Become the leader: sync everything written so far, on behalf of all waiting appenders.
            syncInProgress = true
            gatherBatch()
            if durableSequence >= sequence || failure != nil {
                // A rotation made us durable while gathering, or the log failed.
                syncInProgress = false
                mutex.broadcast()
                continue
            }
            let file = current
            let target = appendedSequence
            let alreadyDurable = durableSequence
            let targetTxID = lastTxID
            let targetChecksum = lastTxChecksum
            let targetEnd = (version: files[files.count - 1].version, offset: position)
            mutex.unlock()
            let started = logMonotonicNanos()
            var syncError: Error?
            do { try file.sync() } catch { syncError = error }
            let finished = logMonotonicNanos()
            mutex.lock()
            syncInProgress = false
            stats.syncs += 1
            lastSyncNanos = finished &- started
            lastSyncBatch = max(1, target &- alreadyDurable)
            if let syncError {
                _ = fail("fdatasync failed: \(syncError)")
            } else if target > durableSequence {
                durableSequence = target
                durableTxID = targetTxID
                durableChecksum = targetChecksum
                if targetEnd.version >= durableEnd.version { durableEnd = targetEnd }
            }
            mutex.broadcast()
        }
    }

    /// Before syncing, a new leader that sees fewer pending entries than the previous sync covered waits a little
    /// (at most a quarter of the last sync's duration, and at most 2 ms) for those committers to write theirs.
    ///
    /// Why: with N writers looping, the writers a sync covered are all returning to their callers when the next
    /// leader (who wrote during that sync) starts, so without this the syncs alternate between covering 1 entry and
    /// N − 1, and N writers get only about twice one writer's rate. This is PostgreSQL's `commit_delay`, made
    /// adaptive: a single writer (last batch 1) never waits, and a wait that times out shrinks the expected batch.
    /// Must hold the mutex (released while waiting).
    private func gatherBatch() {
        guard lastSyncNanos > 0, appendedSequence &- durableSequence < lastSyncBatch else { return }
        let deadline = logMonotonicNanos() &+ min(lastSyncNanos / 4, 2_000_000)
        leaderIsGathering = true
        defer { leaderIsGathering = false }
        while appendedSequence &- durableSequence < lastSyncBatch && failure == nil {
            _ = mutex.wait(untilMonotonicNanos: deadline)
            if logMonotonicNanos() >= deadline { break }
        }
    }

    /// Syncs the current file and starts the next one. Must hold the mutex.
    private func rotate() throws {
        let startNanos = logMonotonicNanos()
        defer {
            // Only a completed rotation counts (`rotations` is bumped at the end); failed attempts take no time.
            if stats.rotations > rotationsTimed {
                rotationsTimed = stats.rotations
                let n = Int64(clamping: logMonotonicNanos() &- startNanos)
                stats.rotationNanosTotal &+= n
                stats.lastRotationNanos = n
            }
        }
        do {
            try current.sync()
        } catch {
            throw fail("fdatasync before rotation failed: \(error)")
        }
        stats.syncs += 1
        durableSequence = appendedSequence
        durableTxID = lastTxID
        durableChecksum = lastTxChecksum
        mutex.broadcast()

        // Archived files are exact: cut the zero region off (it must be durable before the next file exists, or a
        // crash could leave a rotated file whose size is not its end; readers would still stop at the zeros).
        precondition(!extensionRunning, "rotating while the zero region of the old file is being extended")
        if allocatedEnd > position || (try? current.size()).map({ $0 > position }) == true {
            do {
                try current.truncate(to: position)
                try current.sync()
            } catch {
                throw fail("cutting the preallocated end of the rotated log file failed: \(error)")
            }
            stats.syncs += 1
            allocatedEnd = position
        }

        let version = files[files.count - 1].version + 1
        let path = path(ofVersion: version)
        let header = LogFormat.FileHeader(
            storeID: storeID, version: version, firstTxID: lastTxID + 1, previousChecksum: lastTxChecksum,
            previousCommitMillis: lastCommitMillis)
        let file: LogFile
        let zeroBytes = configuration.preallocate ? Self.firstChunkBytes(configuration: configuration) : 0
        do {
            file = try fileSystem.openFile(path, create: true)
            do {
                try file.write(LogFormat.encode(header), at: 0)
                if zeroBytes > 0 {
                    try file.write([UInt8](repeating: 0, count: Int(zeroBytes)), at: Int64(LogFormat.headerSize))
                }
                try file.sync()
                try fileSystem.syncDirectory(directory)
            } catch {
                file.close()
                throw error
            }
        } catch let error as LogIOError where error.isOutOfSpace {
            // Nothing was appended; the old file stays current and the next append tries again.
            try? fileSystem.removeFile(path)
            throw DatabaseError(
                .transactionCommitFailed,
                "No space left on device while rotating the transaction log in \(directory); nothing was committed")
        } catch {
            try? fileSystem.removeFile(path)
            throw fail("creating \(path) failed: \(error)")
        }
        files[files.count - 1].sizeBytes = position
        files.append(
            FileInfo(
                version: version, firstTxID: header.firstTxID, previousChecksum: header.previousChecksum,
                previousCommitMillis: header.previousCommitMillis, sizeBytes: Int64(LogFormat.headerSize)))
        // The retired file is closed when the last group-commit leader still syncing it lets go (ARC).
        current = file
        position = Int64(LogFormat.headerSize)
        allocatedEnd = position + zeroBytes
        extensionRetryPosition = 0
        // The old file was synced above and the new one's header with it.
        durableEnd = (version, position)
        stats.rotations += 1
        startExtensionIfDue()
    }

    // MARK: Checkpoints and retention

    /// Records that the store has applied and flushed every transaction up to `lastAppliedTxID`, makes the record
    /// durable, then prunes rotated files as the retention policy allows.
    public func checkpoint(lastAppliedTxID: TxID) throws {
        mutex.lock()
        defer { mutex.unlock() }
        try checkWritable()
        precondition(
            lastAppliedTxID.rawValue <= lastTxID,
            "checkpoint at \(lastAppliedTxID) is beyond the log's last transaction \(lastTxID)")
        try prepareForAppend(frameBytes: LogFormat.frameOverhead + LogFormat.checkpointBodySize, rotating: false)
        let frame = LogFormat.encodeCheckpoint(lastAppliedTxID: lastAppliedTxID.rawValue, timeMillis: clock())
        try writeFrame(frame, describing: "a checkpoint")
        try waitUntilDurable(appendedSequence)
        lastCheckpointTxID = lastAppliedTxID.rawValue
        stats.checkpoints += 1
        pruneFiles(checkpointTxID: lastAppliedTxID.rawValue)
    }

    /// Deletes rotated files the retention policy no longer wants, oldest first. A file is only a candidate when all
    /// its transactions are at or before the checkpoint. Failing to delete a file is harmless (it is retried after
    /// the next checkpoint), so errors are swallowed here. Must hold the mutex.
    private func pruneFiles(checkpointTxID: Int64) {
        var removable = 0
        var totalSize = files.reduce(Int64(0)) { $0 + $1.sizeBytes } - files[files.count - 1].sizeBytes + position
        let now = clock()
        while removable < files.count - 1 {
            let file = files[removable]
            let next = files[removable + 1]
            let lastTxInFile = next.firstTxID - 1
            guard lastTxInFile <= checkpointTxID else { break }
            // The file holding the last transaction stays, whatever the policy: HA branch detection compares that
            // transaction's epoch, master and checksum with the master's (neo4j-ha.md §5, handshake).
            guard lastTxInFile < lastTxID else { break }
            // A streamed store copy still has to send the file holding its first transaction and all later ones.
            if let pinned = copyPins.min(), lastTxInFile >= pinned { break }
            let remove: Bool
            switch configuration.retention {
            case .keepAll: remove = false
            case .keepNone: remove = true
            case .files(let keep): remove = Int64(files.count - removable) > keep
            case .totalSizeBytes(let limit): remove = totalSize > limit
            case .transactions(let keep): remove = lastTxInFile <= lastTxID - keep
            case .age(let maxAge):
                let ageMillis = maxAge.components.seconds * 1000 + maxAge.components.attoseconds / 1_000_000_000_000_000
                // The newest transaction in the file is the one before the next file's first.
                remove = next.previousCommitMillis < now - ageMillis
            }
            guard remove else { break }
            totalSize -= file.sizeBytes
            removable += 1
        }
        guard removable > 0 else { return }
        var removed = 0
        for file in files[0..<removable] {
            do {
                try fileSystem.removeFile(path(ofVersion: file.version))
                removed += 1
            } catch {
                break
            }
        }
        files.removeFirst(removed)
        stats.prunedFiles += Int64(removed)
        try? fileSystem.syncDirectory(directory)
    }

    // MARK: Reading

    /// Committed transactions from `txID` on (up to the last durable one when the cursor was created), across
    /// rotated files. Throws `TransactionLogError.transactionsNotAvailable` when `txID` was pruned.
    public func transactions(from txID: TxID) throws -> TransactionCursor {
        try mutex.withLock {
            if isClosed { throw DatabaseError(.databaseUnavailable, "The transaction log in \(directory) is closed") }
            let upTo = durableTxID
            if txID.rawValue > upTo {
                return TransactionCursor(log: self, version: files[files.count - 1].version, from: txID.rawValue, upTo: upTo)
            }
            guard txID.rawValue >= files[0].firstTxID else {
                throw TransactionLogError.transactionsNotAvailable(
                    requested: txID, oldestAvailable: TxID(files[0].firstTxID))
            }
            let index = files.lastIndex { $0.firstTxID <= txID.rawValue }!
            return TransactionCursor(log: self, version: files[index].version, from: txID.rawValue, upTo: upTo)
        }
    }

    /// Copies the log files holding `txID` and everything after it into `destination` (the current file up to its
    /// last written entry) and syncs them, so a store copied at `txID` keeps a log that continues from it and can
    /// answer for `txID` itself (branch detection). The caller keeps appends out meanwhile (store copy holds the
    /// commit mutex); the log mutex is held throughout so retention cannot prune a file being copied.
    /// With `durable: false` nothing is synced (a scratch copy, see `GraphDatabase.copyStore(to:chunkBytes:durable:)`).
    func copyFiles(from txID: TxID, into destination: String, chunkBytes: Int = 1 << 20, durable: Bool = true) throws {
        try mutex.withLock {
            if isClosed { throw DatabaseError(.databaseUnavailable, "The transaction log in \(directory) is closed") }
            let first = files.lastIndex { $0.firstTxID <= txID.rawValue } ?? 0
            try fileSystem.createDirectory(destination)
            for (index, info) in files.enumerated() where index >= first {
                let length = index == files.count - 1 ? position : info.sizeBytes
                let source = try fileSystem.openFile(path(ofVersion: info.version), create: false)
                defer { source.close() }
                let target = try fileSystem.openFile(
                    destination + "/" + LogFormat.fileName(version: info.version), create: true)
                defer { target.close() }
                try target.truncate(to: 0)
                var offset: Int64 = 0
                while offset < length {
                    let count = Int(min(Int64(chunkBytes), length - offset))
                    let bytes = try source.read(at: offset, count: count)
                    guard bytes.count == count else {
                        throw DatabaseError(
                            .storageDamageDetected,
                            "Transaction log file \(path(ofVersion: info.version)) is shorter than expected")
                    }
                    try target.write(bytes, at: offset)
                    offset += Int64(count)
                }
                if durable { try target.sync() }
            }
            if durable { try fileSystem.syncDirectory(destination) }
        }
    }

    /// Keeps retention from pruning the file holding `txID` and every later one until `unpinForCopy(_:)`: a streamed
    /// store copy sends them after the store files, which takes a while. Throws
    /// `TransactionLogError.transactionsNotAvailable` when `txID` is already gone.
    func pinForCopy(_ txID: TxID) throws {
        try mutex.withLock {
            if isClosed { throw DatabaseError(.databaseUnavailable, "The transaction log in \(directory) is closed") }
            // The log may start right after `txID` (a new store's tx 1 is in no log file): nothing to replay then.
            guard txID.rawValue + 1 >= files[0].firstTxID else {
                throw TransactionLogError.transactionsNotAvailable(
                    requested: txID, oldestAvailable: TxID(files[0].firstTxID))
            }
            copyPins.append(txID.rawValue)
        }
    }

    func unpinForCopy(_ txID: TxID) {
        mutex.withLock {
            if let index = copyPins.firstIndex(of: txID.rawValue) { copyPins.remove(at: index) }
        }
    }

    /// The log files holding `txID` and everything after it, each with the length that is durable now, and the
    /// last durable transaction they hold. Rotated files are complete (rotation syncs them); the current one is
    /// cut at the end of the last synced entry, so a copy never carries a transaction this log could still lose.
    /// The files only grow by appends, so reading these prefixes later (while pinned) is consistent.
    func durableSpans(from txID: TxID) throws -> (spans: [(name: String, path: String, length: Int64)], lastTxID: TxID) {
        try mutex.withLock {
            if isClosed { throw DatabaseError(.databaseUnavailable, "The transaction log in \(directory) is closed") }
            let first = files.lastIndex { $0.firstTxID <= txID.rawValue } ?? 0
            var spans: [(name: String, path: String, length: Int64)] = []
            for (index, info) in files.enumerated() where index >= first {
                let length: Int64
                if index < files.count - 1 {
                    length = info.sizeBytes
                } else if info.version == durableEnd.version {
                    length = durableEnd.offset
                } else {
                    length = Int64(LogFormat.headerSize)
                }
                spans.append((LogFormat.fileName(version: info.version), path(ofVersion: info.version), length))
            }
            return (spans, TxID(durableTxID))
        }
    }

    /// Opens log file `version` for reading, or nil when it does not exist (pruned).
    func openForReading(version: Int64) throws -> LogFile? {
        let path = path(ofVersion: version)
        guard fileSystem.fileExists(path) else { return nil }
        return try fileSystem.openFile(path, create: false)
    }

    // MARK: Recovery

    /// Finds the last checkpoint and returns what must be replayed after it. Call after opening, before appending.
    public func recover() throws -> RecoveryPlan {
        try mutex.withLock {
            if lastCheckpointTxID == nil {
                lastCheckpointTxID = try findLastCheckpoint()
            }
            let checkpoint = lastCheckpointTxID ?? (files[0].firstTxID - 1)
            return RecoveryPlan(
                checkpointTxID: TxID(checkpoint), lastCommittedTxID: TxID(durableTxID), lastChecksum: durableChecksum,
                truncatedTailBytes: truncatedTailBytes, log: self)
        }
    }

    /// Scans rotated files newest first for checkpoint records (the last file was scanned at open). Must hold the
    /// mutex.
    private func findLastCheckpoint() throws -> Int64? {
        for info in files.dropLast().reversed() {
            let path = path(ofVersion: info.version)
            let file = try fileSystem.openFile(path, create: false)
            defer { file.close() }
            let scanner = LogFileScanner(file: file)
            var offset = Int64(LogFormat.headerSize)
            var found: Int64?
            scan: while true {
                switch try scanner.readFrame(at: offset) {
                case .endOfFile: break scan
                case .frame(let kind, let body, let length):
                    if kind == .checkpoint { found = body.logLoadLE(Int64.self, at: body.startIndex) }
                    offset += length
                default:
                    throw DatabaseError(
                        .storageDamageDetected, "Transaction log file \(path) is damaged at byte offset \(offset)")
                }
            }
            if let found { return found }
        }
        return nil
    }

    /// Syncs and closes the log; later appends fail.
    public func close() throws {
        try mutex.withLock {
            guard !isClosed else { return }
            // The zero-filler writes into the current file: it stops after its chunk, before the file is closed.
            while syncInProgress || extensionRunning {
                if extensionRunning { extensionCancelled = true }
                mutex.wait()
            }
            isClosed = true
            defer { current.close() }
            if failure == nil && durableSequence < appendedSequence {
                try current.sync()
                durableSequence = appendedSequence
            }
        }
    }

    // MARK: Opening

    private struct OpenedState {
        var files: [FileInfo]
        var current: LogFile
        var position: Int64
        var lastTxID: Int64
        var lastChecksum: UInt64
        var lastCommitMillis: Int64
        var lastCheckpointInLastFile: Int64?
        var truncatedBytes: Int64
        var allocatedEnd: Int64
    }

    private static func openFiles(
        directory: String, storeID: UInt64, fileSystem: LogFileSystem, initialLastTxID: Int64,
        initialChecksum: UInt64, now: Int64, preallocateBytes: Int64?
    ) throws -> OpenedState {
        let versions = try fileSystem.listDirectory(directory).compactMap(LogFormat.version(ofFileName:)).sorted()
        func pathOf(_ version: Int64) -> String { directory + "/" + LogFormat.fileName(version: version) }
        for (a, b) in zip(versions, versions.dropFirst()) where b != a + 1 {
            throw DatabaseError(
                .storageDamageDetected,
                "Transaction log file \(pathOf(a + 1)) is missing (found \(pathOf(a)) and \(pathOf(b)))")
        }

        // Validate every header before modifying anything.
        var infos: [FileInfo] = []
        var tornLast = false
        for (index, version) in versions.enumerated() {
            let path = pathOf(version)
            let file = try fileSystem.openFile(path, create: false)
            defer { file.close() }
            let size = try file.size()
            switch LogFormat.decodeHeader(try file.read(at: 0, count: LogFormat.headerSize)) {
            case .valid(let header):
                guard header.storeID == storeID else {
                    throw DatabaseError(
                        .storageDamageDetected,
                        "Transaction log file \(path) belongs to another store (store id "
                            + "\(logHex(header.storeID)), this store is \(logHex(storeID))); nothing was changed")
                }
                guard header.version == version else {
                    throw DatabaseError(
                        .storageDamageDetected,
                        "Transaction log file \(path) says it is version \(header.version); the file was renamed")
                }
                if let previous = infos.last, header.firstTxID < previous.firstTxID {
                    throw DatabaseError(
                        .storageDamageDetected,
                        "Transaction log file \(path) starts at tx \(header.firstTxID), before its predecessor")
                }
                infos.append(
                    FileInfo(
                        version: version, firstTxID: header.firstTxID, previousChecksum: header.previousChecksum,
                        previousCommitMillis: header.previousCommitMillis, sizeBytes: size))
            case .torn where index == versions.count - 1:
                // A crash while rotating (or creating the first file): the file holds no entry yet.
                tornLast = true
            case .torn:
                throw DatabaseError(.storageDamageDetected, "Transaction log file \(path) has a damaged header")
            case .notALog:
                throw DatabaseError(
                    .storageDamageDetected, "\(path) is not a Trellis transaction log file; nothing was changed")
            case .newerFormat(let format):
                throw DatabaseError(
                    .storageDamageDetected,
                    "Transaction log file \(path) has format version \(format), newer than this Trellis supports "
                        + "(\(LogFormat.formatVersion)); nothing was changed")
            }
        }

        if tornLast {
            try fileSystem.removeFile(pathOf(versions[versions.count - 1]))
            try fileSystem.syncDirectory(directory)
        }

        guard let last = infos.last else {
            // A new log: version 0 (or the next after a torn first file, which is version 0 as well).
            let header = LogFormat.FileHeader(
                storeID: storeID, version: 0, firstTxID: initialLastTxID + 1, previousChecksum: initialChecksum,
                previousCommitMillis: now)
            let file = try fileSystem.openFile(pathOf(0), create: true)
            try file.write(LogFormat.encode(header), at: 0)
            let zeroBytes = preallocateBytes ?? 0
            if zeroBytes > 0 {
                try file.write([UInt8](repeating: 0, count: Int(zeroBytes)), at: Int64(LogFormat.headerSize))
            }
            try file.sync()
            try fileSystem.syncDirectory(directory)
            return OpenedState(
                files: [
                    FileInfo(
                        version: 0, firstTxID: header.firstTxID, previousChecksum: initialChecksum,
                        previousCommitMillis: now, sizeBytes: Int64(LogFormat.headerSize))
                ],
                current: file, position: Int64(LogFormat.headerSize), lastTxID: initialLastTxID,
                lastChecksum: initialChecksum, lastCommitMillis: now, lastCheckpointInLastFile: nil, truncatedBytes: 0,
                allocatedEnd: Int64(LogFormat.headerSize) + zeroBytes)
        }

        // Scan the last file to its end: find the last valid entry and cut off a torn tail.
        let path = pathOf(last.version)
        let file = try fileSystem.openFile(path, create: false)
        let scanner = LogFileScanner(file: file)
        var offset = Int64(LogFormat.headerSize)
        var lastTxID = last.firstTxID - 1
        var lastChecksum = last.previousChecksum
        var lastCommitMillis = last.previousCommitMillis
        var lastCheckpoint: Int64?
        let size = try file.size()
        func damaged(_ what: String) -> DatabaseError {
            DatabaseError(
                .storageDamageDetected,
                "Transaction log file \(path) is damaged at byte offset \(offset): \(what); nothing was changed")
        }
        scan: while true {
            let result = try scanner.readFrame(at: offset)
            switch result {
            case .endOfFile, .incomplete, .invalidFrameHeader:
                break scan
            case .hashMismatch(let length):
                // A torn write leaves nothing valid after it; a valid entry after a bad one means damage.
                if offset + length < size, case .frame = try scanner.readFrame(at: offset + length) {
                    throw damaged("an entry fails its checksum but valid entries follow it")
                }
                break scan
            case .frame(let kind, let body, let length):
                switch kind {
                case .checkpoint:
                    lastCheckpoint = body.logLoadLE(Int64.self, at: body.startIndex)
                case .transaction:
                    let transaction = LogFormat.decodeTransaction(body: body)
                    let header = transaction.header
                    guard header.txID.rawValue == lastTxID + 1 else {
                        throw damaged("found \(header.txID) where tx \(lastTxID + 1) was expected")
                    }
                    guard header.previousChecksum == lastChecksum, transaction.hasValidChecksum else {
                        throw damaged("\(header.txID) breaks the checksum chain")
                    }
                    lastTxID = header.txID.rawValue
                    lastChecksum = header.checksum
                    lastCommitMillis = header.commitTimestampMillis
                }
                offset += length
            }
        }
        // What follows the last valid entry: a torn entry and entries never synced (their bytes may have reached
        // the disk in any order, so anything non-zero up to the file's end), then the zero region of a
        // preallocated file. Without preallocation it is cut off; with it the stale bytes are overwritten with
        // zeros, so that no later reader can take them for entries, and the file keeps its allocated size.
        var truncated: Int64 = 0
        var allocatedEnd = offset
        if offset < size {
            if preallocateBytes != nil {
                let staleEnd = try endOfNonZeroBytes(file, from: offset, to: size)
                truncated = staleEnd - offset
                if staleEnd > offset { try writeZeros(file, from: offset, to: staleEnd) }
                allocatedEnd = size
            } else {
                truncated = size - offset
                try file.truncate(to: offset)
            }
            // Also makes a zero region left by a killed process durable, so later syncs write data only.
            try file.sync()
        }
        infos[infos.count - 1].sizeBytes = offset
        return OpenedState(
            files: infos, current: file, position: offset, lastTxID: lastTxID, lastChecksum: lastChecksum,
            lastCommitMillis: lastCommitMillis, lastCheckpointInLastFile: lastCheckpoint, truncatedBytes: truncated,
            allocatedEnd: allocatedEnd)
    }

    /// The offset just past the last non-zero byte in `start..<end` of `file` (`start` when all are zero).
    private static func endOfNonZeroBytes(_ file: LogFile, from start: Int64, to end: Int64) throws -> Int64 {
        var last = start
        var at = start
        while at < end {
            let count = Int(min(preallocationChunkBytes, end - at))
            let bytes = try file.read(at: at, count: count)
            let nonZero: Int? = bytes.withUnsafeBytes { raw in
                // Words first: a megabyte of zeros is the common case.
                var index = raw.count
                while index >= 8 && raw.loadUnaligned(fromByteOffset: index - 8, as: UInt64.self) == 0 { index -= 8 }
                while index > 0 && raw[index - 1] == 0 { index -= 1 }
                return index > 0 ? index : nil
            }
            if let nonZero { last = at + Int64(nonZero) }
            if bytes.count < count { break }
            at += Int64(count)
        }
        return last
    }

    private static func writeZeros(_ file: LogFile, from start: Int64, to end: Int64) throws {
        var at = start
        while at < end {
            let count = Int(min(preallocationChunkBytes, end - at))
            try file.write([UInt8](repeating: 0, count: count), at: at)
            at += Int64(count)
        }
    }
}

// MARK: - Cursor

/// Reads committed transactions in tx-id order across log files. Not thread-safe; one reader per cursor.
public final class TransactionCursor: @unchecked Sendable {
    private let log: TransactionLog
    private var version: Int64
    private var nextTxID: Int64
    private let upTo: Int64
    private var scanner: LogFileScanner?
    private var offset: Int64 = 0
    private var previousChecksum: UInt64?

    init(log: TransactionLog, version: Int64, from: Int64, upTo: Int64) {
        self.log = log
        self.version = version
        self.nextTxID = from
        self.upTo = upTo
    }

    deinit { scanner?.file.close() }

    /// The last transaction this cursor will return (the last durable one when it was created).
    public var lastTxID: TxID { TxID(upTo) }

    /// The next transaction, or nil after the last one.
    public func next() throws -> CommittedTransaction? {
        while nextTxID <= upTo {
            if scanner == nil {
                guard let file = try log.openForReading(version: version) else {
                    throw TransactionLogError.transactionsNotAvailable(
                        requested: TxID(nextTxID), oldestAvailable: log.oldestAvailableTxID)
                }
                scanner = LogFileScanner(file: file)
                offset = Int64(LogFormat.headerSize)
            }
            let path = log.path(ofVersion: version)
            switch try scanner!.readFrame(at: offset) {
            case .endOfFile:
                scanner!.file.close()
                scanner = nil
                version += 1
            case .frame(.checkpoint, _, let length):
                offset += length
            case .frame(.transaction, let body, let length):
                offset += length
                let transaction = LogFormat.decodeTransaction(body: body)
                let id = transaction.header.txID.rawValue
                if id < nextTxID {
                    previousChecksum = transaction.header.checksum
                    continue
                }
                guard id == nextTxID,
                    previousChecksum.map({ $0 == transaction.header.previousChecksum }) ?? true
                else {
                    throw DatabaseError(
                        .storageDamageDetected,
                        "Transaction log file \(path) is damaged: found tx \(id) where tx \(nextTxID) was expected "
                            + "or its checksum chain is broken")
                }
                previousChecksum = transaction.header.checksum
                nextTxID += 1
                return transaction
            default:
                throw DatabaseError(
                    .storageDamageDetected, "Transaction log file \(path) is damaged at byte offset \(offset)")
            }
        }
        return nil
    }

    /// Calls `body` for every remaining transaction.
    public func forEach(_ body: (CommittedTransaction) throws -> Void) throws {
        while let transaction = try next() { try body(transaction) }
    }
}

func logHex(_ value: UInt64) -> String { "0x" + String(value, radix: 16) }
