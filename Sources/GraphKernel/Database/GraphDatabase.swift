import Atomics
import Dispatch
import GraphValues

/// The access mode of a transaction.
public enum TransactionMode: Sendable, Hashable {
    case read
    case write
}

/// An embedded Trellis database: one store directory, opened by one process at a time.
///
/// ```swift
/// let db = try GraphDatabase(directory: "data/databases/graph.db", configuration: KernelConfiguration())
/// let alice = try db.write { tx in try tx.createNode(labels: ["Person"], properties: ["name": .string("Alice")]) }
/// let name = try db.read { tx in try tx.nodeProperty(alice, "name") }
/// try db.close()
/// ```
///
/// Commit pipeline (see docs/storage.md): validate against committed data → turn the transaction state into
/// record after-images plus the logical changes derived structures need → serialize → append to the transaction
/// log → apply to the stores, label scan, indexes and counts in tx-id order → release ids. Readers see a commit
/// either fully or not at all (the apply holds the store lock exclusively).
public final class GraphDatabase: @unchecked Sendable {
    public let directory: String
    public let configuration: KernelConfiguration
    let fileSystem: StorageFileSystem
    let cache: PageCache
    let stores: NeoStores
    private var storeLock: FileLockHandle?
    /// The write-ahead log; every commit is durable in it before any store page changes.
    let log: TransactionLog
    /// Server id and epoch stamped on local commits (the HA layer changes them on election).
    var commitServerID: Int32
    var commitEpoch: Int64 = 0
    /// Set when applying a transaction that is already in the log failed: the in-memory store may be partly
    /// updated, so no further commits are allowed until a restart recovers from the log.
    var panic: DatabaseError? {
        get { applyTurn.lock(); defer { applyTurn.unlock() }; return _panic }
    }
    private var _panic: DatabaseError?
    /// Commit pipeline: transactions are prepared and written to the log one at a time (under `commitMutex`),
    /// then wait for the shared group-commit fsync without the mutex, then apply strictly in tx-id order.
    /// `appliedTx` is the last applied transaction; `applyTurn` guards it and `_panic`.
    private let applyTurn = KernelCondition()
    private var appliedTx: Int64 = 0
    /// After-images of transactions written to the log but not yet applied, so the next commit prepares against
    /// the state it will be applied on top of.
    let pending = PendingRecords()
    /// The HA layer's commit gate and commit hook (Replication/CommitHooks.swift).
    let replicationHooks = ReplicationHooks()
    /// How many transactions the last open replayed from the log.
    public private(set) var recoveredTransactionCount = 0

    /// Entity locks of transactions (exclusive on modification, held to commit or rollback).
    public let locks: LockManager
    /// Readers hold it shared; applying a committed transaction holds it exclusively.
    let storeRW = ReadWriteLock()
    /// Serializes commits (prepare, log append, apply), so prepare always sees the latest committed state.
    let commitMutex = KernelMutex()

    private(set) var metadata: StoreMetadata
    private(set) var schema = SchemaRules()
    /// What `neostore.indexfailures.db` holds (see `IndexFailures`). Guarded by the store lock.
    var writtenIndexFailures = IndexFailures()
    func setSchema(_ rules: SchemaRules) { schema = rules }
    func setLastCommitted(checksum: UInt64, timeMillis: Int64) {
        metadata.lastCommittedChecksum = Int64(bitPattern: checksum)
        metadata.lastCommittedTimeMillis = timeMillis
    }
    /// Whether the last open took the derived structures (label scan, indexes, counts) from their snapshot (true)
    /// or rebuilt them from the records.
    public internal(set) var derivedStoresFromSnapshot = false
    var labelScan = LabelScanStore()
    var indexes: [String: PropertyIndex] = [:]
    var counts: [CountsKey: Int] = [:]

    private let closed = ManagedAtomic<Bool>(false)
    private let transactionsSinceCheckpoint = ManagedAtomic<Int>(0)
    private var lastCheckpointNanos: UInt64 = monotonicNanos()
    private var checkpointTimer: DispatchSourceTimer?

    // MARK: Opening

    /// Opens (or creates) the store in `directory`.
    ///
    /// Throws without touching anything when the directory holds something that is not a Trellis store, a store
    /// of a newer format, or a store another process (or another `GraphDatabase` in this one) has open.
    public init(directory: String, configuration: KernelConfiguration = KernelConfiguration()) throws {
        self.directory = directory
        self.configuration = configuration
        let fs = configuration.fileSystem ?? PosixFileSystem()
        self.fileSystem = fs
        self.locks = LockManager(defaultTimeout: configuration.lockAcquisitionTimeout)
        let metadataPath = directory + "/" + StoreMetadata.fileName

        var existing: StoreMetadata?
        if fs.directoryExists(directory) {
            if fs.fileExists(metadataPath) {
                guard let bytes = try readWholeFile(fs, metadataPath) else {
                    throw DatabaseError(.storageDamageDetected, "Cannot read \(metadataPath)")
                }
                existing = try StoreMetadata.decode(bytes, path: directory)
            } else {
                // A member's own entries (HA branches, a store copy in progress) do not make it a foreign store.
                let others = try fs.listDirectory(directory).filter {
                    !StoreDirectories.preservedEntries.contains($0) && !$0.hasPrefix(".")
                }
                if !others.isEmpty {
                    throw DatabaseError(
                        .storageDamageDetected,
                        "\(directory) is not a Trellis store: it has no \(StoreMetadata.fileName) file but holds "
                            + "\(others.prefix(3).joined(separator: ", "))\(others.count > 3 ? ", …" : "")")
                }
            }
        } else {
            try fs.createDirectory(directory)
        }
        let lock = try fs.lockFile(directory + "/store_lock")
        do {
            let meta = existing ?? StoreMetadata.fresh()
            // The log is opened before any store file is created or changed: a log of another store is refused
            // while the directory is still untouched.
            log = try TransactionLog(
                directory: directory, storeID: meta.storeID.random, configuration: configuration.log,
                fileSystem: configuration.logFileSystem ?? PosixLogFileSystem(),
                initialLastTxID: TxID(meta.lastCommittedTx),
                initialChecksum: UInt64(bitPattern: meta.lastCommittedChecksum))
            if existing == nil { try writeFileAtomically(fs, metadataPath, meta.encode()) }
            metadata = meta
            commitServerID = configuration.serverID
            cache = PageCache(budgetBytes: configuration.effectivePageCacheSizeBytes)
            stores = try NeoStores(
                directory: directory, fileSystem: fs, cache: cache,
                adjacencyCacheBytes: configuration.adjacencyCacheSizeBytes)
            storeLock = lock
            try openStores()
            startCheckpointTimer()
        } catch {
            lock.release()
            throw error
        }
    }

