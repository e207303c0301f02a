#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Logging

/// Settings of an embedded database (the server maps neo4j.conf settings onto these).
public struct KernelConfiguration: Sendable {
    /// `dbms.memory.pagecache.size`. When nil: 50% of (physical RAM − `otherMemoryBytes`), as Neo4j computes its
    /// default from RAM minus the max heap, clamped to at least 32 MiB.
    public var pageCacheSizeBytes: Int?
    /// Memory assumed to be used by everything but the page cache (Neo4j: the max heap) for the default above.
    public var otherMemoryBytes: Int = 1 << 30
    /// `trellis.memory.adjacency_cache.size`: memory for the adjacency cache, the committed relationships of
    /// recently expanded nodes as packed arrays (docs/storage.md, "Adjacency cache"). 0 disables it.
    public var adjacencyCacheSizeBytes: Int = 512 << 20
    /// `dbms.relationship_grouping_threshold`: degree at which a node switches to relationship groups.
    public var denseNodeThreshold: Int = 50
    /// Transaction log rotation, retention and the checkpoint intervals (`dbms.tx_log.*`, `dbms.checkpoint.*`).
    public var log: LogConfiguration = .default
    /// Disk access for the transaction log (nil = the real file system). A `SimulatedFileSystem` serves both.
    public var logFileSystem: LogFileSystem?
    /// `dbms.checkpoint.interval.tx` (the same value as `log.checkpointIntervalTx`).
    public var checkpointIntervalTransactions: Int {
        get { Int(log.checkpointIntervalTx) }
        set { log.checkpointIntervalTx = Int64(newValue) }
    }
    /// `dbms.checkpoint.interval.time` (the same value as `log.checkpointIntervalTime`).
    public var checkpointInterval: Duration {
        get { log.checkpointIntervalTime }
        set { log.checkpointIntervalTime = newValue }
    }
    /// `ha.server_id` written into locally committed transactions (the cluster sets it; 1 when standalone).
    public var serverID: Int32 = 1
    /// Time-out applied to transactions begun without an explicit one (`dbms.transaction.timeout`; nil = none).
    public var defaultTransactionTimeout: Duration?
    /// `dbms.lock.acquisition.timeout`: how long a lock wait may last (nil = until granted, deadlock or time-out).
    public var lockAcquisitionTimeout: Duration?
    /// Disk access for the record stores (nil = the real file system). Tests pass a `SimulatedFileSystem`.
    public var fileSystem: StorageFileSystem?
    /// A new index on a label with at most this many nodes is populated inside the commit that creates it (ONLINE
    /// when the commit returns); a larger one is populated in the background and is POPULATING, with its progress,
    /// until then. Indexes backing uniqueness constraints are always populated inside the commit: the constraint
    /// holds from that commit on.
    public var indexPopulationInlineLimit = 10_000
    /// Nodes a background population indexes per step; each step holds the store lock exclusively, so commits and
    /// reads go on between steps.
    public var indexPopulationBatchSize = 2_048
    /// Test support: called by a background index population (with the index name and the nodes done so far)
    /// before each step, without any lock held.
    public var beforeIndexPopulationStep: (@Sendable (String, Int) -> Void)?
    /// Where the kernel reports what operators should know (recovery, rebuilt structures).
    public var logger = Logger(label: "trellis.kernel")
    /// Test support for kill -9 tests: called during a checkpoint after the derived-structures snapshot is durable
    /// and before the checkpoint itself is recorded.
    public var afterDerivedSnapshotWritten: (@Sendable () -> Void)?
    /// Test support: called by a local commit, with its tx id, once its log entry is durable and before it waits
    /// for its turn to apply (no lock held), so a test can hold a written transaction unapplied.
    public var beforeApplyingCommit: (@Sendable (Int64) -> Void)?

    public init(pageCacheSizeBytes: Int? = nil) {
        self.pageCacheSizeBytes = pageCacheSizeBytes
    }

    /// Record stores and transaction log both on `fileSystem` (tests: one simulated disk for everything).
    public init(pageCacheSizeBytes: Int? = nil, fileSystem: SimulatedFileSystem) {
        self.pageCacheSizeBytes = pageCacheSizeBytes
        self.fileSystem = fileSystem
        self.logFileSystem = fileSystem
    }

    /// The page cache budget this configuration results in on this machine.
    public var effectivePageCacheSizeBytes: Int {
        if let size = pageCacheSizeBytes { return size }
        let pages = sysconf(Int32(_SC_PHYS_PAGES))
        let pageSize = sysconf(Int32(_SC_PAGESIZE))
        guard pages > 0, pageSize > 0 else { return 2 << 30 }  // Neo4j: 2 GiB when RAM is unknown
        let physical = pages * pageSize
        return max(32 << 20, (physical - otherMemoryBytes) / 2)
    }
}