    /// Recovery, then id generators, tokens, schema and derived structures.
    ///
    /// Every transaction in the log after the store's last checkpoint is re-applied (after-images are idempotent,
    /// so re-applying one whose pages already reached disk is harmless). Id generators are then rebuilt by scanning
    /// (their saved state predates the replayed transactions), and a checkpoint makes the recovered state durable.
    private func openStores() throws {
        let plan = try log.recover()
        var replayed = 0
        var derived = loadDerivedSnapshot(lastCommittedTx: plan.lastCommittedTxID.rawValue)
        if plan.lastCommittedTxID.rawValue > metadata.lastCheckpointedTx {
            for store in stores.stores { try store.rebuildIDs() }
            try stores.loadTokens()
            try loadSchemaFile()
            let cursor = try log.transactions(from: TxID(metadata.lastCheckpointedTx + 1))
            while let committed = try cursor.next() {
                let tx = try TransactionRepresentation.deserialize(committed.payload)
                derived?.redo.observe(tx, txID: committed.header.txID.rawValue)
                // Records only: the derived structures are brought up to date once the records are final.
                try applyLocked(
                    tx, txID: committed.header.txID.rawValue, external: true, checksum: committed.header.checksum,
                    timeMillis: committed.header.commitTimestampMillis, updateDerived: false)
                replayed += 1
            }
            for store in stores.stores { try store.rebuildIDs() }
        } else {
            let clean = metadata.lastCommittedTx == metadata.lastCheckpointedTx
            for store in stores.stores {
                let loaded = clean ? try store.loadIDs(expectedStampTx: metadata.lastCheckpointedTx) : false
                if !loaded { try store.rebuildIDs() }
            }
        }
        try stores.loadTokens()
        try loadSchemaFile()
        try loadIndexFailures()
        try restoreDerivedStores(derived)
        try installRecordedIndexFailures()
        recoveredTransactionCount = replayed
        lastCommittedAtomic.store(metadata.lastCommittedTx, ordering: .releasing)
        appliedTx = metadata.lastCommittedTx
        if replayed > 0 { try commitMutex.withLock { try checkpointLocked() } }
    }

    private func loadSchemaFile() throws {
        if let bytes = try readWholeFile(fileSystem, directory + "/" + SchemaRules.fileName), !bytes.isEmpty {
            schema = try SchemaRules.deserialize(bytes)
        } else {
            schema = SchemaRules()
        }
    }

    /// Rebuilds the label scan store, indexes and counts from the record stores (done at every open, so they can
    /// never disagree with the records after a crash).
    func rebuildDerivedStores() throws {
        labelScan = LabelScanStore()
        counts = [:]
        indexes = [:]
        // An index whose population failed before stays FAILED (`installRecordedIndexFailures`): not built here.
        for descriptor in schema.indexes where recordedFailure(of: descriptor) == nil {
            var online = descriptor
            online.state = .online
            indexes[descriptor.name] = PropertyIndex(descriptor: online)
        }
        let indexesByLabel = Dictionary(grouping: indexes.values, by: { $0.descriptor.label })
        let nodeHigh = stores.nodes.highID
        var labelsOf = [[Int32]](repeating: [], count: Int(nodeHigh))
        for id in 0..<nodeHigh {
            let record = try stores.node(id)
            guard record.inUse else { continue }
            let labels = try stores.labels(of: record)
            labelsOf[Int(id)] = labels
            CountsContribution.node(labels: labels, sign: 1, into: &counts)
            for label in labels {
                labelScan.add(label, id)
                for index in indexesByLabel[label] ?? [] {
                    let value = try stores.property(from: record.nextProp, key: index.descriptor.propertyKey)
                    if !value.isNull { index.add(value, id) }
                }
            }
        }
        for id in 0..<stores.relationships.highID {
            let rel = try stores.relationship(id)
            guard rel.inUse else { continue }
            let startLabels = rel.startNode < nodeHigh ? labelsOf[Int(rel.startNode)] : []
            let endLabels = rel.endNode < nodeHigh ? labelsOf[Int(rel.endNode)] : []
            CountsContribution.relationship(
                type: rel.type, startLabels: startLabels, endLabels: endLabels, sign: 1, into: &counts)
        }
    }

    // MARK: Public API

    /// The store's identity.
    public var storeID: StoreID { metadata.storeID }

    /// The id of the last committed transaction (1 for a new store).
    public var lastCommittedTxID: TxID { TxID(lastCommittedAtomic.load(ordering: .acquiring)) }
    /// Published after each apply, so readers of the last tx id never wait for a commit's fsync.
    private let lastCommittedAtomic = ManagedAtomic<Int64>(0)

    /// The page cache's counters.
    public var pageCacheStatistics: PageCacheCounters { cache.stats }
    /// Adjacency cache counters (hits, misses, evictions, invalidations, memory).
    public var adjacencyCacheStats: AdjacencyCacheCounters { stores.adjacency.stats }

    /// Transaction and checkpoint counters (server metrics).
    public let counters = KernelCounters()
    /// Delays the reuse of freed node and relationship ids past the transactions that may still hold them.
    let idReuse = IDReuseGate()

    /// The transaction log's counters (appends, syncs, rotations, checkpoints).
    public var transactionLogStatistics: TransactionLogStatistics { log.statistics }

    /// Records in use per store (`neo4j.ids_in_use.*`); relationship types are counted by their tokens.
    public var idsInUse: IDsInUse {
        IDsInUse(
            nodes: stores.nodes.idsInUse, relationships: stores.relationships.idsInUse,
            properties: stores.properties.idsInUse, relationshipTypes: Int64(stores.relationshipTypeTokens.count))
    }

    /// Begins a transaction. `timeout` (or the configured default) bounds its lifetime: any operation after the
    /// deadline throws `TransactionTimedOut`.
    public func beginTransaction(mode: TransactionMode = .write, timeout: Duration? = nil) throws -> KernelTransaction {
        try checkOpen()
        return KernelTransaction(database: self, mode: mode, timeout: timeout ?? configuration.defaultTransactionTimeout)
    }

    /// Runs `body` in a write transaction: commits when it returns, rolls back when it throws.
    public func write<T>(_ body: (KernelTransaction) throws -> T) throws -> T {
        let tx = try beginTransaction(mode: .write)
        do {
            let result = try body(tx)
            try tx.commit()
            return result
        } catch {
            if tx.isOpen { tx.rollback() }
            throw error
        }
    }

    /// Runs `body` in a read-only transaction: commits it when `body` returns (so metrics count it as a committed
    /// read, as Neo4j counts a successful read), rolls it back when `body` throws.
    public func read<T>(_ body: (KernelTransaction) throws -> T) throws -> T {
        let tx = try beginTransaction(mode: .read)
        do {
            let result = try body(tx)
            if tx.isOpen { _ = try tx.commit() }
            return result
        } catch {
            if tx.isOpen { tx.rollback() }
            throw error
        }
    }

    /// Flushes every dirty page and records the last applied transaction as checkpointed.
    public func checkpoint() throws {
        try checkOpen()
        try commitMutex.withLock { try checkpointLocked() }
    }

    /// Checkpoints and releases the store. Further use throws `DatabaseUnavailable`.
    public func close() throws {
        guard !closed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        checkpointTimer?.cancel()
        // Background index populations check `isClosed` under the exclusive store lock before every batch: once
        // this returns, none of them touches the files again.
        storeRW.withWriteLock {}
        try commitMutex.withLock {
            defer {
                try? log.close()
                stores.closeFiles()
                storeLock?.release()
                storeLock = nil
            }
            if panic == nil {
                // Let transactions still in the pipeline finish applying before the files go away.
                try waitUntilApplied(pending.lastWrittenTx(orAtLeast: appliedTxSnapshot()))
                try checkpointLocked()
            }
        }
    }

    deinit {
        if !closed.load(ordering: .acquiring) { try? close() }
    }

    /// Test support: forget this instance as if the process had died (no checkpoint, no further writes, the store
    /// lock is left for the simulated disk's `crash()` to drop).
    func abandonForCrashTest() {
        closed.store(true, ordering: .releasing)
        checkpointTimer?.cancel()
    }

    var isClosed: Bool { closed.load(ordering: .acquiring) }

    func checkOpen() throws {
        if closed.load(ordering: .acquiring) {
            throw DatabaseError(.databaseUnavailable, "The database at \(directory) has been shut down")
        }
    }

    /// Runs `body` with commits blocked and every committed transaction applied, flushed and checkpointed, so the
    /// store files on disk hold exactly the state at the tx id passed to `body` (store copies).
    func withCheckpointedStore<T>(_ body: (TxID) throws -> T) throws -> T {
        try checkOpen()
        return try commitMutex.withLock {
            if let panic { throw panic }
            try waitUntilApplied(pending.lastWrittenTx(orAtLeast: appliedTxSnapshot()))
            // Nothing committed since the last checkpoint: the files already are that state (a checkpoint would
            // only rewrite and fsync the same snapshot and id files, which is most of an idle store copy's pause).
            let applied = appliedTxSnapshot()
            let clean = storeRW.withReadLock {
                metadata.lastCheckpointedTx == applied && metadata.lastCommittedTx == applied
            }
            if !clean { try checkpointLocked() }
            return try body(TxID(applied))
        }
    }

    // MARK: Checkpoint

    private func checkpointLocked() throws {
        let startNanos = monotonicNanos()
        // A population failure whose own write of the failures file failed is made durable here at the latest.
        try storeRW.withWriteLock { try persistIndexFailuresIfChanged() }
        // Applies run without the commit mutex: read the applied state and flush under the store lock, so the
        // checkpoint names exactly what the flushed pages contain.
        var (meta, derived) = try storeRW.withReadLock {
            try cache.flushAll()
            return (metadata, derivedSnapshot().encode())
        }
        meta.lastCheckpointedTx = meta.lastCommittedTx
        // The derived-structures snapshot and id files first, then the metadata naming the checkpoint, then the
        // log's checkpoint record (which lets retention prune older log files): each step only claims what the
        // previous ones made durable. A snapshot newer than the recorded checkpoint is fine (recovery redoes the
        // log after whichever is older).
        try writeFileAtomically(fileSystem, directory + "/" + DerivedSnapshot.fileName, derived)
        configuration.afterDerivedSnapshotWritten?()
        for store in stores.stores { try store.saveIDs(stampTx: meta.lastCheckpointedTx) }
        try writeFileAtomically(fileSystem, directory + "/" + StoreMetadata.fileName, meta.encode())
        storeRW.withWriteLock { metadata.lastCheckpointedTx = meta.lastCheckpointedTx }
        try log.checkpoint(lastAppliedTxID: TxID(meta.lastCheckpointedTx))
        transactionsSinceCheckpoint.store(0, ordering: .relaxed)
        lastCheckpointNanos = monotonicNanos()
        counters.checkpointed(nanos: lastCheckpointNanos &- startNanos)
    }

    /// Checkpoints when `dbms.checkpoint.interval.tx` transactions or `dbms.checkpoint.interval.time` have passed
    /// since the last one (and something was committed since). Called after commits and by the checkpoint timer;
    /// must hold `commitMutex`.
    private func checkpointIfDue() {
        let since = transactionsSinceCheckpoint.load(ordering: .relaxed)
        guard since > 0 else { return }
        let dueByCount = Int64(since) >= configuration.log.checkpointIntervalTx
        let dueByTime = monotonicNanos() - lastCheckpointNanos >= Self.nanos(configuration.log.checkpointIntervalTime)
        if dueByCount || dueByTime {
            // A failed checkpoint is retried next time; the committed data is safe in the log.
            try? checkpointLocked()
        }
    }

    static func nanos(_ duration: Duration) -> UInt64 {
        let c = duration.components
        return UInt64(max(0, c.seconds)) * 1_000_000_000 + UInt64(max(0, c.attoseconds / 1_000_000_000))
    }

    /// Checks about once a second (or at the interval, if shorter) whether a time-based checkpoint is due, so an
    /// idle database still checkpoints what it committed.
    private func startCheckpointTimer() {
        let interval = Self.nanos(configuration.log.checkpointIntervalTime)
        guard interval > 0 else { return }
        let tick = Int(min(interval, 1_000_000_000))
        let timer = DispatchSource.makeTimerSource(queue: DispatchQueue.global(qos: .utility))
        timer.schedule(deadline: .now() + .nanoseconds(tick), repeating: .nanoseconds(tick))
        timer.setEventHandler { [weak self] in self?.timedCheckpoint() }
        timer.resume()
        checkpointTimer = timer
    }

    /// For a commit that leaves its checkpoint to others (`commit(checkpoint: false)`): the timer checks about once
    /// a second, but with `dbms.checkpoint.interval.time=0` there is no timer, so a checkpoint due by count is
    /// queued on a background thread instead (at most one at a time).
    private func checkpointInBackgroundIfDueByCount() {
        guard Self.nanos(configuration.log.checkpointIntervalTime) == 0,
            Int64(transactionsSinceCheckpoint.load(ordering: .relaxed)) >= configuration.log.checkpointIntervalTx,
            backgroundCheckpointQueued.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged
        else { return }
        DispatchQueue.global(qos: .utility).async { [weak self] in
            guard let self else { return }
            defer { self.backgroundCheckpointQueued.store(false, ordering: .releasing) }
            self.timedCheckpoint()
        }
    }

    private let backgroundCheckpointQueued = ManagedAtomic<Bool>(false)

    private func timedCheckpoint() {
        guard !closed.load(ordering: .acquiring) else { return }
        commitMutex.withLock {
            guard !closed.load(ordering: .acquiring), panic == nil else { return }
            checkpointIfDue()
        }
    }

    // MARK: Commit

    /// Commits a transaction's state. Called by `KernelTransaction.commit()` with the transaction's lock owner.
    ///
    /// Group commit: the commit mutex is held only while preparing and writing the log entry; the fsync wait is
    /// shared with every committer that wrote meanwhile; applies then happen one by one in tx-id order. Schema
    /// transactions run the whole pipeline under the mutex after the pending ones are applied, because their
    /// validation reads derived structures that pending transactions have not reached yet.
    ///
    /// Returns the transaction's id in the log, and the committed transaction when a commit hook is installed, for
    /// the caller to report once it has released the transaction's locks (`ReplicationHooks.committed`).
    /// `checkpoint`: false leaves a due checkpoint to the checkpoint timer (a caller that must not block,
    /// `KernelTransaction.avoidWaiting()`).
    @discardableResult
    func commit(_ state: TransactionState, owner: LockOwner, checkpoint: Bool = true) throws -> (txID: TxID, committed: CommittedTransaction?) {
        try checkOpen()
        commitMutex.lock()
        var mutexHeld = true
        defer { if mutexHeld { commitMutex.unlock() } }
        if let panic { throw panic }
        // HA: a member that may not write (a slave, a master without its lease) refuses before anything happens.
        try replicationHooks.checkGate()
        let schemaChange = state.hasSchemaChanges
        if schemaChange { try waitUntilApplied(pending.lastWrittenTx(orAtLeast: appliedTxSnapshot())) }
        let uniqueClaims = schemaChange ? [] : uniqueValueClaims(state)
        if !uniqueClaims.isEmpty { try waitForConflictingClaims(uniqueClaims) }
        let preparer = CommitPreparer(stores: stores, pending: pending, denseNodeThreshold: configuration.denseNodeThreshold)
        var tx = TransactionRepresentation()
        let header: TransactionHeader
        let payload: [UInt8]
        var knownCounts: CreatedRelationshipCounts?
        do {
            if schemaChange {
                tx.schema = try prepareSchema(state)
            } else {
                // Computed once: uniqueness validation and the log entry's node changes both walk them in order.
                let touched = state.touchedNodes
                let sortedTouched = touched.sorted()
                try storeRW.withReadLock {
                    try preparer.validate(state)
                    try validateUniqueness(state, touched: touched, inOrder: sortedTouched)
                    try preparer.apply(state)
                }
                tx.records = preparer.changes.afterImages()
                knownCounts = preparer.relationshipCounts.result
                tx.nodeChanges = nodeChanges(state, sortedTouched)
                tx.relationshipChanges = state.changedRelationshipIDs
            }
            payload = tx.serialize()
            header = try log.appendWithoutWaiting(
                payload: payload, masterServerID: commitServerID, epoch: commitEpoch)
        } catch {
            // Nothing reached the log: the transaction did not happen.
            preparer.changes.releaseAllocated()
            throw Self.clientError(error)
        }
        pending.add(header.txID.rawValue, tx.records)
        if !uniqueClaims.isEmpty { pendingUniqueClaims.append((header.txID.rawValue, uniqueClaims)) }
        if !schemaChange {
            commitMutex.unlock()
            mutexHeld = false
        }
        try finishCommit(tx, header, createdBatch: schemaChange ? nil : state.createdBatch, knownCounts: knownCounts)
        if mutexHeld {
            checkpointIfDue()
        } else if checkpoint {
            commitMutex.withLock { checkpointIfDue() }
        } else {
            checkpointInBackgroundIfDueByCount()
        }
        let committed =
            replicationHooks.wantsCommittedTransactions ? CommittedTransaction(header: header, payload: payload) : nil
        return (header.txID, committed)
    }

    private func appliedTxSnapshot() -> Int64 {
        applyTurn.lock()
        defer { applyTurn.unlock() }
        return appliedTx
    }

    /// Waits until every transaction up to `txID` is applied (or the database panicked).
    private func waitUntilApplied(_ txID: Int64) throws {
        applyTurn.lock()
        defer { applyTurn.unlock() }
        while appliedTx < txID {
            if let panic = _panic { throw panic }
            applyTurn.wait()
        }
    }

    /// Waits for the log to make `header` durable, then applies it when its turn comes.
    /// `createdBatch` is the committing transaction's batch of created nodes (local commits only): their derived
    /// structures are updated from it instead of from their records read back. `knownCounts` is the counts
    /// contribution of its created relationships, summed at commit (local commits only).
    private func finishCommit(
        _ tx: TransactionRepresentation, _ header: TransactionHeader, createdBatch: CreatedNodeBatch? = nil,
        knownCounts: CreatedRelationshipCounts? = nil
    ) throws {
        let txID = header.txID.rawValue
        do {
            try log.waitUntilDurable(header.txID)
        } catch {
            throw setPanic(
                "Transaction \(txID) was written to the log but could not be made durable (\(error)); restart the "
                    + "database to recover")
        }
        configuration.beforeApplyingCommit?(txID)
        try waitUntilApplied(txID - 1)
        do {
            try applyLocked(
                tx, txID: txID, external: false, checksum: header.checksum, timeMillis: header.commitTimestampMillis,
                createdBatch: createdBatch, knownCounts: knownCounts)
        } catch {
            throw setPanic(
                "Transaction \(txID) is durable in the log but applying it to the store failed (\(error)); the "
                    + "database accepts no more writes until it is restarted, when recovery re-applies it")
        }
        pending.remove(txID, tx.records)
        applyTurn.lock()
        appliedTx = txID
        applyTurn.broadcast()
        applyTurn.unlock()
    }

    /// Stops all further writes (and wakes everyone waiting for an apply turn) with `message`.
    @discardableResult
    func setPanic(_ message: String) -> DatabaseError {
        applyTurn.lock()
        defer { applyTurn.unlock() }
        if _panic == nil { _panic = DatabaseError(.transactionCommitFailed, message) }
        applyTurn.broadcast()
        return _panic!
    }

    /// One value a transaction sets under a uniqueness constraint: (label, key, hash of the value's index key).
    struct UniqueValueClaim: Comparable {
        var label: Int32
        var key: Int32
        var hash: Int

        static func < (a: Self, b: Self) -> Bool { (a.label, a.key, a.hash) < (b.label, b.key, b.hash) }
    }

    /// The values each transaction set under uniqueness constraints, for the transactions written to the log and
    /// not yet applied (their values are not in the indexes yet, so validation cannot see them). Sorted claims per
    /// transaction, in tx-id order; guarded by `commitMutex`, entries of applied transactions pruned lazily.
    private var pendingUniqueClaims: [(txID: Int64, claims: [UniqueValueClaim])] = []
    /// How many commits waited for a pending transaction's apply because it claimed one of their unique values.
    let uniqueClaimWaits = ManagedAtomic<Int>(0)

    /// The sorted claims of the values `state` sets under uniqueness constraints (repeats kept; harmless).
    private func uniqueValueClaims(_ state: TransactionState) -> [UniqueValueClaim] {
        let constraints = storeRW.withReadLock { schema.constraints }
        guard !constraints.isEmpty, !state.nodeProperties.isEmpty || !state.createdBatch.isEmpty else { return [] }
        var claims: [UniqueValueClaim] = []
        claims.reserveCapacity(state.nodeProperties.count + state.createdBatch.count)
        let batch = state.createdBatch
        if !batch.isEmpty {
            // Per label set, the constraints that apply to its nodes.
            let applying = batch.labelSets.map { labels in constraints.filter { labels.contains($0.label) } }
            for index in 0..<batch.count {
                for constraint in applying[Int(batch.labelSetOfNode[index])] {
                    guard let value = batch.value(at: index, key: constraint.propertyKey) else { continue }
                    claims.append(
                        UniqueValueClaim(
                            label: constraint.label, key: constraint.propertyKey, hash: IndexKey(value).hashValue))
                }
            }
        }
        for (node, props) in state.nodeProperties where !state.deletedNodes.contains(node) {
            // A node created here has its whole label set in the state, so a constraint on another label cannot
            // apply to it; for other nodes the committed labels are not at hand, so every constraint claims.
            let createdLabels = state.createdNodes.contains(node) ? state.nodeLabels[node] ?? [] : nil
            for constraint in constraints {
                guard let value = props[constraint.propertyKey], !value.isNull else { continue }
                if let createdLabels, !createdLabels.contains(constraint.label) { continue }
                claims.append(
                    UniqueValueClaim(label: constraint.label, key: constraint.propertyKey, hash: IndexKey(value).hashValue))
            }
        }
        claims.sort()
        return claims
    }

    /// Makes validation of `claims` see every value claimed before it: waits (holding `commitMutex`, as a schema
    /// change does) until each transaction written to the log with a claim on one of the same (label, key, value
    /// hash) triples is applied, so its values are in the index when this transaction validates. Two transactions
    /// claiming one value are serialized the way exclusive index-entry locks serialized them (the second validates
    /// after the first applied and fails with ConstraintValidationFailed), without a lock-manager round trip per
    /// value. Must hold `commitMutex`.
    private func waitForConflictingClaims(_ claims: [UniqueValueClaim]) throws {
        guard !pendingUniqueClaims.isEmpty else { return }
        let applied = appliedTxSnapshot()
        pendingUniqueClaims.removeAll { $0.txID <= applied }
        var waitFor: Int64 = 0
        for pending in pendingUniqueClaims where pending.txID > waitFor {
            if Self.intersect(pending.claims, claims) { waitFor = pending.txID }
        }
        if waitFor > 0 {
            uniqueClaimWaits.wrappingIncrement(ordering: .relaxed)
            try waitUntilApplied(waitFor)
        }
    }

    /// Whether two sorted claim arrays share an element.
    private static func intersect(_ a: [UniqueValueClaim], _ b: [UniqueValueClaim]) -> Bool {
        var i = 0, j = 0
        while i < a.count && j < b.count {
            if a[i] == b[j] { return true }
            if a[i] < b[j] { i += 1 } else { j += 1 }
        }
        return false
    }

    /// Store I/O errors become the client-visible `DatabaseError`; everything else already is one.
    static func clientError(_ error: Error) -> Error {
        if let io = error as? StorageIOError { return io.asDatabaseError }
        return error
    }

    private func nodeChanges(_ state: TransactionState, _ sortedTouched: [Int64])
        -> [TransactionRepresentation.NodeChange]
    {
        let batch = state.createdBatch
        guard !batch.isEmpty else { return tableNodeChanges(state, sortedTouched) }
        // A batch node is created with its label set (maybe empty, as `createNode(labels:)` records it) and has
        // properties when it has slots; the per-node tables hold other nodes only, so the two merge by id.
        let batchChanges = batch.indicesInIDOrder().map { index in
            var flags = TransactionRepresentation.NodeChange.created | TransactionRepresentation.NodeChange.labels
            if !batch.slots(at: index).isEmpty { flags |= TransactionRepresentation.NodeChange.properties }
            return TransactionRepresentation.NodeChange(id: batch.ids[index], flags: flags)
        }
        guard !sortedTouched.isEmpty else { return batchChanges }
        let tableChanges = tableNodeChanges(state, sortedTouched)
        var merged: [TransactionRepresentation.NodeChange] = []
        merged.reserveCapacity(batchChanges.count + tableChanges.count)
        var i = 0, j = 0
        while i < batchChanges.count || j < tableChanges.count {
            if j == tableChanges.count || (i < batchChanges.count && batchChanges[i].id < tableChanges[j].id) {
                merged.append(batchChanges[i])
                i += 1
            } else {
                merged.append(tableChanges[j])
                j += 1
            }
        }
        return merged
    }

    private func tableNodeChanges(_ state: TransactionState, _ sortedTouched: [Int64])
        -> [TransactionRepresentation.NodeChange]
    {
        sortedTouched.map { id in
            var flags: UInt8 = 0
            if state.createdNodes.contains(id) { flags |= TransactionRepresentation.NodeChange.created }
            if state.deletedNodes.contains(id) { flags |= TransactionRepresentation.NodeChange.deleted }
            if state.nodeLabels[id] != nil { flags |= TransactionRepresentation.NodeChange.labels }
            if state.nodeProperties[id] != nil { flags |= TransactionRepresentation.NodeChange.properties }
            return TransactionRepresentation.NodeChange(id: id, flags: flags)
        }
    }

    // MARK: Apply

    /// Applies a committed transaction to the stores and derived structures, in tx-id order (`finishCommit`).
    /// With `updateDerived` false (recovery) only the records, tokens and schema rules change.
    ///
    /// `createdBatch` (a local commit's column-wise created nodes, whose log entry lists them as created) lets the
    /// derived structures of those nodes come from the batch: such a node had no record before, and its labels and
    /// indexed values are the batch's, so neither its record nor its property chain is read back. Recovery and
    /// replication have no batch and read every affected node's records, which hold the same facts.
    ///
    /// `knownCounts` (a local commit's created relationships, `CreatedRelationshipCounts`) replaces reading each
    /// created relationship and both its end nodes back for the counts; recovery and replication count from the
    /// records, with the same result.
    func applyLocked(
        _ tx: TransactionRepresentation, txID: Int64, external: Bool, checksum: UInt64? = nil, timeMillis: Int64? = nil,
        updateDerived: Bool = true, createdBatch: CreatedNodeBatch? = nil, knownCounts: CreatedRelationshipCounts? = nil
    ) throws {
        try storeRW.withWriteLock {
            guard updateDerived else {
                let freed = try applyRecords(tx, external: external)
                releaseFreed(freed)
                if let newSchema = tx.schema {
                    setSchema(newSchema)
                    try writeFileAtomically(fileSystem, directory + "/" + SchemaRules.fileName, newSchema.serialize())
                }
                metadata.lastCommittedTx = txID
                metadata.lastCommittedTimeMillis = timeMillis ?? currentTimeMillis()
                if let checksum { metadata.lastCommittedChecksum = Int64(bitPattern: checksum) }
                lastCommittedAtomic.store(txID, ordering: .releasing)
                transactionsSinceCheckpoint.wrappingIncrement(ordering: .relaxed)
                return
            }
            // Derived-structure "before" state, read before any record changes.
            let batch = createdBatch ?? CreatedNodeBatch()
            let affectedNodes = batch.isEmpty ? tx.nodeChanges.map(\.id) : Self.nodesOutside(batch, tx.nodeChanges)
            var before: [Int64: (labels: [Int32], record: NodeRecord)] = [:]
            before.reserveCapacity(affectedNodes.count)
            for id in affectedNodes {
                let record = try stores.node(id)
                if record.inUse { before[id] = (try stores.labels(of: record), record) }
            }
            // Relationships whose counts contribution may change, read before and after the records change; the
            // created ones whose contribution the commit already summed (`knownCounts`) are left out.
            var sortedRelIDs = Self.sortedDifference(tx.relationshipChanges, knownCounts?.created ?? [])
            var relIDs: Set<Int64>?
            for change in tx.nodeChanges where change.flags & TransactionRepresentation.NodeChange.labels != 0 {
                if before[change.id] != nil {
                    var rels: [RelationshipInfo] = []
                    try stores.collectRelationships(of: change.id, direction: .both, types: [], into: &rels)
                    if relIDs == nil { relIDs = Set(sortedRelIDs) }
                    for rel in rels { relIDs!.insert(rel.id.rawValue) }
                }
            }
            if let relIDs { sortedRelIDs = relIDs.sorted() }
            for id in sortedRelIDs { try relationshipCounts(id, sign: -1) }
            for id in affectedNodes {
                guard let (labels, record) = before[id] else { continue }
                CountsContribution.node(labels: labels, sign: -1, into: &counts)
                for label in labels {
                    labelScan.remove(label, id)
                    for index in indexes.values where index.descriptor.label == label {
                        let value = try stores.property(from: record.nextProp, key: index.descriptor.propertyKey)
                        if !value.isNull { index.remove(value, id) }
                    }
                }
            }

            // The records themselves.
            let freed = try applyRecords(tx, external: external)

            if let newSchema = tx.schema { try applySchema(newSchema) }

            // Derived-structure "after" state.
            for id in affectedNodes {
                let record = try stores.node(id)
                guard record.inUse else { continue }
                let labels = try stores.labels(of: record)
                CountsContribution.node(labels: labels, sign: 1, into: &counts)
                for label in labels {
                    labelScan.add(label, id)
                    for index in indexes.values where index.descriptor.label == label {
                        let value = try stores.property(from: record.nextProp, key: index.descriptor.propertyKey)
                        if !value.isNull { index.add(value, id) }
                    }
                }
            }
            if !batch.isEmpty { addCreatedBatchToDerived(batch) }
            for id in sortedRelIDs { try relationshipCounts(id, sign: 1) }
            if let knownCounts { for (key, delta) in knownCounts.delta { counts[key, default: 0] += delta } }

            releaseFreed(freed)
            metadata.lastCommittedTx = txID
            metadata.lastCommittedTimeMillis = timeMillis ?? currentTimeMillis()
            if let checksum { metadata.lastCommittedChecksum = Int64(bitPattern: checksum) }
            lastCommittedAtomic.store(txID, ordering: .releasing)
            transactionsSinceCheckpoint.wrappingIncrement(ordering: .relaxed)
        }
    }

    /// The ids of `changes` (in id order) that are not nodes of `batch`.
    private static func nodesOutside(_ batch: CreatedNodeBatch, _ changes: [TransactionRepresentation.NodeChange])
        -> [Int64]
    {
        var out: [Int64] = []
        out.reserveCapacity(max(0, changes.count - batch.count))
        let order = batch.indicesInIDOrder()
        var next = 0
        for change in changes {
            while next < order.count && batch.ids[order[next]] < change.id { next += 1 }
            if next < order.count && batch.ids[order[next]] == change.id { continue }
            out.append(change.id)
        }
        precondition(
            changes.count - out.count == batch.count,
            "log entry lists \(changes.count - out.count) of the batch's \(batch.count) created nodes")
        return out
    }

    /// Counts, label scan and index entries of the batch's created nodes (the derived "after" state that would
    /// otherwise be read back from their records). Counts are added once per label set.
    private func addCreatedBatchToDerived(_ batch: CreatedNodeBatch) {
        var nodesPerSet = [Int](repeating: 0, count: batch.labelSets.count)
        for set in batch.labelSetOfNode { nodesPerSet[Int(set)] += 1 }
        counts[.node(CountsKey.any), default: 0] += batch.count
        for (set, labels) in batch.labelSets.enumerated() where nodesPerSet[set] > 0 {
            for label in labels { counts[.node(label), default: 0] += nodesPerSet[set] }
        }
        // Per label set, the (index, property key) pairs its nodes enter: the same indexes the record path uses.
        let indexesOfSet = batch.labelSets.map { labels in
            indexes.values.filter { labels.contains($0.descriptor.label) }.map { ($0, $0.descriptor.propertyKey) }
        }
        for index in 0..<batch.count {
            let id = batch.ids[index]
            let set = Int(batch.labelSetOfNode[index])
            for label in batch.labelSets[set] { labelScan.add(label, id) }
            for (propertyIndex, key) in indexesOfSet[set] {
                if let value = batch.value(at: index, key: key) { propertyIndex.add(value, id) }
            }
        }
    }

    /// Hands a commit's freed ids back for reuse, holding node and relationship ids back while an older transaction
    /// is open (`IDReuseGate`).
    private func releaseFreed(_ freed: [StoreKind: [Int64]]) {
        for (kind, ids) in idReuse.freed(freed) { stores.store(kind).release(ids) }
    }

    /// A transaction that began at reuse generation `start` closed: ids it could still have held become reusable.
    func transactionClosed(reuseGeneration start: UInt64) {
        for (kind, ids) in idReuse.closed(start) { stores.store(kind).release(ids) }
    }

    /// Writes a transaction's record after-images and refreshes the tokens it created; returns the ids it freed
    /// (released by the caller once the derived structures no longer need the old records).
    private func applyRecords(_ tx: TransactionRepresentation, external: Bool) throws -> [StoreKind: [Int64]] {
        var freed: [StoreKind: [Int64]] = [:]
        var tokenRecords: [(StoreKind, Int64)] = []
        // Nodes whose cached adjacency this transaction changes: dropped before the store lock is released, i.e.
        // before any reader can see the new records (AdjacencyCache, "Exactness").
        var adjacencyChanged: [Int64] = []
        let trackAdjacency = stores.adjacency.isEnabled
        // Also when a record write throws half-way: the records already written must not be shadowed by old entries.
        defer { if !adjacencyChanged.isEmpty { stores.adjacency.invalidate(adjacencyChanged) } }
        for command in tx.records {
            let store = stores.store(command.kind)
            let wasInUse: Bool
            if trackAdjacency {
                wasInUse = try adjacencyChanges(command, store, into: &adjacencyChanged)
            } else {
                wasInUse = try store.isInUse(command.id)
            }
            try store.writeRaw(command.id, command.after)
            if command.afterInUse {
                if external || command.id >= store.highID { store.markUsed(command.id) }
            } else if wasInUse {
                freed[command.kind, default: []].append(command.id)
            }
            switch command.kind {
            case .labelToken, .relationshipTypeToken, .propertyKeyToken: tokenRecords.append((command.kind, command.id))
            default: break
            }
        }
        for (kind, id) in tokenRecords { try refreshToken(kind, id) }
        return freed
    }

    /// Whether the record `command` overwrites is in use, appending to `nodes` every node whose adjacency entry the
    /// change makes stale: both ends of a relationship that appears, disappears or changes type or ends; a node
    /// whose relationship head or dense flag changes (the walk order changes); the owner of a relationship group.
    /// Pointer updates inside a neighbour's chain (prev/next) change nothing a node's entry holds.
    private func adjacencyChanges(
        _ command: RecordCommand, _ store: RecordStore, into nodes: inout [Int64]
    ) throws -> Bool {
        precondition(
            command.after.count == store.recordSize,
            "\(command.kind.recordName) after-image of \(command.after.count) bytes")
        switch command.kind {
        case .relationship:
            let old = try store.withRecord(command.id) { p in (p.byte(0) & 1 != 0, p.int32(1), p.int64(5), p.int64(13)) }
            let new = command.after.withUnsafeBytes { b -> (Bool, Int32, Int64, Int64) in
                let p = UnsafeMutableRawPointer(mutating: b.baseAddress!)
                return (p.byte(0) & 1 != 0, p.int32(1), p.int64(5), p.int64(13))
            }
            if old.0 != new.0 || old.1 != new.1 || old.2 != new.2 || old.3 != new.3 {
                if old.0 { nodes.append(old.2); nodes.append(old.3) }
                if new.0 { nodes.append(new.2); nodes.append(new.3) }
            }
            return old.0
        case .node:
            let old = try store.withRecord(command.id) { p in (p.byte(0), p.int64(1)) }
            let new = command.after.withUnsafeBytes { b -> (UInt8, Int64) in
                let p = UnsafeMutableRawPointer(mutating: b.baseAddress!)
                return (p.byte(0), p.int64(1))
            }
            if old.0 & 3 != new.0 & 3 || old.1 != new.1 { nodes.append(command.id) }
            return old.0 & 1 != 0
        case .relationshipGroup:
            let old = try store.withRecord(command.id) { p in (p.byte(0) & 1 != 0, p.int64(37)) }
            if old.0 { nodes.append(old.1) }
            if command.afterInUse {
                nodes.append(command.after.withUnsafeBytes { UnsafeMutableRawPointer(mutating: $0.baseAddress!).int64(37) })
            }
            return old.0
        default:
            return try store.isInUse(command.id)
        }
    }

    /// The elements of `all` not in `removed`; both sorted ascending.
    static func sortedDifference(_ all: [Int64], _ removed: [Int64]) -> [Int64] {
        guard !removed.isEmpty else { return all }
        var out: [Int64] = []
        out.reserveCapacity(max(0, all.count - removed.count))
        var j = 0
        for id in all {
            while j < removed.count && removed[j] < id { j += 1 }
            if j < removed.count && removed[j] == id { continue }
            out.append(id)
        }
        return out
    }

    private func relationshipCounts(_ id: Int64, sign: Int) throws {
        guard try stores.relationshipInUse(id) else { return }
        let rel = try stores.relationship(id)
        let startLabels = try stores.labels(of: try stores.node(rel.startNode))
        let endLabels = try stores.labels(of: try stores.node(rel.endNode))
        CountsContribution.relationship(
            type: rel.type, startLabels: startLabels, endLabels: endLabels, sign: sign, into: &counts)
    }

    private func refreshToken(_ kind: StoreKind, _ id: Int64) throws {
        let tokenKind: TokenKind
        let nameKind: StoreKind
        switch kind {
        case .labelToken: (tokenKind, nameKind) = (.label, .labelTokenName)
        case .relationshipTypeToken: (tokenKind, nameKind) = (.relationshipType, .relationshipTypeTokenName)
        default: (tokenKind, nameKind) = (.propertyKey, .propertyKeyTokenName)
        }
        let record = try stores.store(kind).withRecord(id) { TokenRecord(from: $0) }
        guard record.inUse else { return }
        let name = String(decoding: try stores.readDynamicChain(nameKind, record.nameRecord), as: UTF8.self)
        stores.tokens(tokenKind).put(Int32(id), name)
    }

    // MARK: Tokens

    /// Creates a token in its own committed transaction (as Neo4j does), or returns the existing one. The whole
    /// pipeline runs under the commit mutex so that no one else can create the same name meanwhile.
    func getOrCreateToken(_ kind: TokenKind, _ name: String) throws -> Int32 {
        if let id = stores.tokens(kind).id(of: name) { return id }
        try checkOpen()
        var committed: CommittedTransaction?
        let token: Int32 = try commitMutex.withLock {
            if let panic { throw panic }
            if let id = stores.tokens(kind).id(of: name) { return id }
            try replicationHooks.checkGate()
            let (tokenKind, nameKind) = NeoStores.tokenKinds(kind)
            let changes = RecordChanges(stores: stores, pending: pending)
            let id = changes.allocate(tokenKind)
            precondition(id <= Int64(Int32.max), "token id space exhausted")
            var record = TokenRecord()
            record.inUse = true
            record.nameRecord = changes.writeDynamicChain(nameKind, Array(name.utf8))
            changes.setToken(tokenKind, id, record)
            var tx = TransactionRepresentation()
            tx.records = changes.afterImages()
            let header: TransactionHeader
            let payload = tx.serialize()
            do {
                header = try log.appendWithoutWaiting(
                    payload: payload, masterServerID: commitServerID, epoch: commitEpoch)
            } catch {
                changes.releaseAllocated()
                throw Self.clientError(error)
            }
            pending.add(header.txID.rawValue, tx.records)
            try finishCommit(tx, header)
            if replicationHooks.wantsCommittedTransactions {
                committed = CommittedTransaction(header: header, payload: payload)
            }
            return Int32(id)
        }
        // Outside the commit mutex: the hook may wait for slaves.
        try replicationHooks.committed(committed)
        return token
    }

    /// Applies consecutive transactions committed elsewhere with one log sync for the whole batch. Those appended
    /// before a refused one (gap, broken chain) are made durable and applied, then the refusal is thrown. Must hold
    /// `commitMutex`.
    func applyReplicatedBatchLocked(_ transactions: [CommittedTransaction]) throws {
        if let panic { throw panic }
        guard !transactions.isEmpty else { return }
        try waitUntilApplied(pending.lastWrittenTx(orAtLeast: appliedTxSnapshot()))
        let base = appliedTxSnapshot()
        var written: [(TransactionRepresentation, CommittedTransaction)] = []
        var refusal: Error?
        for transaction in transactions {
            do {
                let expected = base + Int64(written.count) + 1
                guard transaction.header.txID.rawValue == expected else {
                    throw TransactionLogError.gap(expected: TxID(expected), received: transaction.header.txID)
                }
                // Checksum before decoding: damage in transit is a refusal, not a decoding error.
                guard transaction.hasValidChecksum else {
                    throw TransactionLogError.checksumMismatch(txID: transaction.header.txID)
                }
                let tx = try TransactionRepresentation.deserialize(transaction.payload)
                try log.appendReplicatedWithoutWaiting(transaction)
                written.append((tx, transaction))
            } catch {
                refusal = error
                break
            }
        }
        if let last = written.last?.1.header.txID {
            do {
                try log.waitUntilDurable(last)
            } catch {
                throw setPanic(
                    "Replicated transactions up to \(last) were written to the log but could not be made durable "
                        + "(\(error)); restart the database to recover")
            }
            for (tx, transaction) in written {
                let txID = transaction.header.txID.rawValue
                do {
                    try applyLocked(
                        tx, txID: txID, external: true, checksum: transaction.header.checksum,
                        timeMillis: transaction.header.commitTimestampMillis)
                } catch {
                    throw setPanic(
                        "Replicated \(transaction.header.txID) is durable in the log but applying it failed (\(error)); "
                            + "restart to recover")
                }
                applyTurn.lock()
                appliedTx = txID
                applyTurn.broadcast()
                applyTurn.unlock()
            }
        }
        if let refusal { throw refusal }
    }

    /// Applies a transaction committed elsewhere after everything local is applied. Must hold `commitMutex`.
    func applyReplicatedLocked(_ transaction: CommittedTransaction) throws {
        if let panic { throw panic }
        try waitUntilApplied(pending.lastWrittenTx(orAtLeast: appliedTxSnapshot()))
        let tx = try TransactionRepresentation.deserialize(transaction.payload)
        let txID = transaction.header.txID.rawValue
        guard txID == appliedTxSnapshot() + 1 else {
            throw TransactionLogError.gap(expected: TxID(appliedTxSnapshot() + 1), received: transaction.header.txID)
        }
        try log.appendReplicated(transaction)
        do {
            try applyLocked(
                tx, txID: txID, external: true, checksum: transaction.header.checksum,
                timeMillis: transaction.header.commitTimestampMillis)
        } catch {
            throw setPanic(
                "Replicated \(transaction.header.txID) is durable in the log but applying it failed (\(error)); "
                    + "restart to recover")
        }
        applyTurn.lock()
        appliedTx = txID
        applyTurn.broadcast()
        applyTurn.unlock()
    }
}
